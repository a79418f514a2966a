#ifndef GATHER_CLINUX_EVENT_SOURCES_H
#define GATHER_CLINUX_EVENT_SOURCES_H

// The daemon's event sources: inotify layout facts and a self-pipe signal
// forwarder. A signal handler must be async-signal-safe and cannot be written
// in Swift (no globals without isolation, no guarantee of no allocation), so
// the handler lives here and only stores a flag and writes one byte.

#include <stdint.h>

/// Byte offset of `name` in `struct inotify_event` (16, checked at compile time).
#define CLINUX_INOTIFY_EVENT_HEADER 16

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

/// eventfd(2), close-on-exec and non-blocking: wakes a thread blocked in poll
/// when it must stop (sys/eventfd.h is not in Swift's Glibc module).
int clinux_stop_event(void);

/// pthread_setname_np(3) for the calling thread (GNU-only); `name` is cut to
/// 15 bytes, as the kernel requires.
int clinux_name_this_thread(const char *name);

#endif
