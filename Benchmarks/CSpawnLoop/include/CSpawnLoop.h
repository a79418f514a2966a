#ifndef GATHER_CSPAWNLOOP_H
#define GATHER_CSPAWNLOOP_H
// The yardstick for spawn-bench: plain C posix_spawn + wait, `parallel`
// children in flight, `total` in all. Returns the wall time in nanoseconds,
// or -1 on error (errno set).
long long cspawnloop_run(const char *path, int total, int parallel);
#endif
