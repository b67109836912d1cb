/*
 * tsrun-init: the native part of tsrun (see README.md).
 *
 * Node cannot run JavaScript between fork and execve, and a multi-threaded
 * process may not unshare a user namespace or setns into a mount namespace.
 * So the TypeScript runtime decides everything and hands this program a plan:
 * an ordered list of steps, each one or a few raw syscalls. This program has
 * no policy of its own. It executes the steps in order and, on the first
 * failure, reports the step's index and errno over the control socket; the
 * TypeScript side knows what each step meant and prints the error.
 *
 * Usage: tsrun-init <control-fd> [<count of fds passed after it> | early]
 *   The control fd is a unix stream socket. Node writes: u32 plan length,
 *   then the plan. We answer with fixed-size messages (struct msg).
 *
 * Steps before the clone step run in "stage 0" (the process Node spawned);
 * the clone creates the container's init with the new namespaces, and every
 * later step runs in that init. Stage 0 then either exits or, in relay mode,
 * waits for the init and exits with its status (for `tsrun run` in the
 * foreground).
 *
 * This file: the start (a protected copy of ourselves, inherited fds
 * closed), reading the plan, and the step loop. The steps are in ops-*.c,
 * hooks.c and console.c, one handler each (op_<name>, see plan-abi.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cursor.h"
#include "msg.h"
#include "slots.h"
#include "step.h"

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

/* ---------- fds inherited by accident ---------- */

/* Closes every fd the container must not get; -1 when the runtime's word on
 * which to keep cannot be read. */
static int close_inherited(struct init_ctx *ctx, int argc, char **argv)
{
	unsigned ctrl = (unsigned)ctx->ctrl_fd;
	if (argc > 2 && strcmp(argv[2], "early") == 0) {
		/* Started by the tsrun command before Node (native/tsrun-launch.c),
		 * with everything the command inherited. The runtime first says how
		 * many of those fds (3, 4, ...) the container keeps (--preserve-fds);
		 * the rest goes now. */
		ctx->early = 1;
		uint32_t keep;
		if (read_full(ctx->ctrl_fd, &keep, 4) < 0 || keep > (uint32_t)ctx->ctrl_fd - 3)
			return -1;
		if (3 + (int)keep < ctx->ctrl_fd)
			syscall(SYS_close_range, 3 + keep, ctrl - 1, 0);
		syscall(SYS_close_range, ctrl + 1, ~0u, 0);
	} else {
		/* Anything above the control socket and the fds passed after it
		 * was inherited by accident (the runtime's own parent's pipes,
		 * say): close it now, so a waiting init holds nothing it should not. */
		int extra = argc > 2 ? atoi(argv[2]) : 0;
		syscall(SYS_close_range, (unsigned)(ctx->ctrl_fd + 1 + extra), ~0u, 0);
	}
	return 0;
}

/* ---------- the plan ---------- */

/* u32 length, then the plan; NULL when it cannot be read. */
static uint8_t *read_plan(int ctrl_fd, uint32_t *len)
{
	if (read_full(ctrl_fd, len, 4) < 0 || *len > (64u << 20))
		return NULL;
	uint8_t *plan = malloc(*len);
	if (!plan || read_full(ctrl_fd, plan, *len) < 0)
		return NULL;
	return plan;
}

/* Each step decoded, then run; the first failure is reported and ends us. */
static void __attribute__((noreturn)) run_plan(struct init_ctx *ctx, const uint8_t *plan, uint32_t len)
{
	struct cursor top = {plan, plan + len, 0};
	struct step s = {.index = 0, .ctx = ctx};
	for (; top.p < top.end; s.index++) {
		uint32_t op;
		struct cursor c;
		union op_args a;
		s.aux = 0;
		int r = next_step(&top, &op, &c);
		if (r == 0)
			r = plan_decode(op, &c, &a); /* -EINVAL: malformed, -ENOSYS: unknown */
		if (r == 0)
			r = plan_run(op, &a, &s);
		if (r < 0)
			fail(ctx->ctrl_fd, s.index, -r, s.aux);
	}
	/* A plan must end in exec (or stage 0's exit). */
	fail(ctx->ctrl_fd, s.index, ENOEXEC, 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "tsrun-init: this program is started by tsrun, not by hand\n");
		return 2;
	}
	struct init_ctx ctx = {.ctrl_fd = atoi(argv[1])};
	if (!running_from_copy()) {
		reexec_from_copy(argv);
		/* The runtime reports it (launcher.ts): one line, its words. */
		send_msg(ctx.ctrl_fd, MSG_ERROR, SELF_COPY_STEP, errno ? errno : ENOEXEC, 0);
		return 2;
	}

	/* Not dumpable while we hold host resources: no ptrace, no /proc/<pid>/
	 * access from the container until execve resets it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	slots_init();
	if (close_inherited(&ctx, argc, argv) < 0)
		return 2;
	uint32_t len;
	uint8_t *plan = read_plan(ctx.ctrl_fd, &len);
	if (!plan)
		return 2;
	run_plan(&ctx, plan, len);
}
