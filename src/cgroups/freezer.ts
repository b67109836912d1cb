// Pause/resume: the v1 freezer controller (freezer.state) when the host has
// one, else cgroup v2's cgroup.freeze. Synchronous; polls with short sleeps.
import { join } from 'node:path';
import { findController, unifiedDir } from './controllers';
import { CgroupError, fileExists, readOptional, sleepSync, strerror, writeRaw } from './fsutil';
import type { CgroupManager } from './manager';

export interface FreezeOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
}

type Freezer = { version: 1 | 2; dir: string };

function freezerOf(mgr: CgroupManager): Freezer | undefined {
  const t = findController(mgr, 'freezer');
  if (t?.version === 1) return { version: 1, dir: t.dir };
  const u = unifiedDir(mgr);
  if (u && fileExists(u, 'cgroup.freeze')) return { version: 2, dir: u };
  return undefined;
}

function write(dir: string, file: string, value: string): void {
  try {
    writeRaw(dir, file, value);
  } catch (e) {
    throw new CgroupError(`cgroup: cannot set ${join(dir, file)} to ${value}: ${strerror(e)}`, { cause: e });
  }
}

function v1State(dir: string): string {
  const s = readOptional(dir, 'freezer.state');
  if (s === undefined) throw new CgroupError(`cgroup: ${dir}/freezer.state is gone`);
  return s.trim();
}

function v2Frozen(dir: string): boolean {
  return /^frozen 1$/m.test(readOptional(dir, 'cgroup.events') ?? '');
}

/** Freezes every process in the container's cgroup and waits until the kernel
 * reports it frozen. On failure the cgroup is thawed again and CgroupError thrown. */
export function freeze(mgr: CgroupManager, opts: FreezeOptions = {}): void {
  const f = freezerOf(mgr);
  if (!f) throw new CgroupError('cgroup: cannot freeze: no freezer on this host (neither the v1 freezer controller nor cgroup.freeze)');
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  if (f.version === 2) {
    write(f.dir, 'cgroup.freeze', '1');
    while (!v2Frozen(f.dir)) {
      if (Date.now() > deadline) {
        try {
          writeRaw(f.dir, 'cgroup.freeze', '0');
        } catch {
          // best effort
        }
        throw new CgroupError(`cgroup: timed out waiting for ${f.dir} to freeze`);
      }
      sleepSync(1);
    }
    return;
  }
  // v1: FREEZING can stall while tasks fork or are added; keep rewriting
  // FROZEN, and now and then thaw briefly to let stragglers settle (as runc does).
  try {
    for (let i = 0; ; i++) {
      if (i % 50 === 49) {
        write(f.dir, 'freezer.state', 'THAWED');
        sleepSync(10);
      }
      write(f.dir, 'freezer.state', 'FROZEN');
      if (i % 25 === 24) sleepSync(1);
      const state = v1State(f.dir);
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') throw new CgroupError(`cgroup: unexpected freezer.state ${JSON.stringify(state)} while freezing`);
      if (Date.now() > deadline) throw new CgroupError(`cgroup: unable to freeze ${f.dir} (stuck in FREEZING)`);
    }
  } catch (e) {
    try {
      writeRaw(f.dir, 'freezer.state', 'THAWED');
    } catch {
      // best effort: never leave it half frozen
    }
    throw e;
  }
}

/** Thaws the container's cgroup. A host with no freezer has nothing to thaw. */
export function thaw(mgr: CgroupManager): void {
  const f = freezerOf(mgr);
  if (!f) return;
  if (f.version === 2) {
    write(f.dir, 'cgroup.freeze', '0');
    return;
  }
  write(f.dir, 'freezer.state', 'THAWED');
  // Wait for THAWED (the transition is quick; a frozen ancestor keeps it FROZEN).
  const deadline = Date.now() + 1000;
  while (v1State(f.dir) !== 'THAWED' && Date.now() < deadline) sleepSync(1);
}

/** Whether the container's cgroup is itself frozen (not merely through a frozen ancestor). */
export function isFrozen(mgr: CgroupManager): boolean {
  const f = freezerOf(mgr);
  if (!f) return false;
  if (f.version === 2) {
    const self = readOptional(f.dir, 'cgroup.freeze');
    return self?.trim() === '1' && v2Frozen(f.dir);
  }
  const deadline = Date.now() + 1000;
  for (;;) {
    const s = readOptional(f.dir, 'freezer.state')?.trim();
    if (s === undefined || s === 'THAWED') return false;
    if (s === 'FROZEN') {
      const self = readOptional(f.dir, 'freezer.self_freezing');
      return self === undefined ? true : self.trim() === '1';
    }
    // FREEZING: settle first
    if (Date.now() > deadline) return false;
    sleepSync(1);
  }
}
