#ifndef GATHER_CLINUX_H
#define GATHER_CLINUX_H

// Swift's Glibc module is built without _GNU_SOURCE, so Linux-only calls that
// glibc declares only under it are not visible to Swift. Each wrapper here is
// a one-line pass-through; they return -1 and set errno like the originals.

#include <sys/types.h>
#include "EventSources.h"
#include "events.h"

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing.
int clinux_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// pipe2(2) with O_CLOEXEC (and O_NONBLOCK when `nonblock` is non-zero).
int clinux_pipe_cloexec(int fds[2], int nonblock);

/// pidfd_open(2) (Linux 5.3); returns a pollable descriptor, close-on-exec.
int clinux_pidfd_open(pid_t pid);

/// pidfd_send_signal(2) (Linux 5.1).
int clinux_pidfd_send_signal(int pidfd, int sig);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to us.
int clinux_set_child_subreaper(void);

/// The boot ID (random per boot), 32 lowercase hex digits plus NUL into `out`.
int clinux_boot_id(char out[33]);

#endif
