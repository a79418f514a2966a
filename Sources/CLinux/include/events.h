#ifndef GATHER_CLINUX_EVENTS_H
#define GATHER_CLINUX_EVENTS_H

// epoll and eventfd for the event threads. Swift's Glibc module does not
// export <sys/epoll.h> or <sys/eventfd.h>, and `struct epoll_event` is packed
// on x86-64; these wrappers take and return plain 64-bit tokens instead.
// All return -1 and set errno like the originals.

#include <stdint.h>

/// epoll_create1(EPOLL_CLOEXEC).
int clinux_epoll_create(void);

/// Adds `fd` for readability (level-triggered), reported with `token`.
int clinux_epoll_add(int epfd, int fd, uint64_t token);

/// Removes `fd` from the set.
int clinux_epoll_del(int epfd, int fd);

/// epoll_wait; writes the tokens of up to `max` ready descriptors into `tokens`.
int clinux_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK): a counter to wake an epoll thread.
int clinux_eventfd(void);

#endif
