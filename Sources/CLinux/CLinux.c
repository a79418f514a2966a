#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int clinux_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int clinux_pipe_cloexec(int fds[2], int nonblock) {
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

int clinux_pidfd_open(pid_t pid) {
    // glibc 2.36 has no wrapper in every build; the raw syscall is stable ABI.
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int clinux_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int clinux_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int clinux_boot_id(char out[33]) {
    // /proc/sys/kernel/random/boot_id is "xxxxxxxx-xxxx-…" (36 chars); keep the hex.
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[64];
    ssize_t n;
    do { n = read(fd, buf, sizeof buf); } while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 36) { errno = n < 0 ? saved : EIO; return -1; }
    int j = 0;
    for (int i = 0; i < n && j < 32; i++) {
        char c = buf[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) out[j++] = c;
    }
    out[j] = 0;
    if (j != 32) { errno = EIO; return -1; }
    return 0;
}
