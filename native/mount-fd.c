/*
 * Mount operations on file descriptors (the kernel's new mount API).
 *
 * Every target inside the container's root is an O_PATH fd resolved with
 * openat2(RESOLVE_IN_ROOT). Earlier versions handed mount(2) the string
 * "/proc/self/fd/N", which after pivot_root is looked up through the
 * container's own /proc: an image whose /proc is a symlink to a volume of
 * fake fd links could then redirect every mount (CVE-2019-16884,
 * CVE-2023-27561 class). With open_tree/fsmount/move_mount/mount_setattr on
 * the fds themselves, no path through /proc is ever used.
 */
#define _GNU_SOURCE
#include "mount-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#define OPEN_TREE_CLONE_ 1u
#define OPEN_TREE_CLOEXEC_ O_CLOEXEC
#define AT_RECURSIVE_ 0x8000u
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4u
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x40u
#define FSOPEN_CLOEXEC_ 1u
#define FSMOUNT_CLOEXEC_ 1u
#define FSCONFIG_SET_FLAG_ 0u
#define FSCONFIG_SET_STRING_ 1u
#define FSCONFIG_CMD_CREATE_ 6u

#define ATTR_RDONLY 0x1ull
#define ATTR_NOSUID 0x2ull
#define ATTR_NODEV 0x4ull
#define ATTR_NOEXEC 0x8ull
#define ATTR__ATIME 0x70ull
#define ATTR_NOATIME 0x10ull
#define ATTR_STRICTATIME 0x20ull
#define ATTR_NODIRATIME 0x80ull
#define ATTR_NOSYMFOLLOW 0x200000ull
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

struct mount_attr_ {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int setattr(int fd, unsigned flags, struct mount_attr_ *a)
{
	return (int)syscall(SYS_mount_setattr, fd, "", flags | AT_EMPTY_PATH, a, sizeof(*a));
}

/* MS_* per-mount flags as MOUNT_ATTR_* bits. Relatime is the default (0). */
static uint64_t ms_to_attr(unsigned long f)
{
	uint64_t a = 0;
	if (f & MS_RDONLY)
		a |= ATTR_RDONLY;
	if (f & MS_NOSUID)
		a |= ATTR_NOSUID;
	if (f & MS_NODEV)
		a |= ATTR_NODEV;
	if (f & MS_NOEXEC)
		a |= ATTR_NOEXEC;
	if (f & MS_NOATIME)
		a |= ATTR_NOATIME;
	else if (f & MS_STRICTATIME)
		a |= ATTR_STRICTATIME;
	if (f & MS_NODIRATIME)
		a |= ATTR_NODIRATIME;
	if (f & MS_NOSYMFOLLOW)
		a |= ATTR_NOSYMFOLLOW;
	return a;
}

int mfd_attach(int mnt, int target)
{
	if (syscall(SYS_move_mount, mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_) < 0)
		return -errno;
	return 0;
}

int mfd_clone(int dirfd, const char *path, int recursive)
{
	unsigned flags = OPEN_TREE_CLONE_ | OPEN_TREE_CLOEXEC_ | (recursive ? AT_RECURSIVE_ : 0);
	if (!path || !path[0]) {
		path = "";
		flags |= AT_EMPTY_PATH;
	}
	int fd = (int)syscall(SYS_open_tree, dirfd, path, flags);
	return fd < 0 ? -errno : fd;
}

/* Superblock flags fsconfig knows by name. "ro" is deliberately not among
 * them: a superblock may be shared with the host (sysfs, cgroup, proc of the
 * same namespace), and read-only belongs on the container's mount only. */
static const struct {
	unsigned long ms;
	const char *name;
} sb_flags[] = {
	{MS_SYNCHRONOUS, "sync"},
	{MS_DIRSYNC, "dirsync"},
	{MS_LAZYTIME, "lazytime"},
	{MS_MANDLOCK, "mand"},
};

static int config(int fs, unsigned cmd, const char *key, const char *value)
{
	return syscall(SYS_fsconfig, fs, cmd, key, value, 0) < 0 ? -errno : 0;
}

int mfd_new_fs(const char *fstype, const char *source, const char *data, unsigned long flags)
{
	int fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC_);
	if (fs < 0)
		return -errno;
	int r = source[0] ? config(fs, FSCONFIG_SET_STRING_, "source", source) : 0;
	for (size_t i = 0; r == 0 && i < sizeof(sb_flags) / sizeof(sb_flags[0]); i++)
		if (flags & sb_flags[i].ms)
			r = config(fs, FSCONFIG_SET_FLAG_, sb_flags[i].name, NULL);
	/* data is mount(2)'s "a,b=c" string: each option one fsconfig call. */
	char *copy = r == 0 ? strdup(data) : NULL;
	if (r == 0 && !copy)
		r = -ENOMEM;
	char *save = NULL;
	for (char *opt = copy ? strtok_r(copy, ",", &save) : NULL; r == 0 && opt; opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		if (eq) {
			*eq = '\0';
			r = config(fs, FSCONFIG_SET_STRING_, opt, eq + 1);
		} else {
			r = config(fs, FSCONFIG_SET_FLAG_, opt, NULL);
		}
	}
	free(copy);
	if (r == 0)
		r = config(fs, FSCONFIG_CMD_CREATE_, NULL, NULL);
	int mnt = -1;
	if (r == 0) {
		mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC_, (unsigned)ms_to_attr(flags));
		if (mnt < 0)
			r = -errno;
	}
	close(fs);
	return r < 0 ? r : mnt;
}

int mfd_propagation(int target, unsigned long prop, int recursive)
{
	struct mount_attr_ a = {.propagation = prop & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)};
	return setattr(target, recursive ? AT_RECURSIVE_ : 0, &a) < 0 ? -errno : 0;
}

int mfd_setattr(int target, uint64_t set, uint64_t clr, uint64_t prop, int recursive)
{
	struct mount_attr_ a = {.attr_set = set, .attr_clr = clr, .propagation = prop};
	return setattr(target, recursive ? AT_RECURSIVE_ : 0, &a) < 0 ? -errno : 0;
}

/* The attributes a remount with `flags` asks for: what mount(2)'s
 * MS_REMOUNT|MS_BIND does, which sets the listed flags and clears the rest
 * (atime is left alone unless an atime flag is given). */
static struct mount_attr_ remount_attr(unsigned long flags)
{
	struct mount_attr_ a = {.attr_set = ms_to_attr(flags)};
	a.attr_clr = (ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC | ATTR_NODIRATIME | ATTR_NOSYMFOLLOW) & ~a.attr_set;
	if (flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME))
		a.attr_clr |= ATTR__ATIME;
	return a;
}

int mfd_remount(int target, unsigned long flags, int keep_locked)
{
	struct mount_attr_ a = remount_attr(flags);
	if (setattr(target, 0, &a) == 0)
		return 0;
	if (errno != EPERM || !keep_locked)
		return -errno;
	/* Inside a user namespace the mount's owner may have locked nosuid,
	 * nodev, noexec and atime: keep what it has of those and try again. */
	struct statvfs sv;
	if (fstatvfs(target, &sv) < 0)
		return -errno;
	unsigned long locked = 0;
	if (sv.f_flag & ST_NOSUID)
		locked |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		locked |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		locked |= MS_NOEXEC;
	if (sv.f_flag & ST_NODIRATIME)
		locked |= MS_NODIRATIME;
	unsigned long atime = sv.f_flag & ST_NOATIME ? MS_NOATIME : sv.f_flag & ST_RELATIME ? MS_RELATIME : MS_STRICTATIME;
	flags = (flags & ~(unsigned long)(MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) | locked | atime;
	a = remount_attr(flags);
	return setattr(target, 0, &a) < 0 ? -errno : 0;
}
