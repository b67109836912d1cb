/*
 * The container's terminal: a new pty from the container's ptmx, its master
 * sent to the runtime's console socket, its peer the init's controlling
 * terminal, stdio and (with a mount namespace) the container's /dev/console.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "in-root.h"
#include "mount-fd.h"
#include "msg.h"
#include "slots.h"
#include "step.h"

/* Binds the pty (peer) over <dir>/console inside the root: a file created
 * there with O_EXCL, or an existing regular file or character device, never
 * through a symlink and never on procfs (CVE-2025-52565 class). */
static int bind_console(int peer, const char *dir)
{
	int dfd = resolve_target(dir, T_IN_ROOT | T_NOT_PROCFS);
	if (dfd < 0)
		return dfd;
	int w = reopen_dir(dfd);
	if (w < 0)
		return w;
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

/* A new pty from the ptmx at a->ptmx, which must be the device
 * ptmx_major:ptmx_minor (the container's /dev is the container's); the
 * master goes to the console socket sock, the peer becomes our terminal
 * and, when console_dir is set, the container's <console_dir>/console. */
static int do_console(const struct op_console *a, int sock)
{
	/* No magic links: the container's /dev/ptmx must not lead to one of
	 * our own fds. */
	int master = open_no_magic(a->ptmx, O_RDWR | O_NOCTTY);
	if (master < 0)
		return -errno;
	struct stat st;
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != (unsigned)a->ptmx_major ||
	    minor(st.st_rdev) != (unsigned)a->ptmx_minor)
		return -ENXIO;
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return -errno;
	struct winsize ws = {.ws_row = (unsigned short)a->rows, .ws_col = (unsigned short)a->cols};
	if (ws.ws_row && ws.ws_col && ioctl(master, TIOCSWINSZ, &ws) < 0)
		return -errno;
	int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (peer < 0)
		return -errno;
	int ptyno = 0;
	char name[64];
	if (ioctl(master, TIOCGPTN, &ptyno) < 0)
		return -errno;
	snprintf(name, sizeof(name), "/dev/pts/%d", ptyno);
	if (a->console_dir[0]) {
		int r = bind_console(peer, a->console_dir);
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

int op_console(const struct op_console *a, struct step *s)
{
	int r = do_console(a, slot_fd(a->slot));
	slot_take(a->slot); /* closed by do_console, or left to execve */
	return r;
}
