#ifndef GATHER_CSPAWN_H
#define GATHER_CSPAWN_H
// The child side of the process launcher (fork … exec) lives here: between
// fork and exec only async-signal-safe C may run, never Swift.
// (Filled in by the process launcher work.)
int cspawn_placeholder(void);
#endif
