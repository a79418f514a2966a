#ifndef GATHER_CLINUX_H
#define GATHER_CLINUX_H

// Linux calls Swift cannot reach through its Glibc module. That module is
// built without _GNU_SOURCE, so GNU-only declarations (renameat2, pipe2,
// pthread_setname_np) are missing; <sys/epoll.h>, <sys/eventfd.h> and
// <sys/prctl.h> are not exported at all; and a signal handler cannot be
// written in Swift. Each wrapper returns -1 and sets errno like the call it
// wraps; GatherSystem is the only Swift target that calls them directly
// (except the event sources' signal forwarder and the inotify layout facts).

#include <stdint.h>
#include <sys/types.h>

// MARK: Files and descriptors

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing.
int clinux_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE over the whole file: starts
/// writing its dirty pages without waiting, so that the fsyncs of a group
/// commit that follow find them under way together.
int clinux_start_writeback(int fd);

/// syncfs(2): writes out every dirty inode of the file system that holds `fd`
/// and flushes the device once (the group commit of a burst).
int clinux_syncfs(int fd);

/// pipe2(2) with O_CLOEXEC (and O_NONBLOCK when `nonblock` is non-zero).
int clinux_pipe_cloexec(int fds[2], int nonblock);

/// O_PATH (GNU-only in <fcntl.h>): a descriptor that only names a directory,
/// for *at calls relative to it; opening one needs search permission only.
int clinux_o_path(void);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK): a counter that wakes a thread
/// blocked in poll or epoll_wait when it has new work or must stop.
int clinux_eventfd(void);

// MARK: epoll

/// epoll_create1(EPOLL_CLOEXEC).
int clinux_epoll_create(void);

/// Adds `fd` for readability (level-triggered), reported with `token`.
/// `struct epoll_event` is packed on x86-64, so Swift gets plain tokens instead.
int clinux_epoll_add(int epfd, int fd, uint64_t token);

/// Removes `fd` from the set.
int clinux_epoll_del(int epfd, int fd);

/// epoll_wait; writes the tokens of up to `max` (at most 256) ready descriptors into `tokens`.
int clinux_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms);

// MARK: Process and threads

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to us.
int clinux_set_child_subreaper(void);

/// The boot ID (random per boot), 32 lowercase hex digits plus NUL into `out`.
int clinux_boot_id(char out[33]);

/// pthread_setname_np(3) for the calling thread (GNU-only); `name` is cut to
/// 15 bytes, as the kernel requires.
int clinux_name_this_thread(const char *name);

// MARK: Signals

/// Installs a handler for each of `signals[0..<count]` that marks the signal
/// pending and writes one byte to a wake pipe, whose read end (non-blocking,
/// close-on-exec) is returned for polling. The pipe is made on first use and
/// never closed: a handler running on another thread while the caller stops
/// could otherwise write into a descriptor number already reused. The previous
/// actions are saved for `clinux_signals_restore`. A caught signal is reset to
/// its default action by execve(2), so children never inherit the handler.
/// Returns the read end, or -1 with errno set (EBUSY if already installed,
/// EINVAL for a bad signal number); on failure nothing stays installed.
int clinux_signals_forward(const int *signals, int count);

/// Puts back the actions saved by `clinux_signals_forward`. Returns 0 or -1
/// with errno.
int clinux_signals_restore(void);

/// Returns 1 and clears the mark if `signo` arrived since the last call, else 0.
int clinux_signals_take(int signo);

/// Makes SIGPIPE harmless without SIG_IGN: a handler that does nothing, so a
/// write to a closed pipe fails with EPIPE instead of killing the daemon, yet
/// (unlike SIG_IGN) the disposition is reset by execve(2) and children start
/// with the default SIGPIPE action. Returns 0 or -1 with errno.
int clinux_sigpipe_harmless(void);

// MARK: leases

/// Whether some process has the open file `fd` open for writing: 1 when a
/// read lease (F_SETLEASE F_RDLCK) cannot be had for that reason (EAGAIN),
/// 0 when it can (it is released at once), -1 with errno when leases cannot
/// tell (not the owner without CAP_LEASE, a file system without leases).
int clinux_open_for_writing(int fd);

// MARK: cgroups

/// 1 when `path` is on a cgroup2 file system (statfs f_type
/// CGROUP2_SUPER_MAGIC), 0 when not, -1 with errno when it cannot be checked.
int clinux_is_cgroup2(const char *path);

// MARK: inotify

/// Byte offset of `name` in `struct inotify_event` (16, checked at compile
/// time): the spool watcher decodes the records by hand.
#define CLINUX_INOTIFY_EVENT_HEADER 16

#endif
