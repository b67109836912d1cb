/*
 * tsrun-init: the native part of tsrun.
 *
 * Node cannot run JavaScript between fork and execve, and a multi-threaded
 * process may not unshare a user namespace or setns into a mount namespace.
 * So the TypeScript runtime decides everything and hands this program a plan:
 * an ordered list of steps, each one or a few raw syscalls. This program has
 * no policy of its own. It executes the steps in order and, on the first
 * failure, reports the step's index and errno over the control socket; the
 * TypeScript side knows what each step meant and prints the error.
 *
 * Usage: tsrun-init <control-fd> [<count of fds passed after it>]
 *   The control fd is a unix stream socket. Node writes: u32 plan length,
 *   then the plan. We answer with fixed-size messages (struct msg).
 *
 * Steps before OP_CLONE run in "stage 0" (the process Node spawned); OP_CLONE
 * creates the container's init with the new namespaces, and every later step
 * runs in that init. Stage 0 then either exits or, in relay mode, waits for
 * the init and exits with its status (for `tsrun run` in the foreground).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <net/if.h>
#include <sys/wait.h>
#include <dirent.h>
#include <termios.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mount-fd.h"

/* Keep in sync with src/runtime/plan.ts. */
enum op {
	OP_SETNS = 1,
	OP_UNSHARE = 2,
	OP_WRITE_FILE = 3,
	OP_CLONE = 4,
	OP_WAIT_GO = 5,
	OP_SETID = 6,
	OP_SETSID = 7,
	OP_SET_DUMPABLE = 8,
	OP_MOUNT = 9,
	OP_MKNOD = 11,
	OP_SYMLINK = 12,
	OP_PIVOT_ROOT = 13,
	OP_MOVE_ROOT = 14,
	OP_SETHOSTNAME = 15,
	OP_SETDOMAINNAME = 16,
	OP_RLIMIT = 17,
	OP_HOOK = 18,
	OP_OPEN_PATH = 19,
	OP_CONNECT = 20,
	OP_CONSOLE = 21,
	OP_EXEC_CHECK = 22,
	OP_READY = 23,
	OP_FIFO = 24,
	OP_NO_NEW_PRIVS = 25,
	OP_SECCOMP = 26,
	OP_CAPBSET_DROP = 27,
	OP_USER = 28,
	OP_CAPSET = 29,
	OP_UMASK = 30,
	OP_CHDIR = 31,
	OP_CLOSE_FDS = 32,
	OP_EXEC = 33,
	OP_REMOUNT = 35,
	OP_MASK = 36,
	OP_PERSONALITY = 37,
	OP_SET_ROOT = 38,
	OP_MKFIFO = 39,
	OP_KEYRING = 42,
	OP_MKDIR = 43,
	OP_CHROOT = 44,
	OP_SCHED = 46,
	OP_IOPRIO = 47,
	OP_AFFINITY = 48,
	OP_ADOPT_FD = 49,
	OP_SEND_LISTENER = 50,
	OP_MOVE_MOUNT = 51,
	OP_LINK_UP = 52,
	OP_JOIN_CGROUP = 53,
	OP_EXPECT_DEV = 55,
	OP_UMOUNT = 56,
	OP_CLONE_MOUNT = 57,
	OP_FIX_STDIO = 58,
	OP_REMOUNT_SLOT = 59,
	OP_CLONE_TREE = 60,
	/* 70 and up: process and exec steps */
	OP_PIDFD_OPEN = 70,
	OP_SETNS_PIDFD = 71,
	OP_PIDFD_ALIVE = 72,
	OP_CHROOT_SLOT = 73,
};

/* OP_MOUNT target flags */
#define T_IN_ROOT 1u      /* resolve the target inside the root fd */
#define T_MKDIR 2u        /* create missing directories on the way */
#define T_MKFILE 4u       /* the last component is a file: create it empty */
#define T_IGNORE_ENOENT 8u /* a missing target is not an error (masked/readonly paths) */
#define T_SRC_IN_ROOT 16u /* the source is resolved inside the root too */
#define T_COPYUP 32u      /* copy what was at the target into the new (tmpfs) mount */
#define T_NOT_PROCFS 64u  /* refuse a target that lies on procfs (nothing is mounted inside /proc) */
#define T_PLAIN_DIR 128u  /* the target is reached without symlinks and is a directory (proc, sysfs) */
#define T_KEEP_LOCKED 256u /* remount: keep the flags a user namespace's owner locked */
#define T_FOLLOW_DANGLING 512u /* creating: a dangling symlink leads to where it points (inside the root) */

#define PROC_MAGIC 0x9fa0

enum msg_type { MSG_PID = 1, MSG_READY = 2, MSG_ERROR = 3, MSG_EXIT = 4, MSG_GO = 10 };

struct msg {
	uint32_t type;
	uint32_t step;
	int32_t err;
	uint32_t val;
};

#define MAX_SLOTS 112
#define ROOT_SLOT 0
#define LISTENER_SLOT 3 /* the seccomp notify fd, when the filter returns one */
#define PASSED_SLOT 8   /* fds the runtime passes with GO (id-mapped mounts) start here */
#define PASSED_END 16
#define CGROUP_SLOT 16  /* cgroup files and directories opened on the host side */
#define CGROUP_END 32
#define KEPT_SLOT 32    /* mounts kept for a later step (read-only at the end) */
#define SOURCE_SLOT 48  /* bind sources cloned on the host side, before the user namespace */
#define NO_SLOT 0xffffffffu

static int ctrl_fd = -1;
static int slots[MAX_SLOTS];
/* With GO the parent sends two blobs: the state JSON hooks get on stdin, and
 * the message for a seccomp agent. Each is u32 length + bytes. */
static char *go_payload; /* hooks' state JSON */
static size_t go_payload_len;
static char *agent_payload;
static size_t agent_payload_len;
static const char *exec_path; /* chosen by OP_EXEC_CHECK */

/* Does the plan's slot number name a slot that holds an fd? */
static int slot_open(uint64_t slot)
{
	return slot < MAX_SLOTS && slots[slot] >= 0;
}

/* ---------- plan decoding ---------- */

struct cursor {
	const uint8_t *p, *end;
	int bad;
};

/* Copies n bytes of the next field; a short plan marks the cursor bad. */
static void get_raw(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n) {
		c->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p, n);
	c->p += n;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t v;
	get_raw(c, &v, sizeof(v));
	return v;
}

static uint32_t get_u32(struct cursor *c)
{
	uint32_t v;
	get_raw(c, &v, sizeof(v));
	return v;
}

/* Strings are u32 length (including the trailing NUL) then bytes. */
static const char *get_str(struct cursor *c, uint32_t *lenp)
{
	uint32_t n = get_u32(c);
	const char *s = (const char *)c->p;
	if (c->bad || (size_t)(c->end - c->p) < n || n == 0 || s[n - 1] != '\0') {
		c->bad = 1;
		return "";
	}
	c->p += n;
	if (lenp)
		*lenp = n - 1;
	return s;
}

/* A string list is u32 count then strings; returned NULL-terminated (malloc'd). */
static char **get_strv(struct cursor *c)
{
	uint32_t n = get_u32(c);
	if (c->bad || n > 1u << 20) {
		c->bad = 1;
		return NULL;
	}
	char **v = calloc(n + 1, sizeof(char *));
	if (!v) {
		c->bad = 1;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		v[i] = (char *)get_str(c, NULL);
	return v;
}

/* ---------- messages ---------- */

static void send_msg(uint32_t type, uint32_t step, int32_t err, uint32_t val)
{
	struct msg m = {type, step, err, val};
	if (ctrl_fd < 0)
		return;
	ssize_t r;
	do
		r = write(ctrl_fd, &m, sizeof(m));
	while (r < 0 && errno == EINTR);
}

static int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}


/* The GO message, and any fds the runtime attached to it (SCM_RIGHTS): they
 * land in slots PASSED_SLOT, PASSED_SLOT+1, ... in order. */
static int recv_go(struct msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (PASSED_END - PASSED_SLOT))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(ctrl_fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && PASSED_SLOT + i < PASSED_END; i++)
			memcpy(&slots[PASSED_SLOT + i], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if ((size_t)n < sizeof(*m))
		return read_full(ctrl_fd, (char *)m + n, sizeof(*m) - (size_t)n);
	return 0;
}

/* Report the failing step and exit. After the control socket is gone (the
 * container was started), the only witness left is the container's stderr. */
static void __attribute__((noreturn)) fail(uint32_t step, int err, uint32_t val)
{
	if (ctrl_fd >= 0) {
		send_msg(MSG_ERROR, step, err, val);
	} else {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "tsrun-init: step %u failed: %s\n", step, strerror(err));
		if (n > 0 && write(2, buf, (size_t)n) < 0) {
		}
	}
	_exit(127);
}

/* ---------- re-exec from a private copy ----------
 * A container process must never be able to reach the host binary it was
 * started from (the /proc/self/exe overwrite attack, CVE-2019-5736). We run
 * from a sealed memfd copy, or where memfds may not be executed
 * (vm.memfd_noexec), from an unlinked O_TMPFILE copy; writing to
 * /proc/<pid>/exe then has nothing of the host's to overwrite. When no copy
 * can be made we refuse to go on: never fail open. */

#ifndef MFD_EXEC
#define MFD_EXEC 0x10u
#endif
/* The step number of the "cannot run from a copy" error (see launcher.ts). */
#define SELF_COPY_STEP 0xffffffffu

static int running_from_copy(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int seals = fcntl(fd, F_GET_SEALS);
	struct stat st;
	int sealed = seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SEAL);
	int unlinked = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0;
	close(fd);
	return sealed || unlinked;
}

static int copy_file(int src, int dst)
{
	struct stat st;
	if (fstat(src, &st) < 0)
		return -1;
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(dst, src, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			return -1;
	}
	return 0;
}

/* A sealed memfd copy; -1 and errno when memfds cannot be made or sealed. */
static int memfd_copy(int src)
{
	int mfd = (int)syscall(SYS_memfd_create, "tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* a kernel before MFD_EXEC (6.3) */
		mfd = (int)syscall(SYS_memfd_create, "tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -1;
	if (copy_file(src, mfd) < 0 || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(mfd);
		errno = e;
		return -1;
	}
	return mfd;
}

/* An unlinked copy in a directory of the host, reopened read-only (a file
 * open for writing cannot be executed). */
static int tmpfile_copy(int src, const char *dir)
{
	int rw = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0500);
	if (rw < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	int ro = copy_file(src, rw) < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	int e = errno;
	close(rw);
	errno = e;
	return ro;
}

/* Returns only when no protected copy could be executed, with errno set. */
static void reexec_from_copy(char **argv)
{
	extern char **environ;
	static const char *const dirs[] = {"/run", "/dev/shm", "/tmp", "/var/tmp"};
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return;
	int err = 0;
	int fd = memfd_copy(src);
	if (fd >= 0) {
		fexecve(fd, argv, environ);
		err = errno; /* e.g. EACCES under vm.memfd_noexec */
		close(fd);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		fd = tmpfile_copy(src, dirs[i]);
		if (fd < 0)
			continue;
		fexecve(fd, argv, environ);
		err = errno;
		close(fd);
	}
	close(src);
	errno = err ? err : errno;
}

/* ---------- path resolution inside the root ---------- */

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Open `path` inside the root with O_PATH, creating missing directories (and
 * an empty file for the last component with T_MKFILE) when asked. Every
 * lookup uses RESOLVE_IN_ROOT, so a symlink in the bundle can never lead
 * outside it. A symlink whose target does not exist yet is followed by
 * splicing its target into the path (absolute targets are relative to the
 * root), so what gets created is where the symlink points, inside the root.
 * Returns an fd or -errno. */
static int resolve_in_root(int rootfd, const char *path, unsigned tflags)
{
	int fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT || !(tflags & (T_MKDIR | T_MKFILE)))
		return fd >= 0 ? fd : -errno;

	char buf[4096], tmp[4096], link[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	int links = 0;
restart:;
	/* Walk prefixes: "a", "a/b", ... creating what is missing. */
	char *p = buf;
	while (*p == '/')
		p++;
	int parent = dup(rootfd);
	if (parent < 0)
		return -errno;
	while (*p) {
		char *slash = strchr(p, '/');
		char *rest = NULL;
		if (slash) {
			*slash = '\0';
			rest = slash + 1;
			while (*rest == '/')
				rest++;
			if (*rest == '\0')
				rest = NULL;
		}
		int last = rest == NULL;
		int next = openat2_in_root(rootfd, buf, O_PATH);
		if (next < 0 && errno == ENOENT) {
			int r;
			if (last && (tflags & T_MKFILE)) {
				r = openat(parent, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0)
					close(r);
			} else {
				r = mkdirat(parent, p, 0755);
			}
			if (r < 0 && errno == EEXIST && (tflags & T_FOLLOW_DANGLING)) {
				/* A dangling symlink: follow it by rewriting the path. */
				ssize_t n = readlinkat(parent, p, link, sizeof(link) - 1);
				if (n < 0) {
					int e = errno == EINVAL ? ENOENT : errno;
					close(parent);
					return -e;
				}
				link[n] = '\0';
				if (++links > 40) {
					close(parent);
					return -ELOOP;
				}
				/* prefix (the directories before this component) + link + rest */
				size_t plen = (size_t)(p - buf);
				int w;
				if (link[0] == '/')
					w = snprintf(tmp, sizeof(tmp), "%s%s%s", link, rest ? "/" : "", rest ? rest : "");
				else
					w = snprintf(tmp, sizeof(tmp), "%.*s%s%s%s", (int)plen, buf, link, rest ? "/" : "", rest ? rest : "");
				close(parent);
				if (w >= (int)sizeof(tmp))
					return -ENAMETOOLONG;
				memcpy(buf, tmp, (size_t)w + 1);
				goto restart;
			}
			if (r < 0) {
				int e = errno;
				close(parent);
				return -e;
			}
			next = openat2_in_root(rootfd, buf, O_PATH);
		}
		if (next < 0) {
			int e = errno;
			close(parent);
			return -e;
		}
		close(parent);
		parent = next;
		if (last)
			break;
		*slash = '/';
		p = rest;
	}
	return parent;
}


/* tmpcopyup: copy a directory tree (what the new tmpfs hides) into the new
 * mount, keeping modes, owners and symlinks. */
static int copy_tree(int src, int dst, int depth)
{
	if (depth > 64)
		return -ELOOP;
	int dfd = dup(src);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dst, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			int s2 = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d2 = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				r = -errno;
			else
				r = copy_tree(s2, d2, depth + 1);
			if (r == 0 && (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, st.st_mode & 07777) < 0))
				r = -errno;
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
		} else if (S_ISREG(st.st_mode)) {
			int in = openat(src, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int out = openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
			if (in < 0 || out < 0)
				r = -errno;
			off_t off = 0;
			while (r == 0 && off < st.st_size) {
				ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
				if (n <= 0)
					r = n < 0 ? -errno : -EIO;
			}
			if (r == 0 && (fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 07777) < 0))
				r = -errno;
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(src, e->d_name, target, sizeof(target) - 1);
			if (n < 0) {
				r = -errno;
				break;
			}
			target[n] = '\0';
			if (symlinkat(target, dst, e->d_name) < 0 || fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				r = -errno;
		} else if (mknodat(dst, e->d_name, st.st_mode, st.st_rdev) < 0 ||
			   fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		}
	}
	closedir(d);
	return r;
}

/* A target inside the root as an O_PATH fd (never a path through the
 * container's /proc), checked as its flags demand. Returns the fd or -errno. */
static int resolve_target(const char *target, unsigned tflags)
{
	if (slots[ROOT_SLOT] < 0)
		return -EBADF;
	int fd = resolve_in_root(slots[ROOT_SLOT], target, tflags);
	if (fd < 0)
		return fd;
	if (tflags & T_PLAIN_DIR) {
		/* Resolved again without following any symlink: a symlinked
		 * /proc or /sys must not move where procfs or sysfs lands. */
		struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS};
		const char *rel = target;
		while (*rel == '/')
			rel++;
		int plain = (int)syscall(SYS_openat2, slots[ROOT_SLOT], *rel ? rel : ".", &how, sizeof(how));
		int e = errno;
		close(fd);
		if (plain < 0)
			return -e;
		fd = plain;
	}
	struct statfs sf;
	if ((tflags & T_NOT_PROCFS) && (fstatfs(fd, &sf) < 0 || sf.f_type == PROC_MAGIC)) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

/* ---------- individual steps ---------- */

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The deadline `timeout_s` seconds from now (0: none). Saturates: a huge
 * timeout is a deadline that never comes, not one that wraps around. */
static uint64_t deadline_after(uint64_t timeout_s)
{
	if (timeout_s == 0)
		return 0;
	uint64_t now = now_ms();
	if (timeout_s > (UINT64_MAX - now) / 1000u)
		return UINT64_MAX;
	return now + timeout_s * 1000u;
}

/* What poll() may wait for before the deadline: -1 for none, else at most
 * INT_MAX ms (a longer wait does not fit its int: callers loop). */
static int poll_wait(uint64_t deadline)
{
	if (deadline == 0)
		return -1;
	uint64_t now = now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* Feed the hook its state on a non-blocking pipe while watching it exit,
 * all within the deadline: a hook that never reads a state larger than the
 * pipe must not stall the init. Returns 0 once the hook has exited (the
 * pipe closed), -ETIMEDOUT at the deadline, or -errno. */
static int feed_hook(int wfd, int pidfd, uint64_t deadline)
{
	size_t off = 0;
	if (go_payload_len == 0 || fcntl(wfd, F_SETFL, O_NONBLOCK) < 0) {
		close(wfd);
		wfd = -1;
	}
	int r = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = wfd, .events = POLLOUT}};
		int n = poll(p, wfd >= 0 ? 2 : 1, poll_wait(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (p[0].revents)
			break; /* the hook exited */
		if (n == 0) {
			if (now_ms() >= deadline) {
				r = -ETIMEDOUT;
				break;
			}
			continue; /* a wait of INT_MAX ms ended, the deadline is further */
		}
		if (wfd >= 0 && p[1].revents) {
			/* POLLERR alone: the hook closed its stdin. */
			int done = !(p[1].revents & POLLOUT);
			if (!done) {
				ssize_t w = write(wfd, go_payload + off, go_payload_len - off);
				if (w > 0)
					off += (size_t)w;
				done = off == go_payload_len || (w < 0 && errno != EAGAIN && errno != EINTR);
			}
			if (done) {
				close(wfd);
				wfd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	return r;
}

/* Runs a hook with the state on its stdin, within its timeout (the state
 * included). The wait status goes to *status. */
static int do_hook(const char *path, char **args, char **env, uint64_t timeout_s, int cwd_fd, uint32_t *status)
{
	uint64_t deadline = deadline_after(timeout_s);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		/* stdin, stdout and stderr only: the control socket, the slots
		 * and whatever else the init holds are not the hook's. */
		if ((cwd_fd >= 0 && fchdir(cwd_fd) < 0) || dup2(pfd[0], 0) < 0 || syscall(SYS_close_range, 3, ~0u, 0) < 0)
			_exit(127);
		execve(path, args, env);
		_exit(127);
	}
	close(pfd[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int r = pidfd < 0 ? -errno : 0;
	if (r == 0) {
		/* A hook that closes its stdin early must not kill us with SIGPIPE. */
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;
		sigaction(SIGPIPE, &ign, &old);
		r = feed_hook(pfd[1], pidfd, deadline);
		sigaction(SIGPIPE, &old, NULL);
		close(pidfd);
	} else {
		close(pfd[1]);
	}
	if (r < 0)
		kill(pid, SIGKILL);
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return r < 0 ? r : -errno;
	*status = (uint32_t)ws;
	if (r < 0)
		return r;
	return ws == 0 ? 0 : -ECHILD;
}

/* A hook that fails after the runtime is gone (startContainer) has only the
 * container's stderr to be reported on: say which hook and how. */
static void __attribute__((noreturn)) hook_failed_late(const char *label, int err, uint32_t ws, uint64_t timeout_s)
{
	char buf[512];
	int n;
	/* "error running hook" as runc words it (clients and its tests look for it). */
	if (err == ETIMEDOUT) {
		n = snprintf(buf, sizeof(buf), "tsrun-init: error running hook: %s: timed out after %llus\n", label, (unsigned long long)timeout_s);
	} else if (err == ECHILD && WIFEXITED(ws)) {
		n = snprintf(buf, sizeof(buf), "tsrun-init: error running hook: %s: exit status %d\n", label, WEXITSTATUS(ws));
	} else if (err == ECHILD && WIFSIGNALED(ws)) {
		char name[64];
		snprintf(name, sizeof(name), "%s", strsignal(WTERMSIG(ws)));
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		n = snprintf(buf, sizeof(buf), "tsrun-init: error running hook: %s: killed by signal %d (%s)\n", label, WTERMSIG(ws), name);
	} else {
		n = snprintf(buf, sizeof(buf), "tsrun-init: error running hook: %s: %s\n", label, strerror(err));
	}
	if (n > 0 && write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0) {
	}
	_exit(127);
}

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

/* Sends len bytes of data with one fd attached (SCM_RIGHTS); -1 and errno on failure. */
static int send_fd(int sock, const void *data, size_t len, int fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Binds the pty (peer) over <dir>/console inside the root: a file created
 * there with O_EXCL, or an existing regular file or character device, never
 * through a symlink and never on procfs (CVE-2025-52565 class). */
static int bind_console(int peer, const char *dir)
{
	int dfd = resolve_target(dir, T_IN_ROOT | T_NOT_PROCFS);
	if (dfd < 0)
		return dfd;
	int w = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dfd);
	if (w < 0)
		return -errno;
	int f = openat(w, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f >= 0)
		close(f);
	else if (errno != EEXIST) {
		int e = errno;
		close(w);
		return -e;
	}
	int target = openat(w, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(w);
	if (target < 0)
		return -e;
	struct stat st;
	int r = fstat(target, &st) < 0 ? -errno : (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) ? 0 : -EEXIST;
	int mnt = r == 0 ? mfd_clone(peer, NULL, 0) : -1;
	if (r == 0)
		r = mnt < 0 ? mnt : mfd_attach(mnt, target);
	if (mnt >= 0)
		close(mnt);
	close(target);
	return r;
}

/* A new pty from the ptmx at ptmx_path, which must be the device
 * ptmx_major:ptmx_minor (the container's /dev is the container's); the
 * master goes to the console socket, the peer becomes our terminal and,
 * when console_dir is set, the container's <console_dir>/console. */
static int do_console(int sock, const char *ptmx_path, unsigned ptmx_major, unsigned ptmx_minor, const char *console_dir, const struct winsize *ws)
{
	/* No magic links: the container's /dev/ptmx must not lead to one of
	 * our own fds. */
	struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
	int master = (int)syscall(SYS_openat2, AT_FDCWD, ptmx_path, &how, sizeof(how));
	if (master < 0)
		return -errno;
	struct stat st;
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != ptmx_major || minor(st.st_rdev) != ptmx_minor)
		return -ENXIO;
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return -errno;
	if (ws->ws_row && ws->ws_col && ioctl(master, TIOCSWINSZ, ws) < 0)
		return -errno;
	int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (peer < 0)
		return -errno;
	int ptyno = 0;
	char name[64];
	if (ioctl(master, TIOCGPTN, &ptyno) < 0)
		return -errno;
	snprintf(name, sizeof(name), "/dev/pts/%d", ptyno);
	if (console_dir[0]) {
		int r = bind_console(peer, console_dir);
		if (r < 0)
			return r;
	}

	/* The pty's name goes as the payload, the master as SCM_RIGHTS. */
	if (send_fd(sock, name, strlen(name), master) < 0)
		return -errno;
	close(master);
	close(sock);

	if (setsid() < 0 && errno != EPERM)
		return -errno;
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		if (dup2(peer, i) < 0)
			return -errno;
	if (peer > 2)
		close(peer);
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

/* Bind-remount with new flags. Inside a user namespace the kernel refuses to
 * clear flags that were locked by the mount's owner (nosuid, nodev, noexec,
 * atime): keep those and try again, as the kernel demands. */
static int do_remount(const char *path, unsigned long flags)
{
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return -errno;
	unsigned long locked = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags | locked, NULL) < 0)
		return -errno;
	return 0;
}

/* Masks the file or directory at target: a read-only tmpfs over a
 * directory, else a bind of the null device in slot null_slot (which the
 * runtime opened and checked with OP_EXPECT_DEV), never whatever the
 * container's /dev/null is. */
static int do_mask(int target, int null_slot)
{
	struct stat st;
	if (fstat(target, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		if (null_slot < 0 || !slot_open(null_slot))
			return -EBADF;
		/* The slot holds a detached bind of the null device made before
		 * pivot_root: the first mask attaches it, later ones clone it
		 * (a mount can be cloned once it is in our namespace). */
		static int null_attached;
		if (!null_attached) {
			int r = mfd_attach(slots[null_slot], target);
			null_attached = r == 0;
			return r;
		}
	}
	int mnt = S_ISDIR(st.st_mode) ? mfd_new_fs("tmpfs", "tmpfs", "", MS_RDONLY) : mfd_clone(slots[null_slot], NULL, 0);
	if (mnt < 0)
		return mnt;
	int r = mfd_attach(mnt, target);
	close(mnt);
	return r;
}

/* Opens path (no magic links) and checks that it is on the file system
 * `magic` (0: any). A file that cannot be opened is checked too, so that a
 * decoy on a read-only file system is reported as what it is. -EXDEV when
 * it is elsewhere; -errno otherwise. */
static int open_checked(const char *path, int flags, uint64_t magic)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	int err = errno;
	if (!magic)
		return fd < 0 ? -err : fd;
	int probe = fd;
	if (fd < 0) {
		struct open_how ph = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
		probe = (int)syscall(SYS_openat2, AT_FDCWD, path, &ph, sizeof(ph));
	}
	struct statfs sf;
	int elsewhere = probe >= 0 && fstatfs(probe, &sf) == 0 && (uint64_t)sf.f_type != magic;
	if (probe >= 0 && probe != fd)
		close(probe);
	if (elsewhere) {
		if (fd >= 0)
			close(fd);
		return -EXDEV;
	}
	return fd < 0 ? -err : fd;
}

/* chdir without following a magic link (/proc/self/fd/N, CVE-2024-21626).
 * A seccomp profile written for runc may refuse openat2 (EPERM, ENOSYS): then
 * chdir(2) as runc does, and refuse a working directory outside our root
 * (the kernel's getcwd marks it "(unreachable)"), as runc checks too. */
static int chdir_checked(const char *path)
{
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
	int dfd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
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

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

/* tmpcopyup: what the target directory held goes into the detached mount. */
static int copy_up(int target, int mnt)
{
	int hidden = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int top = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat hs;
	int r = hidden < 0 || top < 0 ? -errno : copy_tree(hidden, top, 0);
	if (r == 0 && (fstat(hidden, &hs) < 0 || fchown(top, hs.st_uid, hs.st_gid) < 0 || fchmod(top, hs.st_mode & 07777) < 0))
		r = -errno;
	if (hidden >= 0)
		close(hidden);
	if (top >= 0)
		close(top);
	return r;
}

/* What a mount step does to its new mount besides making it. Applied to
 * the mount's own fd, never by resolving the destination again: once a
 * volume is mounted there, the image's symlinks could make the same path
 * lead to another mount (/sys, a cgroup) and the options land there. */
struct mount_opts {
	unsigned long remount; /* MS_* flags of a bind's remount (0: none) */
	uint64_t rec_set, rec_clr; /* MOUNT_ATTR_* set/cleared recursively */
	unsigned long propagation; /* MS_SHARED/... (| MS_REC), after attaching */
	uint64_t keep_slot; /* the attached mount's fd is kept there (NO_SLOT: not) */
	uint64_t src_slot; /* a bind's source, cloned earlier into this slot (NO_SLOT: by path) */
};

static void get_mount_opts(struct cursor *c, struct mount_opts *o)
{
	o->remount = (unsigned long)get_u64(c);
	o->rec_set = get_u64(c);
	o->rec_clr = get_u64(c);
	o->propagation = (unsigned long)get_u64(c);
	o->keep_slot = get_u64(c);
	o->src_slot = get_u64(c);
	if (o->keep_slot != NO_SLOT && (o->keep_slot < KEPT_SLOT || o->keep_slot >= SOURCE_SLOT))
		c->bad = 1;
	if (o->src_slot != NO_SLOT && (o->src_slot < SOURCE_SLOT || o->src_slot >= MAX_SLOTS || slots[o->src_slot] < 0))
		c->bad = 1;
}

/* Attributes on the detached mount, then onto the target, then propagation
 * (which belongs to the attached mount). */
static int attach_with(int mnt, int target, const struct mount_opts *o, unsigned tflags)
{
	int r = 0;
	if (o->remount)
		r = mfd_remount(mnt, o->remount, (tflags & T_KEEP_LOCKED) != 0);
	if (r == 0 && (o->rec_set || o->rec_clr))
		r = mfd_setattr(mnt, o->rec_set, o->rec_clr, 0, 1);
	if (r == 0)
		r = mfd_attach(mnt, target);
	if (r == 0 && o->propagation)
		r = mfd_propagation(mnt, o->propagation, (o->propagation & MS_REC) != 0);
	if (r == 0 && o->keep_slot != NO_SLOT) {
		int kept = fcntl(mnt, F_DUPFD_CLOEXEC, 3);
		if (kept < 0)
			return -errno;
		slots[o->keep_slot] = kept;
	}
	return r;
}

/* A mount onto a target inside the root: a bind (of a host path, or of a
 * path inside the root), a propagation change, or a new file system; each
 * made detached and moved onto the target's fd. */
static int do_mount_in_root(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data, unsigned tflags,
			    const struct mount_opts *o)
{
	int tfd = resolve_target(target, tflags);
	if (tfd < 0)
		return tfd;
	int r, mnt;
	if (flags & MS_REMOUNT) {
		r = mfd_remount(tfd, flags & ~(unsigned long)(MS_REMOUNT | MS_BIND), (tflags & T_KEEP_LOCKED) != 0);
		close(tfd);
		return r;
	}
	if (!(flags & MS_BIND) && !src[0] && !fstype[0] && (flags & PROPAGATION_FLAGS)) {
		r = mfd_propagation(tfd, flags, (flags & MS_REC) != 0);
		close(tfd);
		return r;
	}
	if (!(flags & MS_BIND)) {
		mnt = mfd_new_fs(fstype, src, data, flags);
	} else if (o->src_slot != NO_SLOT) {
		mnt = slots[o->src_slot]; /* ours now: closed below */
		slots[o->src_slot] = -1;
	} else if (tflags & T_SRC_IN_ROOT) {
		int sfd = resolve_in_root(slots[ROOT_SLOT], src, 0);
		mnt = sfd < 0 ? sfd : mfd_clone(sfd, NULL, (flags & MS_REC) != 0);
		if (sfd >= 0)
			close(sfd);
	} else {
		mnt = mfd_clone(AT_FDCWD, src, (flags & MS_REC) != 0);
	}
	r = mnt < 0 ? mnt : 0;
	if (r == 0 && (tflags & T_COPYUP))
		r = copy_up(tfd, mnt);
	if (r == 0)
		r = attach_with(mnt, tfd, o, tflags);
	if (mnt >= 0)
		close(mnt);
	close(tfd);
	return r;
}

/* Mirror the init's fate in stage 0, so `tsrun run` sees the container's
 * exit code: its status, or 128+signal when a signal killed it. */
static int early; /* started by the tsrun command: the runtime is not our parent */

/* ignore: bit n set = signal n is ignored while relaying (the plan says which). */
static void __attribute__((noreturn)) relay(pid_t child, uint64_t ignore)
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
	if (early)
		send_msg(MSG_EXIT, 0, 0, (uint32_t)code);
	_exit(code);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* cgroup_fd >= 0: the child starts in that cgroup v2 directory. Unlike a
 * write to cgroup.procs, this needs no RCU grace period in the kernel. */
static pid_t do_clone(uint64_t flags, int cgroup_fd)
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

static void close_cgroup_slots(void)
{
	for (int i = CGROUP_SLOT; i < CGROUP_END; i++)
		if (slots[i] >= 0) {
			close(slots[i]);
			slots[i] = -1;
		}
}

/* ---------- the step loop ---------- */

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "tsrun-init: this program is started by tsrun, not by hand\n");
		return 2;
	}
	ctrl_fd = atoi(argv[1]);
	if (!running_from_copy()) {
		reexec_from_copy(argv);
		/* The runtime reports it (launcher.ts): one line, its words. */
		send_msg(MSG_ERROR, SELF_COPY_STEP, errno ? errno : ENOEXEC, 0);
		return 2;
	}

	/* Not dumpable while we hold host resources: no ptrace, no /proc/<pid>/
	 * access from the container until execve resets it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	for (int i = 0; i < MAX_SLOTS; i++)
		slots[i] = -1;
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
	if (argc > 2 && strcmp(argv[2], "early") == 0) {
		/* Started by the tsrun command before Node (native/tsrun-launch.c),
		 * with everything the command inherited. The runtime first says how
		 * many of those fds (3, 4, ...) the container keeps (--preserve-fds);
		 * the rest goes now. */
		early = 1;
		uint32_t keep;
		if (read_full(ctrl_fd, &keep, 4) < 0 || keep > (uint32_t)ctrl_fd - 3)
			return 2;
		if (3 + (int)keep < ctrl_fd)
			syscall(SYS_close_range, 3 + keep, (unsigned)ctrl_fd - 1, 0);
		syscall(SYS_close_range, (unsigned)ctrl_fd + 1, ~0u, 0);
	} else {
		/* Anything above the control socket and the fds passed after it
		 * was inherited by accident (the runtime's own parent's pipes,
		 * say): close it now, so a waiting init holds nothing it should not. */
		int extra = argc > 2 ? atoi(argv[2]) : 0;
		syscall(SYS_close_range, (unsigned)(ctrl_fd + 1 + extra), ~0u, 0);
	}

	uint32_t plan_len;
	if (read_full(ctrl_fd, &plan_len, 4) < 0 || plan_len > (64u << 20))
		return 2;
	uint8_t *plan = malloc(plan_len);
	if (!plan || read_full(ctrl_fd, plan, plan_len) < 0)
		return 2;

	struct cursor top = {plan, plan + plan_len, 0};
	uint32_t step = 0;
	while (top.p < top.end) {
		uint32_t op = get_u32(&top);
		uint32_t len = get_u32(&top);
		if (top.bad || (size_t)(top.end - top.p) < len)
			fail(step, EINVAL, 0);
		struct cursor c = {top.p, top.p + len, 0};
		top.p += len;
		int r = 0;
		uint32_t aux = 0;
		int tfd = -1;

		switch (op) {
		case OP_SETNS: {
			const char *path = get_str(&c, NULL);
			int nstype = (int)get_u64(&c);
			if (c.bad)
				break;
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, nstype) < 0)
				r = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		case OP_UNSHARE: {
			int flags = (int)get_u64(&c);
			if (!c.bad && unshare(flags) < 0)
				r = -errno;
			break;
		}
		case OP_WRITE_FILE: {
			uint32_t n;
			const char *path = get_str(&c, NULL);
			const char *data = get_str(&c, &n);
			uint64_t magic = get_u64(&c); /* the file system it must be on; 0: any */
			if (c.bad)
				break;
			/* No magic links, and on the file system the plan names: a
			 * procfs file must not be a decoy the image put in /proc. */
			int fd = open_checked(path, O_WRONLY, magic);
			if (fd < 0 || write(fd, data, n) != (ssize_t)n)
				r = fd < 0 ? fd : -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		case OP_MKFIFO: {
			const char *path = get_str(&c, NULL);
			mode_t mode = (mode_t)get_u64(&c);
			uid_t uid = (uid_t)get_u64(&c);
			gid_t gid = (gid_t)get_u64(&c);
			if (c.bad)
				break;
			if (mkfifo(path, 0) < 0 || chmod(path, mode) < 0 || chown(path, uid, gid) < 0)
				r = -errno;
			break;
		}
		case OP_CLONE: {
			uint64_t flags = get_u64(&c);
			uint64_t relay_mode = get_u64(&c);
			uint64_t cg_slot = get_u64(&c);
			uint64_t relay_ignore = get_u64(&c); /* signals the relay ignores */
			if (c.bad || (cg_slot != NO_SLOT && !slot_open(cg_slot))) {
				c.bad = 1;
				break;
			}
			pid_t pid = do_clone(flags, cg_slot == NO_SLOT ? -1 : slots[cg_slot]);
			if (pid < 0) {
				r = -errno;
				break;
			}
			if (pid > 0) {
				close_cgroup_slots();
				send_msg(MSG_PID, step, 0, (uint32_t)pid);
				if (relay_mode) {
					if (!early)
						close(ctrl_fd);
					relay(pid, relay_ignore);
				}
				_exit(0);
			}
			if (cg_slot != NO_SLOT) {
				close(slots[cg_slot]);
				slots[cg_slot] = -1;
			}
			break;
		}
		case OP_WAIT_GO: {
			struct msg m;
			if (recv_go(&m) < 0 || m.type != MSG_GO) {
				/* The parent went away or refused: give up quietly. */
				_exit(1);
			}
			if (m.val > 0) {
				char *buf = malloc(m.val);
				if (!buf || read_full(ctrl_fd, buf, m.val) < 0)
					_exit(1);
				uint32_t n1 = 0, n2 = 0;
				if (m.val >= 4)
					memcpy(&n1, buf, 4);
				if (m.val >= 8 + (size_t)n1)
					memcpy(&n2, buf + 4 + n1, 4);
				if (8 + (size_t)n1 + n2 > m.val)
					_exit(1);
				go_payload = buf + 4;
				go_payload_len = n1;
				agent_payload = buf + 8 + n1;
				agent_payload_len = n2;
			}
			break;
		}
		case OP_SETID: {
			uid_t uid = (uid_t)get_u64(&c);
			gid_t gid = (gid_t)get_u64(&c);
			if (c.bad)
				break;
			if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
				r = -errno;
			break;
		}
		case OP_SETSID:
			if (setsid() < 0)
				r = -errno;
			break;
		case OP_SET_DUMPABLE: {
			uint64_t v = get_u64(&c);
			if (!c.bad && prctl(PR_SET_DUMPABLE, (unsigned long)v, 0, 0, 0) < 0)
				r = -errno;
			break;
		}
		case OP_MOUNT: {
			const char *src = get_str(&c, NULL);
			const char *target = get_str(&c, NULL);
			const char *fstype = get_str(&c, NULL);
			unsigned long flags = (unsigned long)get_u64(&c);
			const char *data = get_str(&c, NULL);
			unsigned tflags = (unsigned)get_u64(&c);
			struct mount_opts o;
			get_mount_opts(&c, &o);
			if (c.bad)
				break;
			if (!(tflags & T_IN_ROOT)) {
				/* A host-side path the runtime chose (the rootfs, "/"). */
				if (mount(src[0] ? src : NULL, target, fstype[0] ? fstype : NULL, flags, data[0] ? data : NULL) < 0)
					r = -errno;
				break;
			}
			r = do_mount_in_root(src, target, fstype, flags, data, tflags, &o);
			if (r == -ENOENT && (tflags & T_IGNORE_ENOENT))
				r = 0;
			break;
		}
		case OP_REMOUNT: {
			const char *target = get_str(&c, NULL);
			unsigned long flags = (unsigned long)get_u64(&c);
			unsigned tflags = (unsigned)get_u64(&c);
			if (c.bad)
				break;
			if (!(tflags & T_IN_ROOT)) {
				r = do_remount(target, flags);
				break;
			}
			tfd = resolve_target(target, tflags);
			r = tfd < 0 ? tfd : mfd_remount(tfd, flags, (tflags & T_KEEP_LOCKED) != 0);
			if (r == -ENOENT && (tflags & T_IGNORE_ENOENT))
				r = 0;
			break;
		}
		case OP_MASK: {
			const char *path = get_str(&c, NULL);
			uint64_t null_slot = get_u64(&c);
			unsigned tflags = (unsigned)get_u64(&c);
			if (c.bad)
				break;
			tfd = resolve_target(path, tflags | T_IN_ROOT);
			r = tfd < 0 ? tfd : do_mask(tfd, (int)null_slot);
			if (r == -ENOENT && (tflags & T_IGNORE_ENOENT))
				r = 0;
			break;
		}
		case OP_EXPECT_DEV: {
			/* The fd in the slot must be this device node (e.g. the
			 * null device masks are made of): refuse anything else. */
			uint64_t slot = get_u64(&c);
			uint64_t type = get_u64(&c);
			uint64_t major = get_u64(&c), minor = get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			struct stat st;
			if (fstat(slots[slot], &st) < 0)
				r = -errno;
			else if ((st.st_mode & S_IFMT) != (mode_t)type || major(st.st_rdev) != major || minor(st.st_rdev) != minor)
				r = -ENODEV;
			break;
		}
		case OP_CLONE_MOUNT: {
			/* The slot's fd becomes a detached copy of the mount it is
			 * on (a file or directory bind), usable after pivot_root. */
			uint64_t slot = get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			int m = mfd_clone(slots[slot], NULL, 0);
			if (m < 0) {
				r = m;
				break;
			}
			close(slots[slot]);
			slots[slot] = m;
			break;
		}
		case OP_UMOUNT: {
			/* Detach a host mount from the container's view; where that
			 * is refused (a user namespace), cover it with an empty
			 * tmpfs when the plan says so. A path already gone is fine. */
			const char *path = get_str(&c, NULL);
			uint64_t cover = get_u64(&c);
			if (c.bad)
				break;
			if (mount(NULL, path, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
				r = errno == ENOENT || errno == EINVAL ? 0 : -errno;
				break;
			}
			if (umount2(path, MNT_DETACH) == 0)
				break;
			if ((errno != EINVAL && errno != EPERM) || !cover)
				r = -errno;
			else if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
				r = -errno;
			break;
		}
		case OP_MKNOD: {
			/* Made in its parent directory, resolved inside the root. */
			const char *dir = get_str(&c, NULL);
			const char *name = get_str(&c, NULL);
			mode_t mode = (mode_t)get_u64(&c);
			dev_t dev = (dev_t)get_u64(&c);
			uid_t uid = (uid_t)get_u64(&c);
			gid_t gid = (gid_t)get_u64(&c);
			if (c.bad)
				break;
			int dfd = resolve_in_root(slots[ROOT_SLOT], dir, T_MKDIR | T_FOLLOW_DANGLING);
			if (dfd < 0) {
				r = dfd;
				break;
			}
			/* O_PATH fds cannot be used with mknodat; reopen the directory. */
			int real = openat(dfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
			close(dfd);
			if (real < 0) {
				r = -errno;
				break;
			}
			if (strchr(name, '/')) { /* the runtime split the path: a name is one component */
				close(real);
				r = -EINVAL;
				break;
			}
			unlinkat(real, name, 0);
			if (mknodat(real, name, mode, dev) < 0 || fchownat(real, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(real, name, mode & 07777, 0) < 0)
				r = -errno;
			close(real);
			break;
		}
		case OP_SYMLINK: {
			const char *target = get_str(&c, NULL);
			const char *link = get_str(&c, NULL);
			uint64_t exist_ok = get_u64(&c); /* an existing entry at link is fine */
			if (c.bad)
				break;
			if (symlink(target, link) < 0 && !(errno == EEXIST && exist_ok))
				r = -errno;
			break;
		}
		case OP_SET_ROOT: {
			const char *path = get_str(&c, NULL);
			if (c.bad)
				break;
			int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				r = -errno;
				break;
			}
			if (slots[ROOT_SLOT] >= 0)
				close(slots[ROOT_SLOT]);
			slots[ROOT_SLOT] = fd;
			break;
		}
		case OP_PIVOT_ROOT: {
			const char *root = get_str(&c, NULL);
			if (c.bad)
				break;
			/* pivot_root(".", "."): the old root ends up stacked under the
			 * new one, and is detached right away without a temp directory.
			 * Make it a slave first so the unmount does not reach the host. */
			if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
			    mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
				r = -errno;
			break;
		}
		case OP_MOVE_ROOT: {
			const char *root = get_str(&c, NULL);
			if (c.bad)
				break;
			if (chdir(root) < 0 || mount(root, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
				r = -errno;
			break;
		}
		case OP_SETHOSTNAME:
		case OP_SETDOMAINNAME: {
			uint32_t n;
			const char *name = get_str(&c, &n);
			if (c.bad)
				break;
			if ((op == OP_SETHOSTNAME ? sethostname(name, n) : setdomainname(name, n)) < 0)
				r = -errno;
			break;
		}
		case OP_RLIMIT: {
			int res = (int)get_u64(&c);
			struct rlimit rl = {.rlim_cur = get_u64(&c), .rlim_max = get_u64(&c)};
			if (!c.bad && setrlimit(res, &rl) < 0)
				r = -errno;
			break;
		}
		case OP_HOOK: {
			const char *path = get_str(&c, NULL);
			char **args = get_strv(&c);
			char **env = get_strv(&c);
			uint64_t timeout = get_u64(&c);
			const char *label = get_str(&c, NULL);
			uint64_t cwd_slot = get_u64(&c); /* the hook's working directory, or NO_SLOT */
			if (c.bad || (cwd_slot != NO_SLOT && !slot_open(cwd_slot))) {
				c.bad = 1;
				break;
			}
			r = do_hook(path, args, env, timeout, cwd_slot == NO_SLOT ? -1 : slots[cwd_slot], &aux);
			free(args);
			free(env);
			if (r < 0 && ctrl_fd < 0)
				hook_failed_late(label, -r, aux, timeout);
			break;
		}
		case OP_JOIN_CGROUP: {
			/* "0" to a v1 `tasks` file opened by stage 0: moves this
			 * single-threaded process without the global lock (and RCU
			 * wait) a write of a pid to cgroup.procs takes. */
			uint64_t slot = get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			if (write(slots[slot], "0", 1) != 1)
				r = -errno;
			close(slots[slot]);
			slots[slot] = -1;
			break;
		}
		case OP_PIDFD_OPEN: {
			/* A pidfd for a process the runtime knows by pid and start
			 * time: if the pid was reused, the start time differs. Checked
			 * after the open, so the pidfd is the process that was checked. */
			pid_t pid = (pid_t)get_u64(&c);
			uint64_t start = get_u64(&c);
			uint64_t slot = get_u64(&c);
			if (c.bad || slot >= MAX_SLOTS || pid <= 0) {
				c.bad = 1;
				break;
			}
			int fd = (int)syscall(SYS_pidfd_open, pid, 0);
			uint64_t actual = 0;
			if (fd < 0) {
				r = -errno;
				break;
			}
			r = proc_start_time(pid, &actual);
			if (r == 0 && actual != start)
				r = -ESRCH;
			if (r < 0)
				close(fd);
			else
				slots[slot] = fd;
			break;
		}
		case OP_SETNS_PIDFD: {
			/* One namespace of the pidfd's process; the pidfd stays for the next. */
			uint64_t slot = get_u64(&c);
			int nstype = (int)get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			if (setns(slots[slot], nstype) < 0)
				r = -errno;
			break;
		}
		case OP_PIDFD_ALIVE: {
			/* Signal 0 through the pidfd: fails (ESRCH) once the process has
			 * exited, so what was opened by its pid before was still its. */
			uint64_t slot = get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
			if (syscall(SYS_pidfd_send_signal, slots[slot], 0, NULL, 0) < 0)
				r = -errno;
			break;
		}
		case OP_CHROOT_SLOT: {
			/* Into a directory opened earlier (another process's root). */
			uint64_t slot = get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			if (fchdir(slots[slot]) < 0 || chroot(".") < 0 || chdir("/") < 0)
				r = -errno;
			close(slots[slot]);
			slots[slot] = -1;
			break;
		}
		case OP_OPEN_PATH: {
			const char *path = get_str(&c, NULL);
			uint64_t slot = get_u64(&c);
			int flags = (int)get_u64(&c);
			if (c.bad || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			int fd = open(path, flags | O_CLOEXEC);
			if (fd < 0)
				r = -errno;
			else
				slots[slot] = fd;
			break;
		}
		case OP_CONNECT: {
			const char *path = get_str(&c, NULL);
			uint64_t slot = get_u64(&c);
			if (c.bad || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			if (strlen(path) >= sizeof(sa.sun_path)) {
				r = -ENAMETOOLONG;
				break;
			}
			strcpy(sa.sun_path, path);
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				r = -errno;
				if (fd >= 0)
					close(fd);
			} else {
				slots[slot] = fd;
			}
			break;
		}
		case OP_CONSOLE: {
			uint64_t slot = get_u64(&c);
			const char *ptmx = get_str(&c, NULL);
			unsigned ptmx_major = (unsigned)get_u64(&c), ptmx_minor = (unsigned)get_u64(&c);
			const char *console_dir = get_str(&c, NULL);
			struct winsize ws = {.ws_row = (unsigned short)get_u64(&c), .ws_col = (unsigned short)get_u64(&c)};
			if (c.bad || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			r = do_console(slots[slot], ptmx, ptmx_major, ptmx_minor, console_dir, &ws);
			slots[slot] = -1;
			break;
		}
		case OP_EXEC_CHECK: {
			char **cands = get_strv(&c);
			if (c.bad)
				break;
			r = -ENOENT;
			for (char **p = cands; *p; p++) {
				struct stat st;
				if (stat(*p, &st) == 0 && S_ISREG(st.st_mode)) {
					if (access(*p, X_OK) == 0) {
						exec_path = *p;
						r = 0;
						break;
					}
					r = -EACCES;
				}
			}
			/* cands itself stays allocated: exec_path points into the plan. */
			break;
		}
		case OP_READY:
			send_msg(MSG_READY, step, 0, 0);
			close(ctrl_fd);
			ctrl_fd = -1;
			break;
		case OP_FIFO: {
			uint64_t slot = get_u64(&c);
			if (c.bad || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			const char *name = get_str(&c, NULL);
			if (c.bad)
				break;
			/* The slot holds the state directory (O_PATH): openat needs no
			 * /proc, which a container without a mount namespace lacks.
			 * Blocks until `tsrun start` opens the fifo for reading. */
			int fd = openat(slots[slot], name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0 || write(fd, "0", 1) != 1)
				r = -errno;
			if (fd >= 0)
				close(fd);
			close(slots[slot]);
			slots[slot] = -1;
			break;
		}
		case OP_NO_NEW_PRIVS:
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				r = -errno;
			break;
		case OP_SECCOMP: {
			uint32_t n = get_u32(&c);
			if (c.bad || n % sizeof(struct sock_filter) || (size_t)(c.end - c.p) < n) {
				c.bad = 1;
				break;
			}
			/* Copy: the program must be aligned for the kernel. */
			struct sock_filter *insns = malloc(n ? n : 1);
			if (!insns) {
				r = -ENOMEM;
				break;
			}
			memcpy(insns, c.p, n);
			c.p += n;
			uint64_t flags = get_u64(&c);
			struct sock_fprog prog = {.len = (unsigned short)(n / sizeof(struct sock_filter)), .filter = insns};
			long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)flags, &prog);
			if (fd < 0)
				r = -errno;
			else if (flags & 8 /* SECCOMP_FILTER_FLAG_NEW_LISTENER */)
				slots[LISTENER_SLOT] = (int)fd;
			free(insns);
			break;
		}
		case OP_CAPBSET_DROP: {
			uint64_t keep = get_u64(&c);
			uint64_t last = get_u64(&c);
			if (c.bad)
				break;
			for (uint64_t cap = 0; cap <= last && cap < 64; cap++)
				if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
					r = -errno;
					break;
				}
			break;
		}
		case OP_USER: {
			uid_t uid = (uid_t)get_u64(&c);
			gid_t gid = (gid_t)get_u64(&c);
			uint32_t ngroups = get_u32(&c);
			if (c.bad || ngroups > 65536) {
				c.bad = 1;
				break;
			}
			gid_t *groups = calloc(ngroups + 1, sizeof(gid_t));
			for (uint32_t i = 0; groups && i < ngroups; i++)
				groups[i] = (gid_t)get_u64(&c);
			uint64_t set_groups = get_u64(&c);
			if (c.bad || !groups) {
				free(groups);
				r = groups ? 0 : -ENOMEM;
				break;
			}
			/* Keep the permitted set across the uid change; OP_CAPSET
			 * then sets exactly the configured capabilities. */
			if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || (set_groups && setgroups(ngroups, groups) < 0) ||
			    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
				r = -errno;
			free(groups);
			break;
		}
		case OP_CAPSET: {
			uint64_t eff = get_u64(&c), perm = get_u64(&c), inh = get_u64(&c), amb = get_u64(&c);
			if (c.bad)
				break;
			if (capset_all(eff, perm, inh) < 0) {
				r = -errno;
				break;
			}
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
				r = -errno;
				break;
			}
			for (int cap = 0; cap < 64; cap++)
				if ((amb & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
					r = -errno;
					break;
				}
			break;
		}
		case OP_UMASK: {
			uint64_t m = get_u64(&c);
			if (!c.bad)
				umask((mode_t)m);
			break;
		}
		case OP_CHDIR: {
			/* Never through a magic link (/proc/self/fd/N, CVE-2024-21626).
			 * mode 1: a first try while still privileged, where "permission
			 * denied" waits for a mode 2 step after the identity change
			 * (which then runs only if this one was put off). */
			static int chdir_put_off;
			const char *path = get_str(&c, NULL);
			uint64_t mode = get_u64(&c);
			if (c.bad || (mode == 2 && !chdir_put_off))
				break;
			r = chdir_checked(path);
			if (mode == 1 && (r == -EACCES || r == -EPERM)) {
				chdir_put_off = 1;
				r = 0;
			}
			break;
		}
		case OP_CLONE_TREE: {
			/* Stage 0, as the runtime on the host: a detached copy of a
			 * bind source, which the container's user namespace might
			 * not be allowed to look up itself (a 0700 directory). */
			const char *path = get_str(&c, NULL);
			uint64_t slot = get_u64(&c), recursive = get_u64(&c);
			if (c.bad || slot < SOURCE_SLOT || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			int m = mfd_clone(AT_FDCWD, path, recursive != 0);
			if (m < 0)
				r = m;
			else
				slots[slot] = m;
			break;
		}
		case OP_REMOUNT_SLOT: {
			/* A mount kept by an earlier step gets its final flags (a
			 * read-only /dev or tmpfs, once what goes inside is there). */
			uint64_t slot = get_u64(&c);
			unsigned long flags = (unsigned long)get_u64(&c);
			unsigned tflags = (unsigned)get_u64(&c);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			r = mfd_remount(slots[slot], flags, (tflags & T_KEEP_LOCKED) != 0);
			close(slots[slot]);
			slots[slot] = -1;
			break;
		}
		case OP_FIX_STDIO: {
			/* stdio becomes the process user's (as runc does, so that a
			 * non-root process can use its terminal): uid only, and not
			 * the null device; a file system that refuses is left as is. */
			uid_t uid = (uid_t)get_u64(&c);
			if (c.bad)
				break;
			for (int fd = 0; fd < 3; fd++) {
				struct stat st;
				if (fstat(fd, &st) < 0 || st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
					continue;
				if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS) {
					r = -errno;
					break;
				}
			}
			break;
		}
		case OP_PERSONALITY: {
			uint64_t p = get_u64(&c);
			if (!c.bad && personality((unsigned long)p) < 0)
				r = -errno;
			break;
		}
		case OP_KEYRING: {
			const char *name = get_str(&c, NULL);
			if (c.bad)
				break;
			/* A session keyring of our own, so containers do not share the host's. */
			if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name) < 0 && errno != ENOSYS)
				r = -errno;
			break;
		}
		case OP_MKDIR: {
			const char *path = get_str(&c, NULL);
			unsigned tflags = (unsigned)get_u64(&c);
			if (c.bad)
				break;
			int fd = resolve_in_root(slots[ROOT_SLOT], path, T_MKDIR | tflags);
			if (fd < 0)
				r = fd;
			else
				close(fd);
			break;
		}
		case OP_CHROOT: {
			const char *root = get_str(&c, NULL);
			if (c.bad)
				break;
			if (chroot(root) < 0 || chdir("/") < 0)
				r = -errno;
			break;
		}
		case OP_SCHED: {
			/* struct sched_attr, filled by the runtime */
			struct {
				uint32_t size, policy;
				uint64_t flags;
				int32_t nice;
				uint32_t priority;
				uint64_t runtime, deadline, period;
			} attr = {0};
			attr.size = sizeof(attr);
			attr.policy = (uint32_t)get_u64(&c);
			attr.flags = get_u64(&c);
			attr.nice = (int32_t)get_u64(&c);
			attr.priority = (uint32_t)get_u64(&c);
			attr.runtime = get_u64(&c);
			attr.deadline = get_u64(&c);
			attr.period = get_u64(&c);
			if (!c.bad && syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
				r = -errno;
			break;
		}
		case OP_IOPRIO: {
			uint64_t v = get_u64(&c);
			if (!c.bad && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)v) < 0)
				r = -errno;
			break;
		}
		case OP_AFFINITY: {
			uint32_t n = get_u32(&c);
			if (c.bad || (size_t)(c.end - c.p) < n) {
				c.bad = 1;
				break;
			}
			if (syscall(SYS_sched_setaffinity, 0, (size_t)n, c.p) < 0)
				r = -errno;
			c.p += n;
			break;
		}
		case OP_ADOPT_FD: {
			/* An fd inherited from the runtime (e.g. its end of a console
			 * socketpair) becomes a slot, closed at execve. */
			uint64_t slot = get_u64(&c);
			int fd = (int)get_u64(&c);
			if (c.bad || slot >= MAX_SLOTS) {
				c.bad = 1;
				break;
			}
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
				r = -errno;
			else
				slots[slot] = fd;
			break;
		}
		case OP_SEND_LISTENER: {
			/* Hand the seccomp listener to the agent: the runtime's message
			 * (container state) as data, the fd as SCM_RIGHTS. */
			uint64_t sock_slot = get_u64(&c);
			if (c.bad || !slot_open(sock_slot) || slots[LISTENER_SLOT] < 0) {
				c.bad = 1;
				break;
			}
			int lfd = slots[LISTENER_SLOT];
			if (send_fd(slots[sock_slot], agent_payload ? agent_payload : "{}", agent_payload ? agent_payload_len : 2, lfd) < 0)
				r = -errno;
			close(lfd);
			close(slots[sock_slot]);
			slots[LISTENER_SLOT] = slots[sock_slot] = -1;
			break;
		}
		case OP_MOVE_MOUNT: {
			/* A detached mount the runtime prepared (id-mapped) goes onto
			 * its target, resolved inside the root. */
			uint64_t slot = get_u64(&c);
			const char *target = get_str(&c, NULL);
			unsigned tflags = (unsigned)get_u64(&c);
			struct mount_opts o;
			get_mount_opts(&c, &o);
			if (c.bad || !slot_open(slot)) {
				c.bad = 1;
				break;
			}
			tfd = resolve_target(target, tflags | T_IN_ROOT);
			r = tfd < 0 ? tfd : attach_with(slots[slot], tfd, &o, tflags);
			close(slots[slot]);
			slots[slot] = -1;
			break;
		}
		case OP_LINK_UP: {
			/* Bring an interface of our network namespace up (loopback). */
			const char *name = get_str(&c, NULL);
			if (c.bad)
				break;
			struct ifreq ifr;
			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
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
			break;
		}
		case OP_CLOSE_FDS: {
			unsigned from = (unsigned)get_u64(&c);
			if (c.bad)
				break;
			/* Mark everything from `from` on close-on-exec; slots and the
			 * control socket then vanish at execve and nothing leaks. */
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
			if (syscall(SYS_close_range, from, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
				r = -errno;
			break;
		}
		case OP_EXEC: {
			char **args = get_strv(&c);
			char **env = get_strv(&c);
			if (c.bad)
				break;
			if (!exec_path)
				exec_path = args[0];
			execve(exec_path, args, env);
			r = -errno;
			break;
		}
		default:
			r = -ENOSYS;
		}
		if (tfd >= 0)
			close(tfd);
		if (c.bad)
			fail(step, EINVAL, 0);
		if (r < 0)
			fail(step, -r, aux);
		step++;
	}
	/* A plan must end in OP_EXEC (or stage 0's exit). */
	fail(step, ENOEXEC, 0);
}
