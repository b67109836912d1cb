/* Mount operations on file descriptors; see mount-fd.c. Each returns 0 (or
 * a new fd) on success and -errno on failure. */
#ifndef TSRUN_MOUNT_FD_H
#define TSRUN_MOUNT_FD_H
#include <stdint.h>

/* A detached copy of the mount tree at dirfd/path (path "" or NULL: dirfd itself). */
int mfd_clone(int dirfd, const char *path, int recursive);
/* A detached new file system: fstype, its source, mount(2)-style data and MS_* flags. */
int mfd_new_fs(const char *fstype, const char *source, const char *data, unsigned long flags);
/* Puts the detached mount `mnt` onto the resolved target fd. */
int mfd_attach(int mnt, int target);
/* Sets the propagation (MS_SHARED/PRIVATE/SLAVE/UNBINDABLE) of the mount at target. */
int mfd_propagation(int target, unsigned long prop, int recursive);
/* mount_setattr(2) on the mount at target. */
int mfd_setattr(int target, uint64_t set, uint64_t clr, uint64_t prop, int recursive);
/* A bind remount of the mount at target with exactly these MS_* flags;
 * keep_locked: on EPERM, keep the flags its owner locked and try again. */
int mfd_remount(int target, unsigned long flags, int keep_locked);
#endif
