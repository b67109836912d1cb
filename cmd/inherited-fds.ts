// --preserve-fds N passes fds 3..N+2 of tsrun on to the container. Only fds
// tsrun's caller really passed may go: in Node the lowest free numbers are
// taken by Node's own fds (epoll, eventfds, its signal pipe), which must
// never reach a container. The launcher (native/tsrun-launch.c) counts the
// caller's before Node starts and says how many in TSRUN_INHERITED_FDS.
import { UsageError } from './usage-error';

/** How many fds from 3 on the caller passed without a gap; undefined when
 * tsrun was not started through its launcher. Removed from the environment,
 * so that no child process of ours sees it. */
export function inheritedFdsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.TSRUN_INHERITED_FDS;
  delete env.TSRUN_INHERITED_FDS;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Refuses --preserve-fds beyond what was passed, before anything is created
 * (runc fails the same way on a preserved fd that is not open). */
export function checkPreserveFds(n: number, inherited: number | undefined): void {
  if (n === 0) return;
  if (inherited === undefined) {
    throw new UsageError(`--preserve-fds ${n}: tsrun cannot tell which file descriptors its caller passed (start it as bin/tsrun, whose launcher records them)`);
  }
  if (n <= inherited) return;
  const asked = n === 1 ? 'fd 3' : `fds 3-${n + 2}`;
  throw new UsageError(`--preserve-fds ${n} asks to pass on ${asked}, but fd ${3 + inherited} was not passed to tsrun`);
}
