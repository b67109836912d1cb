/*
 * The mount steps: mounts onto targets resolved inside the root (made
 * detached and attached by fd, see mount-fd.c), remounts, masks, and the
 * mounts kept or cloned in slots; umount of host mounts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "in-root.h"
#include "mount-fd.h"
#include "slots.h"
#include "step.h"

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

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

/* The options of a mount or moveMount step (fields of the same names): a
 * kept mount goes to a Slot.KEPT slot, a source comes from a Slot.SOURCE
 * slot that holds one; anything else is -EINVAL. */
#define MOUNT_OPTS(o, a) mount_opts(o, (a)->remount, (a)->rec_set, (a)->rec_clear, (a)->propagation, (a)->keep_slot, (a)->source_slot)

static int mount_opts(struct mount_opts *o, uint64_t remount, uint64_t rec_set, uint64_t rec_clr, uint64_t propagation, uint64_t keep_slot,
		      uint64_t src_slot)
{
	o->remount = (unsigned long)remount;
	o->rec_set = rec_set;
	o->rec_clr = rec_clr;
	o->propagation = (unsigned long)propagation;
	o->keep_slot = keep_slot;
	o->src_slot = src_slot;
	if (keep_slot != NO_SLOT && (keep_slot < SLOT_KEPT || keep_slot >= SLOT_KEPT_END))
		return -EINVAL;
	if (src_slot != NO_SLOT && (src_slot < SLOT_SOURCE || src_slot >= SLOT_SOURCE_END || slot_fd(src_slot) < 0))
		return -EINVAL;
	return 0;
}

/* A missing target is no error where the flags say so (masked and
 * read-only paths). */
static int unless_missing(int r, unsigned tflags)
{
	return r == -ENOENT && (tflags & T_IGNORE_ENOENT) ? 0 : r;
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
		r = slot_set(o->keep_slot, kept);
	}
	return r;
}

/* The detached mount a bind or a new file system makes: ours to close. */
static int new_mount(const struct op_mount *a, const struct mount_opts *o)
{
	unsigned long flags = (unsigned long)a->flags;
	if (!(flags & MS_BIND))
		return mfd_new_fs(a->fstype, a->source, a->data, flags);
	if (o->src_slot != NO_SLOT)
		return slot_take(o->src_slot);
	if (!(a->tflags & T_SRC_IN_ROOT))
		return mfd_clone(AT_FDCWD, a->source, (flags & MS_REC) != 0);
	int sfd = resolve_in_root(slot_fd(SLOT_ROOT), a->source, 0);
	int mnt = sfd < 0 ? sfd : mfd_clone(sfd, NULL, (flags & MS_REC) != 0);
	if (sfd >= 0)
		close(sfd);
	return mnt;
}

/* A mount onto a target inside the root: a bind (of a host path, or of a
 * path inside the root), a propagation change, or a new file system; each
 * made detached and moved onto the target's fd. */
static int mount_in_root(const struct op_mount *a, const struct mount_opts *o)
{
	unsigned long flags = (unsigned long)a->flags;
	unsigned tflags = (unsigned)a->tflags;
	int tfd = resolve_target(a->target, tflags);
	if (tfd < 0)
		return tfd;
	int r, mnt;
	if (flags & MS_REMOUNT) {
		r = mfd_remount(tfd, flags & ~(unsigned long)(MS_REMOUNT | MS_BIND), (tflags & T_KEEP_LOCKED) != 0);
		close(tfd);
		return r;
	}
	if (!(flags & MS_BIND) && !a->source[0] && !a->fstype[0] && (flags & PROPAGATION_FLAGS)) {
		r = mfd_propagation(tfd, flags, (flags & MS_REC) != 0);
		close(tfd);
		return r;
	}
	mnt = new_mount(a, o);
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

int op_mount(const struct op_mount *a, struct step *s)
{
	struct mount_opts o;
	if (MOUNT_OPTS(&o, a) < 0)
		return -EINVAL;
	if (!(a->tflags & T_IN_ROOT)) {
		/* A host-side path the runtime chose (the rootfs, "/"). */
		if (mount(a->source[0] ? a->source : NULL, a->target, a->fstype[0] ? a->fstype : NULL, (unsigned long)a->flags,
			  a->data[0] ? a->data : NULL) < 0)
			return -errno;
		return 0;
	}
	return unless_missing(mount_in_root(a, &o), (unsigned)a->tflags);
}

/* Bind-remount with new flags. Inside a user namespace the kernel refuses to
 * clear flags that were locked by the mount's owner (nosuid, nodev, noexec,
 * atime): keep those and try again, as the kernel demands. */
static int remount_path(const char *path, unsigned long flags)
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

int op_remount(const struct op_remount *a, struct step *s)
{
	unsigned tflags = (unsigned)a->tflags;
	if (!(tflags & T_IN_ROOT))
		return remount_path(a->target, (unsigned long)a->flags);
	int tfd = resolve_target(a->target, tflags);
	int r = tfd < 0 ? tfd : mfd_remount(tfd, (unsigned long)a->flags, (tflags & T_KEEP_LOCKED) != 0);
	if (tfd >= 0)
		close(tfd);
	return unless_missing(r, tflags);
}

/* Masks the file or directory at target: a read-only tmpfs over a
 * directory, else a bind of the null device in null_slot (which the
 * runtime opened and checked with expectDev), never whatever the
 * container's /dev/null is. */
static int mask_target(int target, uint64_t null_slot, int *null_attached)
{
	struct stat st;
	if (fstat(target, &st) < 0)
		return -errno;
	int null_fd = slot_fd(null_slot);
	if (!S_ISDIR(st.st_mode)) {
		if (null_fd < 0)
			return -EBADF;
		/* The slot holds a detached bind of the null device made before
		 * pivot_root: the first mask attaches it, later ones clone it
		 * (a mount can be cloned once it is in our namespace). */
		if (!*null_attached) {
			int r = mfd_attach(null_fd, target);
			*null_attached = r == 0;
			return r;
		}
	}
	int mnt = S_ISDIR(st.st_mode) ? mfd_new_fs("tmpfs", "tmpfs", "", MS_RDONLY) : mfd_clone(null_fd, NULL, 0);
	if (mnt < 0)
		return mnt;
	int r = mfd_attach(mnt, target);
	close(mnt);
	return r;
}

int op_mask(const struct op_mask *a, struct step *s)
{
	unsigned tflags = (unsigned)a->tflags;
	int tfd = resolve_target(a->path, tflags | T_IN_ROOT);
	int r = tfd < 0 ? tfd : mask_target(tfd, a->null_slot, &s->ctx->null_attached);
	if (tfd >= 0)
		close(tfd);
	return unless_missing(r, tflags);
}

/* A detached mount the runtime prepared (id-mapped) goes onto its target,
 * resolved inside the root. */
int op_move_mount(const struct op_move_mount *a, struct step *s)
{
	struct mount_opts o;
	int mnt = slot_fd(a->slot);
	if (MOUNT_OPTS(&o, a) < 0 || mnt < 0)
		return -EINVAL;
	unsigned tflags = (unsigned)a->tflags;
	int tfd = resolve_target(a->target, tflags | T_IN_ROOT);
	int r = tfd < 0 ? tfd : attach_with(mnt, tfd, &o, tflags);
	if (tfd >= 0)
		close(tfd);
	slot_close(a->slot);
	return r;
}

/* The slot's fd becomes a detached copy of the mount it is on (a file or
 * directory bind), usable after pivot_root. */
int op_clone_mount(const struct op_clone_mount *a, struct step *s)
{
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	int m = mfd_clone(fd, NULL, 0);
	if (m < 0)
		return m;
	slot_close(a->slot);
	return slot_set(a->slot, m);
}

/* Stage 0, as the runtime on the host: a detached copy of a bind source,
 * which the container's user namespace might not be allowed to look up
 * itself (a 0700 directory). */
int op_clone_tree(const struct op_clone_tree *a, struct step *s)
{
	if (a->slot < SLOT_SOURCE || a->slot >= SLOT_SOURCE_END)
		return -EINVAL;
	int m = mfd_clone(AT_FDCWD, a->path, a->recursive != 0);
	return m < 0 ? m : slot_set(a->slot, m);
}

/* A mount kept by an earlier step gets its final flags (a read-only /dev or
 * tmpfs, once what goes inside is there). */
int op_remount_slot(const struct op_remount_slot *a, struct step *s)
{
	int fd = slot_fd(a->slot);
	if (fd < 0)
		return -EINVAL;
	int r = mfd_remount(fd, (unsigned long)a->flags, (a->tflags & T_KEEP_LOCKED) != 0);
	slot_close(a->slot);
	return r;
}

/* Detach a host mount from the container's view; where that is refused (a
 * user namespace), cover it with an empty tmpfs when the plan says so. A
 * path already gone is fine. */
int op_umount(const struct op_umount *a, struct step *s)
{
	if (mount(NULL, a->path, NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return errno == ENOENT || errno == EINVAL ? 0 : -errno;
	if (umount2(a->path, MNT_DETACH) == 0)
		return 0;
	if ((errno != EINVAL && errno != EPERM) || !a->cover)
		return -errno;
	if (mount("tmpfs", a->path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
		return -errno;
	return 0;
}
