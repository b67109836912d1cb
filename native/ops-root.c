/*
 * The container's root: the directory later steps resolve in (Slot.ROOT),
 * entering it (pivot_root, a move with --no-pivot, chroot), and the entries
 * the plan makes inside it (directories, device nodes, symlinks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "in-root.h"
#include "slots.h"
#include "step.h"

int op_set_root(const struct op_set_root *a, struct step *s)
{
	int fd = open(a->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	slot_close(SLOT_ROOT);
	return slot_set(SLOT_ROOT, fd);
}

int op_pivot_root(const struct op_pivot_root *a, struct step *s)
{
	/* pivot_root(".", "."): the old root ends up stacked under the new
	 * one, and is detached right away without a temp directory. Make it a
	 * slave first so the unmount does not reach the host. */
	if (chdir(a->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	return 0;
}

int op_move_root(const struct op_move_root *a, struct step *s)
{
	if (chdir(a->root) < 0 || mount(a->root, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return -errno;
	return 0;
}

int op_chroot(const struct op_chroot *a, struct step *s)
{
	if (chroot(a->root) < 0 || chdir("/") < 0)
		return -errno;
	return 0;
}

/* Into a directory opened earlier (another process's root). */
int op_chroot_slot(const struct op_chroot_slot *a, struct step *s)
{
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	int r = fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0 ? -errno : 0;
	slot_close(a->slot);
	return r;
}

int op_mkdir(const struct op_mkdir *a, struct step *s)
{
	int fd = resolve_in_root(slot_fd(SLOT_ROOT), a->path, T_MKDIR | (unsigned)a->tflags);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Made in its parent directory, resolved inside the root. */
int op_mknod(const struct op_mknod *a, struct step *s)
{
	int dfd = resolve_in_root(slot_fd(SLOT_ROOT), a->dir, T_MKDIR | T_FOLLOW_DANGLING);
	if (dfd < 0)
		return dfd;
	/* O_PATH fds cannot be used with mknodat; reopen the directory. */
	int dir = reopen_dir(dfd);
	if (dir < 0)
		return dir;
	if (strchr(a->name, '/')) { /* the runtime split the path: a name is one component */
		close(dir);
		return -EINVAL;
	}
	mode_t mode = (mode_t)a->mode;
	int r = 0;
	unlinkat(dir, a->name, 0);
	if (mknodat(dir, a->name, mode, (dev_t)a->dev) < 0 || fchownat(dir, a->name, (uid_t)a->uid, (gid_t)a->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, a->name, mode & 07777, 0) < 0)
		r = -errno;
	close(dir);
	return r;
}

int op_symlink(const struct op_symlink *a, struct step *s)
{
	/* exist_ok: an entry already at link is fine */
	if (symlink(a->target, a->link) < 0 && !(errno == EEXIST && a->exist_ok))
		return -errno;
	return 0;
}
