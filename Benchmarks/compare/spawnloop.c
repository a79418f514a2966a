// spawnloop: the floor every scenario is compared with — a plain C
// posix_spawn + waitpid loop, no supervision, no records.
//
//   spawnloop N P PROG [ARG...]    run PROG N times, P at a time; wait for all.
//                                  Prints the elapsed nanoseconds.
//   spawnloop -s N PROG [ARG...]   start N copies at once without waiting
//                                  (sleepers); then wait for SIGTERM, SIGKILL
//                                  every child, reap them all and exit.
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    int sleepers = argc > 1 && strcmp(argv[1], "-s") == 0;
    if (sleepers ? argc < 4 : argc < 4) {
        fprintf(stderr, "usage: spawnloop N P PROG [ARG...] | spawnloop -s N PROG [ARG...]\n");
        return 2;
    }
    // Children start with every signal at its default and an empty mask.
    sigset_t term, empty;
    sigemptyset(&empty);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL); // only sigwait() below receives it
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &term);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    if (sleepers) {
        int total = atoi(argv[2]);
        char **child_argv = argv + 3;
        pid_t *pids = calloc((size_t)total, sizeof *pids);
        int started = 0;
        for (; started < total; started++) {
            int r = posix_spawn(&pids[started], child_argv[0], NULL, &attr, child_argv, environ);
            if (r != 0) { fprintf(stderr, "spawnloop: posix_spawn: %s\n", strerror(r)); break; }
        }
        int sig;
        sigwait(&term, &sig);
        for (int i = 0; i < started; i++) kill(pids[i], SIGKILL);
        for (int i = 0; i < started; i++) while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
        return started == total ? 0 : 1;
    }

    int total = atoi(argv[1]), parallel = atoi(argv[2]);
    char **child_argv = argv + 3;
    long long begin = now_ns();
    int started = 0, running = 0;
    while (started < total || running > 0) {
        while (running < parallel && started < total) {
            pid_t pid;
            int r = posix_spawn(&pid, child_argv[0], NULL, &attr, child_argv, environ);
            if (r != 0) { fprintf(stderr, "spawnloop: posix_spawn: %s\n", strerror(r)); return 1; }
            started++;
            running++;
        }
        if (waitpid(-1, NULL, 0) < 0) {
            if (errno == EINTR) continue;
            perror("spawnloop: waitpid");
            return 1;
        }
        running--;
    }
    printf("%lld\n", now_ns() - begin);
    return 0;
}
