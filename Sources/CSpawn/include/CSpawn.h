#ifndef GATHER_CSPAWN_H
#define GATHER_CSPAWN_H

// The child side of the process launcher. Between clone and exec only
// async-signal-safe C may run (never Swift): the child shares the parent's
// memory (CLONE_VM) until it execs, like glibc's posix_spawn, which is why it
// is as cheap as posix_spawn while still able to switch user and group.

#include <sys/types.h>
#include <sys/resource.h>

/// Where in the child a spawn failed; 0 when it exec'd.
enum cspawn_stage {
    CSPAWN_STAGE_NONE = 0,
    /// setgroups / setresgid / setresuid failed.
    CSPAWN_STAGE_IDENTITY = 1,
    /// chdir to the working directory failed.
    CSPAWN_STAGE_CWD = 2,
    /// execve (or the PATH lookup) failed.
    CSPAWN_STAGE_EXEC = 3,
    /// Session, descriptors or limits could not be set up.
    CSPAWN_STAGE_SETUP = 4,
    /// The parent could not create the child (clone, stack).
    CSPAWN_STAGE_CLONE = 5,
    /// The child could not be placed in its cgroup.
    CSPAWN_STAGE_CGROUP = 6,
};

/// What to start and in which state (SPEC §4 "Task process state").
struct cspawn_request {
    /// NULL-terminated argv; argv[0] is absolute, relative with a '/', or looked up in `search_path`.
    const char *const *argv;
    /// NULL-terminated environment, exactly as the task gets it.
    const char *const *envp;
    /// The PATH to look argv[0] up in (the task's own PATH); NULL: no lookup.
    const char *search_path;
    /// Working directory; NULL: stay.
    const char *cwd;
    /// Descriptors that become 0, 1 and 2; every other descriptor is closed.
    int stdin_fd, stdout_fd, stderr_fd;
    /// Non-zero: switch to uid/gid/groups before chdir and the lookup.
    int switch_identity;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    /// Non-zero: set RLIMIT_NOFILE to `nofile` (the daemon's original soft limit).
    int set_nofile;
    struct rlimit nofile;
    /// The umask the task starts with.
    mode_t umask;
    /// The job's progress log (an O_APPEND descriptor), or -1. The child
    /// appends one line to it just before its first execve, so that a crash
    /// of the daemon at any point leaves the process group recorded before
    /// the task runs anything: `record_prefix` (the line up to and including
    /// `"pgid":`), then `PID,"start_time":TICKS}` and a newline, in one
    /// write(2). Should the exec fail after that, it appends
    /// `record_exit_prefix` (up to `"pgid":`), `PID}` and a newline.
    int record_fd;
    const char *record_prefix;
    size_t record_prefix_len;
    const char *record_exit_prefix;
    size_t record_exit_prefix_len;
    /// The task's cgroup (a directory descriptor), or -1. The child starts
    /// inside it: `clone3` with `CLONE_INTO_CGROUP`, so it never runs, let
    /// alone forks, anywhere else. Where `clone3` cannot (a kernel before 5.7,
    /// an architecture without the assembly below), the child moves itself
    /// (writes 0 to `cgroup.procs`) before anything else, which costs a
    /// migration but still places it before it can fork.
    int cgroup_fd;
};

/// What happened. On success `pid` and `pidfd` (close-on-exec) are set and the
/// child has exec'd. On failure `stage` and `error` (an errno) say why; a child
/// that failed after clone has been reaped already and `pid` is its former pid.
struct cspawn_result {
    pid_t pid;
    int pidfd;
    int stage;
    int error;
    /// Field 22 of the child's /proc/PID/stat (clock ticks after boot), read
    /// by the child itself; 0 when it could not be read.
    unsigned long long start_time;
    /// 0 when the child appended its line to `record_fd` (or none was asked
    /// for); else the errno of that write (the child still went on to exec,
    /// and the parent must record the group itself).
    int record_error;
};

/// 1 when spawns with a `cgroup_fd` use `clone3` with `CLONE_INTO_CGROUP`;
/// 0 once the kernel refused it (the child then moves itself).
int cspawn_clone_into_cgroup(void);

/// 0: later spawns take the path of a kernel without CLONE_INTO_CGROUP (the
/// child moves itself), so tests can prove that path on any kernel; 1: back.
void cspawn_set_clone_into_cgroup(int on);

/// Starts a child in a new session. Returns 0 when the child exec'd, -1 on
/// failure (see `result`). Wait for it with `cspawn_wait_pidfd`. It is created
/// with no exit signal, but `execve` resets that to SIGCHLD, so any
/// `waitid(P_ALL)` in the process could reap it: the orphan reaper peeks first.
int cspawn_spawn(const struct cspawn_request *request, struct cspawn_result *result);

/// Reaps the child behind `pidfd` if it has ended (WNOHANG). Returns 1 and sets
/// `exited` (1: exited, 0: killed by a signal) and `value` (status or signal);
/// 0 when it still runs; -1 with errno on error. Retries EINTR.
int cspawn_wait_pidfd(int pidfd, int *exited, int *value);

/// Waits for the child behind `pidfd` to end and reaps it (blocking; for a
/// child that was just sent SIGKILL). Returns 0, or -1 with errno. Retries EINTR.
int cspawn_reap_pidfd(int pidfd);

/// The pid of an exited child that can be reaped (execve makes every task a
/// SIGCHLD child, so the launcher's own are among them), without reaping it;
/// 0 when none, -1 on error (ECHILD: no children).
pid_t cspawn_peek_exited(void);

/// Reaps exited child `pid` (WNOHANG).
int cspawn_reap_pid(pid_t pid);


#endif
