/*
 * Path resolution inside the container's root, and what builds on it
 * (tmpcopyup's copy of a directory tree). Every lookup of a path inside the
 * root is an openat2 with RESOLVE_IN_ROOT, so a symlink in the image can
 * never lead outside it; see in-root.h.
 */
#define _GNU_SOURCE
#include "in-root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "plan-abi.h"
#include "slots.h"

static int sys_openat2(int dirfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int open_no_magic(const char *path, int flags)
{
	return sys_openat2(AT_FDCWD, path, flags, RESOLVE_NO_MAGICLINKS);
}

/* path relative to the root (leading slashes dropped), in the root:
 * RESOLVE_IN_ROOT and the further resolve flags. */
static int openat2_in_root(int rootfd, const char *path, int flags, uint64_t resolve)
{
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return sys_openat2(rootfd, path, flags, RESOLVE_IN_ROOT | resolve);
}

/* Open `path` inside the root with O_PATH, creating missing directories (and
 * an empty file for the last component with T_MKFILE) when asked. Every
 * lookup uses RESOLVE_IN_ROOT, so a symlink in the bundle can never lead
 * outside it. A symlink whose target does not exist yet is followed by
 * splicing its target into the path (absolute targets are relative to the
 * root), so what gets created is where the symlink points, inside the root.
 * Returns an fd or -errno. */
int resolve_in_root(int rootfd, const char *path, unsigned tflags)
{
	int fd = openat2_in_root(rootfd, path, O_PATH, RESOLVE_NO_MAGICLINKS);
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
		int next = openat2_in_root(rootfd, buf, O_PATH, RESOLVE_NO_MAGICLINKS);
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
			next = openat2_in_root(rootfd, buf, O_PATH, RESOLVE_NO_MAGICLINKS);
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
int resolve_target(const char *target, unsigned tflags)
{
	int root = slot_fd(SLOT_ROOT);
	if (root < 0)
		return -EBADF;
	int fd = resolve_in_root(root, target, tflags);
	if (fd < 0)
		return fd;
	if (tflags & T_PLAIN_DIR) {
		/* Resolved again without following any symlink: a symlinked
		 * /proc or /sys must not move where procfs or sysfs lands. */
		int plain = openat2_in_root(root, target, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
		int e = errno;
		close(fd);
		if (plain < 0)
			return -e;
		fd = plain;
	}
	struct statfs sf;
	if ((tflags & T_NOT_PROCFS) && (fstatfs(fd, &sf) < 0 || sf.f_type == PROC_SUPER_MAGIC)) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

int reopen_dir(int pathfd)
{
	int fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	close(pathfd);
	return fd < 0 ? -e : fd;
}

/* tmpcopyup: what the target directory held goes into the detached mount. */
int copy_up(int target, int mnt)
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
