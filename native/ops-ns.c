/*
 * Namespaces and processes: joining and creating namespaces, the clone
 * that makes the container's init (stage 0 then exits or relays its exit
 * status), pidfds of a running container's init, cgroup v1 joins, and what
 * a new UTS or network namespace is given (names, loopback up).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"
#include "slots.h"
#include "step.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

int op_setns(const struct op_setns *a, struct step *s)
{
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);
	int r = fd < 0 || setns(fd, (int)a->nstype) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return r;
}

int op_unshare(const struct op_unshare *a, struct step *s)
{
	return unshare((int)a->flags) < 0 ? -errno : 0;
}

/* ---------- clone and stage 0 ---------- */

/* Mirror the init's fate in stage 0, so `tsrun run` sees the container's
 * exit code: its status, or 128+signal when a signal killed it.
 * ignore: bit n set = signal n is ignored while relaying (the plan says which). */
static void __attribute__((noreturn)) relay(const struct init_ctx *ctx, pid_t child, uint64_t ignore)
{
	for (int sig = 1; sig < 64; sig++)
		if (ignore & (1ull << sig))
			signal(sig, SIG_IGN);
	int ws;
	for (;;) {
		pid_t r = waitpid(child, &ws, 0);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			_exit(255);
	}
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	/* An early init is not the runtime's child: it cannot wait for us, so
	 * the status goes over the control socket. */
	if (ctx->early)
		send_msg(ctx->ctrl_fd, MSG_EXIT, 0, 0, (uint32_t)code);
	_exit(code);
}

/* cgroup_fd >= 0: the child starts in that cgroup v2 directory. Unlike a
 * write to cgroup.procs, this needs no RCU grace period in the kernel. */
static pid_t clone_into(uint64_t flags, int cgroup_fd)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = flags;
	ca.exit_signal = SIGCHLD;
	if (cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* Stage 0 reports the init's pid and exits, or relays its exit; the init
 * goes on with the next step. */
int op_clone(const struct op_clone *a, struct step *s)
{
	int cgroup_fd = -1;
	if (a->cgroup_slot != NO_SLOT && (cgroup_fd = slot_fd(a->cgroup_slot)) < 0)
		return -EINVAL;
	pid_t pid = clone_into(a->flags, cgroup_fd);
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		struct init_ctx *ctx = s->ctx;
		slots_close(SLOT_CGROUP, SLOT_CGROUP_END);
		send_msg(ctx->ctrl_fd, MSG_PID, s->index, 0, (uint32_t)pid);
		if (a->relay) {
			if (!ctx->early)
				close(ctx->ctrl_fd);
			relay(ctx, pid, a->relay_ignore);
		}
		_exit(0);
	}
	if (a->cgroup_slot != NO_SLOT)
		slot_close(a->cgroup_slot);
	return 0;
}

int op_join_cgroup(const struct op_join_cgroup *a, struct step *s)
{
	/* "0" to a v1 `tasks` file opened by stage 0: moves this
	 * single-threaded process without the global lock (and RCU wait) a
	 * write of a pid to cgroup.procs takes. */
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	int r = write(fd, "0", 1) != 1 ? -errno : 0;
	slot_close(a->slot);
	return r;
}

/* ---------- pidfds (exec into a running container) ---------- */

/* Field 22 of /proc/<pid>/stat: when the process started, in clock ticks
 * since boot. A missing process is ESRCH. */
static int proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH || e == ENOENT ? -ESRCH : -e;
	buf[n] = '\0';
	/* The name (field 2) may hold spaces and parentheses: count from its
	 * end. Each step moves p to the space before the next field. */
	char *p = strrchr(buf, ')');
	for (int field = 3; p && field <= 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	*out = strtoull(p + 1, NULL, 10);
	return 0;
}

int op_pidfd_open(const struct op_pidfd_open *a, struct step *s)
{
	/* A pidfd for a process the runtime knows by pid and start time: if
	 * the pid was reused, the start time differs. Checked after the open,
	 * so the pidfd is the process that was checked. */
	pid_t pid = (pid_t)a->pid;
	if (pid <= 0)
		return -EINVAL;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	uint64_t actual = 0;
	int r = proc_start_time(pid, &actual);
	if (r == 0 && actual != a->start_time)
		r = -ESRCH;
	if (r < 0) {
		close(fd);
		return r;
	}
	return slot_set(a->slot, fd);
}

int op_setns_pidfd(const struct op_setns_pidfd *a, struct step *s)
{
	/* One namespace of the pidfd's process; the pidfd stays for the next. */
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	return setns(fd, (int)a->nstype) < 0 ? -errno : 0;
}

int op_pidfd_alive(const struct op_pidfd_alive *a, struct step *s)
{
	/* Signal 0 through the pidfd: fails (ESRCH) once the process has
	 * exited, so what was opened by its pid before was still its. */
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	return syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) < 0 ? -errno : 0;
}

/* ---------- UTS and network ---------- */

static int set_name(int (*set)(const char *, size_t), const char *name, uint32_t len)
{
	return set(name, len) < 0 ? -errno : 0;
}

int op_sethostname(const struct op_sethostname *a, struct step *s)
{
	return set_name(sethostname, a->name, a->name_len);
}

int op_setdomainname(const struct op_setdomainname *a, struct step *s)
{
	return set_name(setdomainname, a->name, a->name_len);
}

int op_link_up(const struct op_link_up *a, struct step *s)
{
	/* Bring an interface of our network namespace up (loopback). */
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->name);
	int r = 0;
	int sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sfd < 0 || ioctl(sfd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sfd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	if (sfd >= 0)
		close(sfd);
	return r;
}
