#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

// The child runs on a stack of its own while the parent thread is suspended
// (CLONE_VFORK); one stack per thread is enough and is reused, which saves an
// mmap/munmap pair per spawn.
#define CSPAWN_STACK_SIZE (128 * 1024)
static __thread void *cspawn_stack;

struct cspawn_child {
    const struct cspawn_request *request;
    // Written by the child before it exits; read by the parent once it resumes.
    // Shared memory (CLONE_VM) carries the report, as in glibc's posix_spawn.
    volatile int stage;
    volatile int error;
    volatile unsigned long long start_time;
    volatile int record_error;
    /// The child appended its `started` line (an `exited` one is owed if the exec fails).
    volatile int recorded;
    /// Set by the parent: the child moves itself into `cgroup_fd` (no clone3).
    int move_to_cgroup;
};

// clone3(2)'s arguments (linux/sched.h, declared here so the uapi header and
// glibc's <sched.h> never meet).
struct cspawn_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define CSPAWN_CLONE_INTO_CGROUP 0x200000000ULL
#define CSPAWN_SYS_clone3 435

// Cleared when the kernel refuses clone3 or CLONE_INTO_CGROUP (before 5.7).
static atomic_int cspawn_clone3_works = 1;

int cspawn_clone_into_cgroup(void) {
#if defined(__x86_64__)
    return atomic_load(&cspawn_clone3_works);
#else
    return 0;
#endif
}

void cspawn_set_clone_into_cgroup(int on) {
    atomic_store(&cspawn_clone3_works, on ? 1 : 0);
}

#if defined(__x86_64__)
// clone3 runs the child on `args->stack`: no C function can return into a
// frame on the new stack, so the child's first instructions are here, as in
// glibc's and musl's clone. The child calls fn(arg) and exits with its
// result (child_main never returns: it execs or _exits). syscall clobbers
// rcx and r11 only; fn and arg sit in r12/r13, which the kernel copies into
// the child. The new stack's top is 16-byte aligned, as `call` needs.
// Returns the child's pid, or -errno.
static long cspawn_clone3(struct cspawn_clone_args *args, int (*fn)(void *), void *arg) {
    long ret;
    register int (*r12)(void *) __asm__("r12") = fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %%r13, %%rdi\n\t"
        "call *%%r12\n\t"
        "mov %%eax, %%edi\n\t"
        "mov $60, %%eax\n\t"  // SYS_exit
        "syscall\n\t"
        "hlt\n"
        "1:\n\t"
        : "=a"(ret)
        : "0"((long)CSPAWN_SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r12), "r"(r13)
        : "rcx", "r11", "memory");
    return ret;
}
#endif

// Appends the decimal digits of `value` at `out`; returns the count.
static size_t put_decimal(char *out, unsigned long long value) {
    char digits[24];
    size_t n = 0;
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value != 0);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

// Field 22 of /proc/self/stat (start time in clock ticks after boot), or 0.
// The command name (field 2) may hold spaces and parentheses: count from the last ')'.
static unsigned long long child_start_time(void) {
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n;
    do { n = read(fd, buf, sizeof buf - 1); } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (p == NULL) return 0;
    p++;  // now at " S ppid ...": field 3 follows the first space
    for (int field = 2; field < 22 && *p; p++) {
        if (*p == ' ') field++;
        if (field == 22) { p++; break; }
    }
    unsigned long long value = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) value = value * 10 + (unsigned long long)(*p - '0');
    return digits ? value : 0;
}

// The child's line in the progress log: prefix, pid, start time, in one
// write(2) on an O_APPEND descriptor, so lines of concurrent spawns never mix.
static void child_record(struct cspawn_child *child, pid_t pid) {
    const struct cspawn_request *r = child->request;
    static const char middle[] = ",\"start_time\":";
    char line[4096];
    if (r->record_prefix_len + 64 > sizeof line) { child->record_error = ENAMETOOLONG; return; }
    size_t n = r->record_prefix_len;
    memcpy(line, r->record_prefix, n);
    n += put_decimal(line + n, (unsigned long long)pid);
    memcpy(line + n, middle, sizeof middle - 1);
    n += sizeof middle - 1;
    n += put_decimal(line + n, child->start_time);
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t written;
    do { written = write(r->record_fd, line, n); } while (written < 0 && errno == EINTR);
    if (written < 0) child->record_error = errno;
    else if ((size_t)written != n) child->record_error = EIO;  // a partial line: the parent writes it whole
    else child->recorded = 1;
}

// The exec failed after the `started` line: the group is gone, as an `exited` line says.
static void child_record_exit(struct cspawn_child *child) {
    const struct cspawn_request *r = child->request;
    char line[4096];
    if (!child->recorded || r->record_exit_prefix_len + 32 > sizeof line) return;
    size_t n = r->record_exit_prefix_len;
    memcpy(line, r->record_exit_prefix, n);
    n += put_decimal(line + n, (unsigned long long)syscall(SYS_getpid));
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t written;
    do { written = write(r->record_fd, line, n); } while (written < 0 && errno == EINTR);
}

// Raw system calls: glibc's setuid family signals every thread of the process
// to switch them too (setxid broadcast); in a CLONE_VM child that would reach
// the parent's threads. Raw calls change the calling (child) process only.
static long raw_setgroups(int n, const gid_t *list) { return syscall(SYS_setgroups, n, list); }
static long raw_setresgid(gid_t g) { return syscall(SYS_setresgid, g, g, g); }
static long raw_setresuid(uid_t u) { return syscall(SYS_setresuid, u, u, u); }

// The kernel's struct sigaction (not glibc's): handler, flags, restorer, mask.
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

static void sigset_all(sigset_t *set, int fill) {
    // glibc's sigfillset/pthread_sigmask leave out its internal signals; the
    // raw call blocks those too, so no handler at all can run in the child.
    memset(set, fill ? 0xff : 0, sizeof *set);
}

static int raw_sigmask(const sigset_t *set, sigset_t *old) {
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, _NSIG / 8);
}

static void child_record_exit(struct cspawn_child *child);

static _Noreturn void child_fail(struct cspawn_child *child, int stage, int error) {
    child_record_exit(child);
    child->stage = stage;
    child->error = error;
    _exit(127);
}

// Moves `fd` to `target`, clearing close-on-exec (dup2 onto itself would keep it).
static int child_move_fd(int fd, int target) {
    if (fd == target) {
        int flags = fcntl(fd, F_GETFD);
        return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

// close_range(2), or a loop where the kernel lacks it.
static void child_close_range(unsigned int first, unsigned int last) {
    if (syscall(SYS_close_range, first, last, 0U) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = first; fd < max && fd <= (long)last; fd++) close((int)fd);
}

static int is_fatal_exec_errno(int e) {
    // Like execvp: these mean "try the next PATH entry".
    return !(e == ENOENT || e == ENOTDIR || e == ESTALE || e == ENODEV || e == ETIMEDOUT || e == EACCES);
}

static void child_exec(struct cspawn_child *child) {
    const struct cspawn_request *r = child->request;
    // Recorded just before the first execve: the task runs nothing before its
    // group is in the log, and a setup failure before this leaves no line.
    // The child writes it itself, so a daemon killed at any moment cannot
    // leave a group recovery does not see.
    if (r->record_fd >= 0) child_record(child, (pid_t)syscall(SYS_getpid));
    const char *file = r->argv[0];
    char *const *argv = (char *const *)r->argv;
    char *const *envp = (char *const *)r->envp;
    if (file[0] == 0) child_fail(child, CSPAWN_STAGE_EXEC, ENOENT);
    if (strchr(file, '/') || r->search_path == NULL) {
        execve(file, argv, envp);
        child_fail(child, CSPAWN_STAGE_EXEC, errno);
    }
    size_t flen = strlen(file);
    char buf[PATH_MAX];
    int seen_eacces = 0, last = ENOENT;
    const char *p = r->search_path;
    for (;;) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if (dlen == 0) { buf[0] = '.'; dlen = 1; } else if (dlen + flen + 2 <= sizeof buf) memcpy(buf, p, dlen);
        if (dlen + flen + 2 <= sizeof buf) {
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            execve(buf, argv, envp);
            last = errno;
            if (last == EACCES) seen_eacces = 1;
            else if (is_fatal_exec_errno(last)) child_fail(child, CSPAWN_STAGE_EXEC, last);
        }
        if (*end == 0) break;
        p = end + 1;
    }
    child_fail(child, CSPAWN_STAGE_EXEC, seen_eacces ? EACCES : last);
}

static int child_main(void *arg) {
    struct cspawn_child *child = arg;
    const struct cspawn_request *r = child->request;

    // Dispositions first, while every signal is still blocked: a handler of
    // the parent must never run here. SIG_IGN survives exec, so reset all.
    // The raw call: glibc's sigaction refuses its internal signals (32, 33),
    // and an ignored one of those would survive exec.
    struct kernel_sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, _NSIG / 8);
    }
    // Without CLONE_INTO_CGROUP the child places itself first, before it
    // can run anything that forks: writing 0 moves the writer.
    if (child->move_to_cgroup) {
        int procs = openat(r->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs < 0) child_fail(child, CSPAWN_STAGE_CGROUP, errno);
        ssize_t moved;
        do { moved = write(procs, "0", 1); } while (moved < 0 && errno == EINTR);
        int moved_errno = errno;
        close(procs);
        if (moved != 1) child_fail(child, CSPAWN_STAGE_CGROUP, moved < 0 ? moved_errno : EIO);
    }
    if (setsid() < 0) child_fail(child, CSPAWN_STAGE_SETUP, errno);
    child->start_time = child_start_time();

    // Sources below 3 could be overwritten by an earlier dup2: lift them first.
    int fds[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 3 && fds[i] != i) {
            fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (fds[i] < 0) child_fail(child, CSPAWN_STAGE_SETUP, errno);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (child_move_fd(fds[i], i) < 0) child_fail(child, CSPAWN_STAGE_SETUP, errno);
    }
    // Every descriptor from 3 on is closed but the progress log, kept for the
    // child's own line just before exec (it is close-on-exec).
    if (r->record_fd >= 3) {
        if (r->record_fd > 3) child_close_range(3U, (unsigned int)r->record_fd - 1);
        child_close_range((unsigned int)r->record_fd + 1, ~0U);
    } else {
        child_close_range(3U, ~0U);
    }
    if (r->set_nofile && setrlimit(RLIMIT_NOFILE, &r->nofile) < 0) child_fail(child, CSPAWN_STAGE_SETUP, errno);
    umask(r->umask);

    // SPEC §4: groups and user first, then chdir, then the lookup and exec.
    if (r->switch_identity) {
        if (raw_setgroups(r->ngroups, r->groups) < 0) child_fail(child, CSPAWN_STAGE_IDENTITY, errno);
        if (raw_setresgid(r->gid) < 0) child_fail(child, CSPAWN_STAGE_IDENTITY, errno);
        if (raw_setresuid(r->uid) < 0) child_fail(child, CSPAWN_STAGE_IDENTITY, errno);
    }
    if (r->cwd && chdir(r->cwd) < 0) child_fail(child, CSPAWN_STAGE_CWD, errno);

    sigset_t empty;
    sigset_all(&empty, 0);
    if (raw_sigmask(&empty, NULL) < 0) child_fail(child, CSPAWN_STAGE_SETUP, errno);
    child_exec(child);
    return 127;
}

int cspawn_spawn(const struct cspawn_request *request, struct cspawn_result *result) {
    result->pid = -1;
    result->pidfd = -1;
    result->stage = CSPAWN_STAGE_NONE;
    result->error = 0;
    result->start_time = 0;
    result->record_error = 0;
    if (cspawn_stack == NULL) {
        void *stack = mmap(NULL, CSPAWN_STACK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            result->stage = CSPAWN_STAGE_CLONE;
            result->error = errno;
            return -1;
        }
        cspawn_stack = stack;
    }
    struct cspawn_child child = { .request = request, .stage = CSPAWN_STAGE_NONE, .error = 0,
                                  .start_time = 0, .record_error = 0, .recorded = 0, .move_to_cgroup = 0 };

    // Block everything (glibc's internal signals too) so that no handler of
    // ours runs on the child's side before it resets the dispositions.
    sigset_t all, old;
    sigset_all(&all, 1);
    raw_sigmask(&all, &old);
    int pidfd = -1;
    pid_t pid = -1;
    int clone_errno = 0;
    int cloned = 0;
#if defined(__x86_64__)
    if (request->cgroup_fd >= 0 && atomic_load(&cspawn_clone3_works)) {
        // Exit signal 0 until it execs (execve resets it to SIGCHLD; see header).
        struct cspawn_clone_args args = {
            .flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CSPAWN_CLONE_INTO_CGROUP,
            .pidfd = (uint64_t)(uintptr_t)&pidfd,
            .stack = (uint64_t)(uintptr_t)cspawn_stack,
            .stack_size = CSPAWN_STACK_SIZE,
            .cgroup = (uint64_t)request->cgroup_fd,
        };
        long ret = cspawn_clone3(&args, child_main, &child);
        if (ret >= 0) {
            pid = (pid_t)ret;
            cloned = 1;
        } else if (ret == -ENOSYS || ret == -E2BIG) {
            // A kernel without clone3 (before 5.3) or its cgroup field (before 5.7).
            atomic_store(&cspawn_clone3_works, 0);
        } else if (ret == -EPERM) {
            // A seccomp filter that refuses clone3 (older container
            // profiles), or no right to enter the cgroup: the path below
            // tells which, for this spawn only.
        } else {
            // clone3 could not start the child in that cgroup (removed,
            // not writable, a limit reached): the cgroup is why.
            result->stage = CSPAWN_STAGE_CGROUP;
            clone_errno = (int)-ret;
            cloned = -1;
        }
    }
#endif
    if (cloned == 0) {
        child.move_to_cgroup = request->cgroup_fd >= 0;
        // Exit signal 0 until it execs (execve resets it to SIGCHLD; see header).
        pid = clone(child_main, (char *)cspawn_stack + CSPAWN_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD, &child, &pidfd);
        clone_errno = errno;
    }
    raw_sigmask(&old, NULL);

    if (pid < 0) {
        if (result->stage == CSPAWN_STAGE_NONE) result->stage = CSPAWN_STAGE_CLONE;
        result->error = clone_errno;
        return -1;
    }
    result->pid = pid;
    result->start_time = child.start_time;
    result->record_error = child.record_error;
    if (child.stage != CSPAWN_STAGE_NONE) {
        // The child has exited already (CLONE_VFORK resumed us); reap it.
        siginfo_t info;
        while (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | __WALL) < 0 && errno == EINTR) {}
        close(pidfd);
        result->stage = child.stage;
        result->error = child.error;
        return -1;
    }
    result->pidfd = pidfd;
    return 0;
}

int cspawn_wait_pidfd(int pidfd, int *exited, int *value) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    do { r = waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | __WALL); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    if (info.si_pid == 0) return 0;
    *exited = info.si_code == CLD_EXITED;
    *value = info.si_status;
    return 1;
}

int cspawn_reap_pidfd(int pidfd) {
    siginfo_t info;
    int r;
    do { r = waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | __WALL); } while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : 0;
}

pid_t cspawn_peek_exited(void) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    // WNOWAIT: look without reaping; the caller decides whose child it is.
    do { r = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    return info.si_pid;
}

int cspawn_reap_pid(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    do { r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG); } while (r < 0 && errno == EINTR);
    return r;
}
