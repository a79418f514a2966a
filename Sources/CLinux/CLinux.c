// _GNU_SOURCE comes from the target's cSettings (Package.swift), so every
// declaration below sees the same feature set.
#include "CLinux.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <unistd.h>

// The spool watcher decodes inotify records by hand; these are the facts it relies on.
_Static_assert(offsetof(struct inotify_event, wd) == 0, "inotify_event.wd");
_Static_assert(offsetof(struct inotify_event, mask) == 4, "inotify_event.mask");
_Static_assert(offsetof(struct inotify_event, cookie) == 8, "inotify_event.cookie");
_Static_assert(offsetof(struct inotify_event, len) == 12, "inotify_event.len");
_Static_assert(offsetof(struct inotify_event, name) == CLINUX_INOTIFY_EVENT_HEADER, "inotify_event.name");
_Static_assert(sizeof(struct inotify_event) == CLINUX_INOTIFY_EVENT_HEADER, "inotify_event size");

// MARK: Files and descriptors

int clinux_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int clinux_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

int clinux_syncfs(int fd) { return syncfs(fd); }

int clinux_pipe_cloexec(int fds[2], int nonblock) {
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

int clinux_o_path(void) {
    return O_PATH;
}

int clinux_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

// MARK: epoll

int clinux_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int clinux_epoll_add(int epfd, int fd, uint64_t token) {
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int clinux_epoll_del(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int clinux_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

// MARK: Process and threads

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

int clinux_name_this_thread(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    return pthread_setname_np(pthread_self(), short_name);
}

// MARK: Signals

#define MAX_SIGNAL 65

// Lock-free atomics are async-signal-safe; the handler touches nothing else.
static atomic_int wake_fd = -1;
static int wake_read_fd = -1;
static atomic_int pending[MAX_SIGNAL];
static int installed[MAX_SIGNAL];
static struct sigaction saved[MAX_SIGNAL];
static int installed_any = 0;

static void forward(int signo) {
    int saved_errno = errno;
    if (signo > 0 && signo < MAX_SIGNAL) atomic_store(&pending[signo], 1);
    int fd = atomic_load(&wake_fd);
    if (fd >= 0) {
        unsigned char byte = (unsigned char)signo;
        // Non-blocking: if the pipe is full a wake-up is already pending.
        ssize_t ignored = write(fd, &byte, 1);
        (void)ignored;
    }
    errno = saved_errno;
}

int clinux_signals_forward(const int *signals, int count) {
    if (installed_any) { errno = EBUSY; return -1; }
    for (int i = 0; i < count; i++) {
        if (signals[i] <= 0 || signals[i] >= MAX_SIGNAL) { errno = EINVAL; return -1; }
    }
    if (wake_read_fd < 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
        wake_read_fd = fds[0];
        atomic_store(&wake_fd, fds[1]);
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: other threads' blocking calls are not cut short by our signals.
    action.sa_flags = SA_RESTART;
    for (int i = 0; i < count; i++) {
        int signo = signals[i];
        if (installed[signo]) continue;
        atomic_store(&pending[signo], 0);
        if (sigaction(signo, &action, &saved[signo]) != 0) {
            int saved_errno = errno;
            installed_any = 1;
            clinux_signals_restore();
            errno = saved_errno;
            return -1;
        }
        installed[signo] = 1;
        installed_any = 1;
    }
    return wake_read_fd;
}

int clinux_signals_restore(void) {
    int result = 0;
    for (int signo = 1; signo < MAX_SIGNAL; signo++) {
        if (!installed[signo]) continue;
        if (sigaction(signo, &saved[signo], NULL) != 0) result = -1;
        installed[signo] = 0;
    }
    installed_any = 0;
    return result;
}

int clinux_signals_take(int signo) {
    if (signo <= 0 || signo >= MAX_SIGNAL) return 0;
    return atomic_exchange(&pending[signo], 0);
}

static void do_nothing(int signo) { (void)signo; }

int clinux_sigpipe_harmless(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = do_nothing;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(SIGPIPE, &action, NULL);
}

int clinux_is_cgroup2(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) < 0) return -1;
    return fs.f_type == CGROUP2_SUPER_MAGIC ? 1 : 0;
}

int clinux_open_for_writing(int fd) {
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        (void)fcntl(fd, F_SETLEASE, F_UNLCK);
        return 0;
    }
    return errno == EAGAIN ? 1 : -1;
}
