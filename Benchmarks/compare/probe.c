// probe: the task programs of compare-bench, built with `cc -O2 -static` so
// that nothing (no dynamic loader) runs before main().
//
//   probe stamp FILE       write CLOCK_MONOTONIC ns to FILE at once, exit 0
//   probe term FILE        wait; on SIGTERM write CLOCK_MONOTONIC ns to FILE, exit 0
//   probe fail MS FILE     sleep MS ms, write CLOCK_MONOTONIC ns to FILE, exit 1
//   probe sleep FIFO       write one byte to FIFO (it is running), then pause
//                          until a signal ends it
//
// Every process that reads these stamps uses the same clock (CLOCK_MONOTONIC;
// Python's time.monotonic_ns() is CLOCK_MONOTONIC on Linux).
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *stamp_path;

// Async-signal-safe: clock_gettime, open, write, close only.
static void stamp(const char *path) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
    char buf[32];
    int i = sizeof buf;
    buf[--i] = '\n';
    do { buf[--i] = (char)('0' + ns % 10); ns /= 10; } while (ns);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) _exit(3);
    if (write(fd, buf + i, sizeof buf - i) < 0) _exit(3);
    close(fd);
}

static void on_term(int sig) {
    (void)sig;
    stamp(stamp_path);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc == 3 && argv[1][0] == 's' && argv[1][1] == 't') { // stamp: first, before anything else
        stamp(argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "term") == 0) {
        stamp_path = argv[2];
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        for (;;) pause();
    }
    if (argc == 4 && strcmp(argv[1], "fail") == 0) {
        long ms = atol(argv[2]);
        struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&d, &d) != 0) {}
        stamp(argv[3]);
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
        int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
        if (fd < 0) return 3;
        if (write(fd, "x", 1) != 1) return 3;
        close(fd);
        for (;;) pause();
    }
    return 2;
}
