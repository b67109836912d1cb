// `tsrun jail --help`'s description (kept apart so the CLI loads no jail code for it).
export const JAIL_HELP = `Runs PROGRAM isolated in a throw-away container, in the foreground, and
removes everything when it exits (its exit code is the program's). No bundle
is needed: the container is built from these flags.

What the program sees: its own pid, mount, ipc, uts, cgroup and network
namespaces; a read-only root made of the host's /usr, /etc, /bin, /sbin,
/lib* and /opt (or --rootfs DIR); private /tmp, /run and /dev; /etc/shadow,
/etc/ssh and other secrets hidden; no capabilities (unless --cap); no new
privileges; the network "none" (loopback only) unless --network. Nothing
else of the host's files is visible unless exposed with --ro or --rw.

SIGINT, SIGTERM and SIGHUP are passed on to the program; if it is still
running 5 seconds later (a pid 1 ignores signals it has no handler for) it
is killed.

Examples:
   tsrun jail --network bridge --publish 127.0.0.1:8080:80 --ro ./site:/www -- busybox httpd -f -p 80 -h /www
   tsrun jail --uid 1000 --rw ./data:/data --memory 256m --pids 100 -- /usr/bin/python3 -m http.server -d /data`;
