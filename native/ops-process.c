/*
 * The process steps: its attributes (limits, scheduling, personality,
 * umask, keyring), its working directory and stdio, its identity,
 * capabilities and seccomp filter, and finally execve.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "in-root.h"
#include "slots.h"
#include "step.h"

/* ---------- attributes ---------- */

int op_rlimit(const struct op_rlimit *a, struct step *s)
{
	struct rlimit rl = {.rlim_cur = a->soft, .rlim_max = a->hard};
	return setrlimit((int)a->resource, &rl) < 0 ? -errno : 0;
}

int op_sched(const struct op_sched *a, struct step *s)
{
	/* struct sched_attr, filled by the runtime */
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} attr = {0};
	attr.size = sizeof(attr);
	attr.policy = (uint32_t)a->policy;
	attr.flags = a->flags;
	attr.nice = (int32_t)a->nice;
	attr.priority = (uint32_t)a->priority;
	attr.runtime = a->runtime;
	attr.deadline = a->deadline;
	attr.period = a->period;
	return syscall(SYS_sched_setattr, 0, &attr, 0) < 0 ? -errno : 0;
}

int op_ioprio(const struct op_ioprio *a, struct step *s)
{
	return syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)a->value) < 0 ? -errno : 0;
}

int op_affinity(const struct op_affinity *a, struct step *s)
{
	return syscall(SYS_sched_setaffinity, 0, (size_t)a->mask_len, a->mask) < 0 ? -errno : 0;
}

/* maxnode counts bits, and the kernel reads one fewer than it is told. */
int op_set_mempolicy(const struct op_set_mempolicy *a, struct step *s)
{
	unsigned long maxnode = a->nodes_len ? (unsigned long)a->nodes_len * 8 + 1 : 0;
	return syscall(SYS_set_mempolicy, (int)a->mode, a->nodes_len ? a->nodes : NULL, maxnode) < 0 ? -errno : 0;
}

int op_personality(const struct op_personality *a, struct step *s)
{
	return personality((unsigned long)a->persona) < 0 ? -errno : 0;
}

int op_umask(const struct op_umask *a, struct step *s)
{
	umask((mode_t)a->mask);
	return 0;
}

int op_keyring(const struct op_keyring *a, struct step *s)
{
	/* A session keyring of our own, so containers do not share the host's. */
	if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, a->name) < 0 && errno != ENOSYS)
		return -errno;
	return 0;
}

int op_setsid(struct step *s)
{
	return setsid() < 0 ? -errno : 0;
}

int op_set_dumpable(const struct op_set_dumpable *a, struct step *s)
{
	return prctl(PR_SET_DUMPABLE, (unsigned long)a->value, 0, 0, 0) < 0 ? -errno : 0;
}

/* ---------- working directory and stdio ---------- */

/* chdir without following a magic link (/proc/self/fd/N, CVE-2024-21626).
 * A seccomp profile written for runc may refuse openat2 (EPERM, ENOSYS): then
 * chdir(2) as runc does, and refuse a working directory outside our root
 * (the kernel's getcwd marks it "(unreachable)"), as runc checks too. */
static int chdir_checked(const char *path)
{
	int dfd = open_no_magic(path, O_PATH | O_DIRECTORY);
	if (dfd >= 0) {
		int r = fchdir(dfd) < 0 ? -errno : 0;
		close(dfd);
		return r;
	}
	if (errno != EPERM && errno != ENOSYS)
		return -errno;
	if (chdir(path) < 0)
		return -errno;
	char buf[4096];
	if (syscall(SYS_getcwd, buf, sizeof(buf)) >= 0 && buf[0] != '/')
		return -EXDEV;
	return 0;
}

int op_chdir(const struct op_chdir *a, struct step *s)
{
	/* Never through a magic link. mode 1: a first try while still
	 * privileged, where "permission denied" waits for a mode 2 step after
	 * the identity change (which then runs only if this one was put off). */
	if (a->mode == 2 && !s->ctx->chdir_put_off)
		return 0;
	int r = chdir_checked(a->path);
	if (a->mode == 1 && (r == -EACCES || r == -EPERM)) {
		s->ctx->chdir_put_off = 1;
		r = 0;
	}
	return r;
}

int op_fix_stdio(const struct op_fix_stdio *a, struct step *s)
{
	/* stdio becomes the process user's (as runc does, so that a non-root
	 * process can use its terminal): uid only, and not the null device; a
	 * file system that refuses is left as is. */
	uid_t uid = (uid_t)a->uid;
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0 || st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
			continue;
		if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			return -errno;
	}
	return 0;
}

int op_close_fds(const struct op_close_fds *a, struct step *s)
{
	/* Mark everything from `from` on close-on-exec; slots and the control
	 * socket then vanish at execve and nothing leaks. */
	if (syscall(SYS_close_range, (unsigned)a->from, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
		return -errno;
	return 0;
}

/* ---------- identity, capabilities, seccomp ---------- */

int op_setid(const struct op_setid *a, struct step *s)
{
	gid_t gid = (gid_t)a->gid;
	uid_t uid = (uid_t)a->uid;
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

int op_user(const struct op_user *a, struct step *s)
{
	gid_t gid = (gid_t)a->gid;
	uid_t uid = (uid_t)a->uid;
	gid_t *groups = calloc(a->groups_count + 1, sizeof(gid_t));
	if (!groups)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->groups_count; i++)
		groups[i] = (gid_t)a->groups[i];
	/* Keep the permitted set across the uid change; capset then sets
	 * exactly the configured capabilities. */
	int r = 0;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || (a->set_groups && setgroups(a->groups_count, groups) < 0) ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		r = -errno;
	free(groups);
	return r;
}

int op_capbset_drop(const struct op_capbset_drop *a, struct step *s)
{
	for (uint64_t cap = 0; cap <= a->last && cap < 64; cap++)
		if (!(a->keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	return 0;
}

static int capset_all(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
		{.effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh},
		{.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32)},
	};
	return (int)syscall(SYS_capset, &hdr, data);
}

int op_capset(const struct op_capset *a, struct step *s)
{
	if (capset_all(a->effective, a->permitted, a->inheritable) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	for (int cap = 0; cap < 64; cap++)
		if ((a->ambient & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -errno;
	return 0;
}

int op_no_new_privs(struct step *s)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int op_seccomp(const struct op_seccomp *a, struct step *s)
{
	uint32_t n = a->program_len;
	if (n % sizeof(struct sock_filter))
		return -EINVAL;
	/* Copy: the program must be aligned for the kernel. */
	struct sock_filter *insns = malloc(n ? n : 1);
	if (!insns)
		return -ENOMEM;
	memcpy(insns, a->program, n);
	struct sock_fprog prog = {.len = (unsigned short)(n / sizeof(struct sock_filter)), .filter = insns};
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)a->flags, &prog);
	int r = fd < 0 ? -errno : 0;
	if (fd >= 0 && (a->flags & 8 /* SECCOMP_FILTER_FLAG_NEW_LISTENER */))
		r = slot_set(SLOT_LISTENER, (int)fd);
	free(insns);
	return r;
}

/* ---------- execve ---------- */

int op_exec_check(const struct op_exec_check *a, struct step *s)
{
	int r = -ENOENT;
	for (char **p = a->candidates; *p; p++) {
		struct stat st;
		if (stat(*p, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(*p, X_OK) == 0) {
				s->ctx->exec_path = *p; /* points into the plan */
				return 0;
			}
			r = -EACCES;
		}
	}
	return r;
}

int op_exec(const struct op_exec *a, struct step *s)
{
	const char *path = s->ctx->exec_path ? s->ctx->exec_path : a->args[0];
	execve(path, a->args, a->env);
	return -errno;
}
