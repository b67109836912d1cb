/*
 * Paths: resolved inside the container's root (openat2 RESOLVE_IN_ROOT, so
 * that no symlink of the image leads outside it), or on the host without
 * magic links (/proc/self/fd/N). Functions return an fd or -errno.
 */
#ifndef TSRUN_IN_ROOT_H
#define TSRUN_IN_ROOT_H

#include <stdint.h>

/* openat2(AT_FDCWD, path) with flags | O_CLOEXEC and RESOLVE_NO_MAGICLINKS;
 * -1 and errno on failure, as open(2). */
int open_no_magic(const char *path, int flags);
/* path (leading slashes ignored) inside rootfd: O_PATH, created on the way
 * as tflags say (T_MKDIR, T_MKFILE, T_FOLLOW_DANGLING). */
int resolve_in_root(int rootfd, const char *path, unsigned tflags);
/* A target inside the root (Slot.ROOT) as an O_PATH fd, checked as tflags
 * demand (T_PLAIN_DIR, T_NOT_PROCFS: -EXDEV). */
int resolve_target(const char *target, unsigned tflags);
/* The directory at the O_PATH fd pathfd (which is closed) opened for
 * reading: what mknodat and an openat that creates need. */
int reopen_dir(int pathfd);
/* tmpcopyup: what the directory target held goes into the mount mnt. 0 or -errno. */
int copy_up(int target, int mnt);

#endif
