/* tsrun-launch: the `tsrun` command (bin/tsrun links here). It only picks
 * how to start Node; everything tsrun does is in the TypeScript it runs.
 *
 * Fast path: Node with the startup snapshot `npm run build` made
 * (dist/tsrun.blob), which holds tsrun's code already loaded and compiled.
 * A snapshot only loads into the Node binary that built it, so the build
 * records that binary's identity in dist/tsrun.launch; when it no longer
 * matches (Node was upgraded, the checkout moved) we take the slow path:
 * Node loading dist/tsrun.js through cmd/launch.cjs.
 *
 * dist/tsrun.launch, one item a line:
 *   the checkout's root, the Node binary, "dev ino size mtime" of it,
 *   then the arguments to give Node before ours. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODE_ARGS 16
/* Where the early init's control socket goes, in the init and in Node:
 * above any fd a caller passes with --preserve-fds. */
#define EARLY_FD 1000

static char info[8192];

/* Splits info into lines; returns the count. */
static int read_lines(const char *path, char **lines, int max)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(info, 1, sizeof(info) - 1, f);
	fclose(f);
	info[n] = '\0';
	int count = 0;
	for (char *p = info; *p && count < max;) {
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		lines[count++] = p;
		p = nl + 1;
	}
	return count;
}

static int same_binary(const char *node, const char *identity)
{
	struct stat st;
	if (stat(node, &st) < 0)
		return 0;
	char now[128];
	snprintf(now, sizeof(now), "%llu %llu %lld %lld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 (long long)st.st_size, (long long)st.st_mtime);
	return strcmp(now, identity) == 0;
}

/* Starts the native init now, so that its start-up (two execs, the sealed
 * copy) happens while Node starts; Node gets the other end of its control
 * socket in TSRUN_EARLY_INIT="fd pid". Whether it is used is decided in
 * TypeScript: create, run and exec hand it their plan when they can,
 * everything else closes it, and the init exits when it reads EOF. */
static void start_early_init(const char *root)
{
	if (getenv("TSRUN_INIT") || getenv("TSRUN_NO_EARLY_INIT"))
		return; /* another init binary asked for, or early start turned off */
	char init[PATH_MAX + 32];
	snprintf(init, sizeof(init), "%s/native/build/tsrun-init", root);
	if (access(init, X_OK) < 0)
		return;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		/* As a child Node spawns would start: default signal handling and
		 * nothing blocked, whatever our caller set (a shell running us in
		 * the background ignores SIGINT), since the container inherits it. */
		sigset_t none;
		sigemptyset(&none);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int fd = fcntl(sv[1], F_DUPFD, EARLY_FD);
		char fdstr[16];
		snprintf(fdstr, sizeof(fdstr), "%d", fd);
		char *args[] = {init, fdstr, "early", NULL};
		char *env[] = {NULL};
		if (fd >= 0)
			execve(init, args, env);
		_exit(127);
	}
	int mine = pid > 0 ? fcntl(sv[0], F_DUPFD, EARLY_FD) : -1;
	close(sv[0]);
	close(sv[1]);
	if (mine < 0)
		return;
	char val[64];
	snprintf(val, sizeof(val), "%d %d", mine, (int)pid);
	setenv("TSRUN_EARLY_INIT", val, 1);
}

/* Records in TSRUN_INHERITED_FDS how many fds from 3 on our caller passed
 * (3, 4, ... up to the first closed one), counted before we or Node open
 * any: Node's own fds (epoll, eventfds, its signal pipe) take the lowest
 * free numbers, and --preserve-fds may pass on only the caller's. */
static void record_inherited_fds(void)
{
	int n = 0;
	while (fcntl(3 + n, F_GETFD) >= 0)
		n++;
	char val[16];
	snprintf(val, sizeof(val), "%d", n);
	setenv("TSRUN_INHERITED_FDS", val, 1);
}

/* Node refuses a snapshot (and exits) when V8's flags differ from the
 * build's, which NODE_OPTIONS can do (--max-old-space-size, --expose-gc, ...). */
static int snapshot_allowed(void)
{
	const char *vars[] = {"TSRUN_NO_SNAPSHOT", "NODE_OPTIONS", "NODE_V8_COVERAGE"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	record_inherited_fds(); /* first: nothing of ours is open yet */
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0) {
		fprintf(stderr, "tsrun: cannot find the tsrun checkout (/proc/self/exe: %s)\n", strerror(errno));
		return 127;
	}
	self[len] = '\0';
	/* self is <root>/native/build/tsrun-launch */
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s", self);
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(root, '/');
		if (!slash) {
			fprintf(stderr, "tsrun: unexpected location of the launcher: %s\n", self);
			return 127;
		}
		*slash = '\0';
	}

	/* tsrun makes no TLS connections, and Node reads this file of extra CA
	 * certificates at every start-up: about 80 ms on hosts that set it. */
	unsetenv("NODE_EXTRA_CA_CERTS");
	unsetenv("TSRUN_EARLY_INIT"); /* only ever ours */
	start_early_init(root);

	char infopath[PATH_MAX + 32];
	snprintf(infopath, sizeof(infopath), "%s/dist/tsrun.launch", root);
	char *lines[3 + MAX_NODE_ARGS];
	int n = read_lines(infopath, lines, 3 + MAX_NODE_ARGS);
	if (n >= 3 && strcmp(lines[0], root) == 0 && same_binary(lines[1], lines[2]) && snapshot_allowed()) {
		char **args = calloc((size_t)(argc + n + 1), sizeof(char *));
		if (!args)
			return 127;
		int k = 0;
		args[k++] = lines[1];
		for (int i = 3; i < n; i++)
			args[k++] = lines[i];
		args[k++] = self; /* process.argv[1], as for a script */
		for (int i = 1; i < argc; i++)
			args[k++] = argv[i];
		args[k] = NULL;
		execv(lines[1], args);
		/* fall through to the slow path */
	}

	char script[PATH_MAX + 32];
	snprintf(script, sizeof(script), "%s/cmd/launch.cjs", root);
	char **args = calloc((size_t)argc + 3, sizeof(char *));
	if (!args)
		return 127;
	/* The Node the build used, if it is still there (containerd may give
	 * us a PATH without it); else whichever `node` the PATH has. */
	const char *node = n >= 2 && access(lines[1], X_OK) == 0 ? lines[1] : "node";
	args[0] = (char *)node;
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execvp(node, args);
	fprintf(stderr, "tsrun: cannot start node: %s\n", strerror(errno));
	return 127;
}
