/*
 * Hooks the plan runs itself (createContainer, startContainer): a program
 * with the container's state JSON on its stdin, killed at its timeout, the
 * state's delivery included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slots.h"
#include "step.h"

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
static int feed_hook(int wfd, int pidfd, uint64_t deadline, const char *state, size_t state_len)
{
	size_t off = 0;
	if (state_len == 0 || fcntl(wfd, F_SETFL, O_NONBLOCK) < 0) {
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
				ssize_t w = write(wfd, state + off, state_len - off);
				if (w > 0)
					off += (size_t)w;
				done = off == state_len || (w < 0 && errno != EAGAIN && errno != EINTR);
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
static int run_hook(const struct op_hook *a, int cwd_fd, const struct init_ctx *ctx, uint32_t *status)
{
	uint64_t deadline = deadline_after(a->timeout);
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
		execve(a->path, a->args, a->env);
		_exit(127);
	}
	close(pfd[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int r = pidfd < 0 ? -errno : 0;
	if (r == 0) {
		/* A hook that closes its stdin early must not kill us with SIGPIPE. */
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;
		sigaction(SIGPIPE, &ign, &old);
		r = feed_hook(pfd[1], pidfd, deadline, ctx->hook_state, ctx->hook_state_len);
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

int op_hook(const struct op_hook *a, struct step *s)
{
	int cwd_fd = -1; /* the hook's working directory (NO_SLOT: ours) */
	if (a->cwd_slot != NO_SLOT && (cwd_fd = slot_fd(a->cwd_slot)) < 0)
		return -EINVAL;
	int r = run_hook(a, cwd_fd, s->ctx, &s->aux);
	free(a->args);
	free(a->env);
	if (r < 0 && s->ctx->ctrl_fd < 0)
		hook_failed_late(a->label, -r, s->aux, a->timeout);
	return r;
}
