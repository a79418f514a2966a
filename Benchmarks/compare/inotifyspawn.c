// inotifyspawn: the pickup floor — watch DIR for files renamed into it and,
// for each, posix_spawn `PROBE stamp OUTDIR/NAME` and wait for it. No claim,
// no sync, no record: what any watcher must at least do. Runs until SIGTERM.
//
//   inotifyspawn DIR PROBE OUTDIR
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: inotifyspawn DIR PROBE OUTDIR\n"); return 2; }
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, argv[1], IN_MOVED_TO) < 0) { perror("inotifyspawn"); return 1; }
    printf("ready\n");
    fflush(stdout);
    char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return n == 0 ? 0 : 1;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (!ev->len) continue;
            char out[PATH_MAX];
            snprintf(out, sizeof out, "%s/%s", argv[3], ev->name);
            char *child_argv[] = { argv[2], "stamp", out, NULL };
            pid_t pid;
            if (posix_spawn(&pid, argv[2], NULL, NULL, child_argv, environ) == 0) waitpid(pid, NULL, 0);
        }
    }
}
