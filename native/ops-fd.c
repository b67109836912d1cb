/*
 * Files, sockets and the control socket: fds opened into slots (paths,
 * unix sockets, inherited fds) and checked, files written, the exec fifo,
 * the seccomp listener handed to its agent, and the GO and READY messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "in-root.h"
#include "msg.h"
#include "slots.h"
#include "step.h"

/* ---------- the control socket ---------- */

int op_wait_go(struct step *s)
{
	struct init_ctx *ctx = s->ctx;
	struct msg m;
	if (recv_go(ctx->ctrl_fd, &m) < 0 || m.type != MSG_GO) {
		/* The parent went away or refused: give up quietly. */
		_exit(1);
	}
	if (m.val == 0)
		return 0;
	/* The payloads: u32 length + the hooks' state, u32 length + the agent's message. */
	char *buf = malloc(m.val);
	if (!buf || read_full(ctx->ctrl_fd, buf, m.val) < 0)
		_exit(1);
	uint32_t n1 = 0, n2 = 0;
	if (m.val >= 4)
		memcpy(&n1, buf, 4);
	if (m.val >= 8 + (size_t)n1)
		memcpy(&n2, buf + 4 + n1, 4);
	if (8 + (size_t)n1 + n2 > m.val)
		_exit(1);
	ctx->hook_state = buf + 4;
	ctx->hook_state_len = n1;
	ctx->agent_msg = buf + 8 + n1;
	ctx->agent_msg_len = n2;
	return 0;
}

int op_ready(struct step *s)
{
	send_msg(s->ctx->ctrl_fd, MSG_READY, s->index, 0, 0);
	close(s->ctx->ctrl_fd);
	s->ctx->ctrl_fd = -1;
	return 0;
}

/* ---------- fds into slots ---------- */

int op_open_path(const struct op_open_path *a, struct step *s)
{
	int fd = open(a->path, (int)a->flags | O_CLOEXEC);
	return fd < 0 ? -errno : slot_set(a->slot, fd);
}

int op_connect(const struct op_connect *a, struct step *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(a->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, a->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return slot_set(a->slot, fd);
}

int op_adopt_fd(const struct op_adopt_fd *a, struct step *s)
{
	/* An fd inherited from the runtime (e.g. its end of a console
	 * socketpair) becomes a slot, closed at execve. */
	int fd = (int)a->fd;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return slot_set(a->slot, fd);
}

int op_expect_dev(const struct op_expect_dev *a, struct step *s)
{
	/* The fd in the slot must be this device node (e.g. the null device
	 * masks are made of): refuse anything else. */
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & S_IFMT) != (mode_t)a->type || major(st.st_rdev) != a->major || minor(st.st_rdev) != a->minor)
		return -ENODEV;
	return 0;
}

int op_send_listener(const struct op_send_listener *a, struct step *s)
{
	/* Hand the seccomp listener to the agent: the runtime's message
	 * (container state) as data, the fd as SCM_RIGHTS. */
	int sock = slot_fd(a->socket_slot), listener = slot_fd(SLOT_LISTENER);
	if (sock < 0 || listener < 0)
		return -EINVAL;
	const struct init_ctx *ctx = s->ctx;
	int r = send_fd(sock, ctx->agent_msg ? ctx->agent_msg : "{}", ctx->agent_msg ? ctx->agent_msg_len : 2, listener) < 0 ? -errno : 0;
	slot_close(SLOT_LISTENER);
	slot_close(a->socket_slot);
	return r;
}

/* ---------- files ---------- */

/* Opens path (no magic links) and checks that it is on the file system
 * `magic` (0: any). A file that cannot be opened is checked too, so that a
 * decoy on a read-only file system is reported as what it is. -EXDEV when
 * it is elsewhere; -errno otherwise. */
static int open_checked(const char *path, int flags, uint64_t magic)
{
	int fd = open_no_magic(path, flags);
	int err = errno;
	if (!magic)
		return fd < 0 ? -err : fd;
	int probe = fd >= 0 ? fd : open_no_magic(path, O_PATH);
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

int op_write_file(const struct op_write_file *a, struct step *s)
{
	/* No magic links, and on the file system the plan names: a procfs
	 * file must not be a decoy the image put in /proc. */
	int fd = open_checked(a->path, O_WRONLY, a->fs_magic);
	if (fd < 0)
		return fd;
	int r = write(fd, a->data, a->data_len) != (ssize_t)a->data_len ? -errno : 0;
	close(fd);
	return r;
}

int op_mkfifo(const struct op_mkfifo *a, struct step *s)
{
	if (mkfifo(a->path, 0) < 0 || chmod(a->path, (mode_t)a->mode) < 0 || chown(a->path, (uid_t)a->uid, (gid_t)a->gid) < 0)
		return -errno;
	return 0;
}

int op_fifo(const struct op_fifo *a, struct step *s)
{
	/* The slot holds the state directory (O_PATH): openat needs no /proc,
	 * which a container without a mount namespace lacks. Blocks until
	 * `tsrun start` opens the fifo for reading. */
	int fd = openat(slot_fd(a->slot), a->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = fd < 0 || write(fd, "0", 1) != 1 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	slot_close(a->slot);
	return r;
}
