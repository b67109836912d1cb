// Moving a process into a cgroup (a write to cgroup.procs) takes the
// kernel's global cgroup_threadgroup_rwsem for writing, and the first such
// write after a quiet spell waits for an RCU grace period: several ms, most
// of a container's creation here. Writes that follow within a grace period
// are cheap. So when a container (or exec) is about to be created, the shim
// "moves" itself into the cgroup it is already in, on a libuv worker thread:
// that write pays the grace period while the runtime spawns its native init,
// and the runtime's own writes, a few ms later, find the lock warm.
// (Measured here: joining a new process to its cgroups went from ~13 ms to
// ~0.5 ms.) The move is a no-op for the shim; any failure turns priming off.
import { closeSync, constants, openSync, readFileSync, write } from 'node:fs';
import { join } from 'node:path';
import { parseCgroupMounts, type Hierarchy } from '../cgroups/hierarchy';

/** Our own cgroup.procs file in one hierarchy, from mountinfo and /proc/self/cgroup text. */
export function ownProcsFile(mountinfo: string, selfCgroup: string): string | undefined {
  const layout = parseCgroupMounts(mountinfo);
  const candidates: { h: Hierarchy; path: string }[] = [];
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , ctrl, path] = m;
    const h =
      ctrl === ''
        ? layout.hierarchies.find((x) => x.version === 2)
        : layout.hierarchies.find((x) => x.version === 1 && [...x.controllers].sort().join(',') === ctrl!.split(',').sort().join(','));
    if (!h || !path!.startsWith(h.root)) continue;
    candidates.push({ h, path: path!.slice(h.root === '/' ? 0 : h.root.length) || '/' });
  }
  // Prefer hierarchies where a move does least: v2, named ones, pids, freezer.
  const rank = (h: Hierarchy) => (h.version === 2 ? 0 : h.controllers.some((c) => c.startsWith('name=')) ? 1 : h.controllers.includes('pids') ? 2 : h.controllers.includes('freezer') ? 3 : h.controllers.includes('cpuset') ? 9 : 5);
  candidates.sort((a, b) => rank(a.h) - rank(b.h));
  const best = candidates[0];
  return best ? join(best.h.mountpoint, best.path, 'cgroup.procs') : undefined;
}

/** How often to repeat the move while a create is in progress: well within
 * a grace period, so the lock never goes cold before the runtime's writes. */
const REPEAT_MS = 2;

export class CgroupPrimer {
  /** Our cgroup.procs, kept open: one write is one worker-thread job that
   * starts at once (fs.writeFile would open, write and close in three jobs,
   * each waiting for the busy main thread). */
  private fd: number | undefined;
  private file: string | undefined;
  private mountinfo?: string;
  private off = false;
  private readonly payload = Buffer.from(`${process.pid}\n`);
  private inFlight = false;
  private holders = 0;
  /** Number of moves done (tests). */
  count = 0;

  constructor(private readonly log?: (m: string) => void) {}

  /** Keeps the lock warm until the returned function is called. */
  hold(): () => void {
    this.holders++;
    this.prime();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
    };
  }

  /** Starts a no-op self-move on a worker thread, unless one is running. */
  prime(): void {
    if (this.inFlight || this.off) return;
    // Where we are now (someone may have moved us): never move the shim elsewhere.
    let file: string | undefined;
    try {
      this.mountinfo ??= readFileSync('/proc/self/mountinfo', 'utf8');
      file = ownProcsFile(this.mountinfo, readFileSync('/proc/self/cgroup', 'utf8'));
      if (file !== this.file) {
        if (this.fd !== undefined) closeSync(this.fd);
        this.fd = undefined;
        this.file = file;
        if (file) this.fd = openSync(file, constants.O_WRONLY);
      }
    } catch (e) {
      this.log?.(`cgroup priming off: ${file ?? 'no cgroup'}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      this.off = true;
      return;
    }
    const fd = this.fd;
    if (fd === undefined) return;
    this.inFlight = true;
    write(fd, this.payload, 0, this.payload.length, null, (err) => {
      this.inFlight = false;
      this.count++;
      if (err) {
        this.log?.(`cgroup priming off: ${err.code ?? err.message}`);
        this.off = true;
        return;
      }
      if (this.holders > 0) setTimeout(() => this.holders > 0 && this.prime(), REPEAT_MS).unref();
    });
  }
}
