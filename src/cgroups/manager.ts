// Places a container in its cgroup on every hierarchy and removes it again.
// Resource limits build on this (see the cgroups issue); here: create, join,
// list processes, signal them all, destroy.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, TsrunError } from '../errors';
import { type CgroupLayout, type Hierarchy } from './hierarchy';

/** Our own subtree: containers without linux.cgroupsPath go under it. */
export const DEFAULT_PARENT = '/tsrun';

/** runc's cgroupsPath semantics for the cgroupfs driver: an absolute path is
 * used as given; a relative one is placed under tsrun's subtree (never under
 * the calling process's own cgroup, which on a managed host belongs to
 * someone else). The systemd "slice:prefix:name" form needs the systemd
 * driver (systemd.ts). */
export function resolveCgroupPath(cgroupsPath: string | undefined, id: string): string {
  if (!cgroupsPath) return `${DEFAULT_PARENT}/${id}`;
  if (/^[^/]*:[^/]*:[^/]*$/.test(cgroupsPath)) {
    throw new ConfigError(
      `config.json: linux.cgroupsPath "${cgroupsPath}" is in systemd's slice:prefix:name form, which needs --systemd-cgroup (or use a path for the cgroupfs driver)`,
    );
  }
  const clean = cgroupsPath.split('/').filter((p) => p && p !== '.');
  if (clean.includes('..')) throw new ConfigError(`config.json: linux.cgroupsPath "${cgroupsPath}" must not contain ".."`);
  return cgroupsPath.startsWith('/') ? '/' + clean.join('/') : `${DEFAULT_PARENT}/${clean.join('/')}`;
}

export class CgroupManager {
  constructor(
    readonly layout: CgroupLayout,
    readonly path: string,
  ) {}

  /** Host directories of the container's cgroup, one per hierarchy we manage. */
  dirs(): { h: Hierarchy; dir: string }[] {
    return this.layout.hierarchies.map((h) => ({ h, dir: join(h.mountpoint, this.path) }));
  }

  create(): void {
    for (const { h, dir } of this.dirs()) {
      if (h.version === 1 && h.controllers.includes('cpuset')) mkdirCpuset(h.mountpoint, this.path);
      else mkdirSync(dir, { recursive: true });
    }
  }

  /** The directories a new process joins, by version (see runtime/cgroup-steps). */
  targets(): { v1: string[]; v2?: string } {
    const all = this.dirs();
    return { v1: all.filter((d) => d.h.version === 1).map((d) => d.dir), v2: all.find((d) => d.h.version === 2)?.dir };
  }

  /** Moves a process into the container's cgroup on every hierarchy. */
  join(pid: number): void {
    for (const { dir } of this.dirs()) writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
  }

  /** The pids in the container's cgroup and (unless `below` is false) the
   * cgroups under it, from the first hierarchy that has it, as `runc ps`
   * and `kill --all` see them. */
  pids(below = true): number[] {
    const preferred = [...this.dirs()].sort((a, b) => rank(a.h) - rank(b.h));
    for (const { dir } of preferred) {
      if (!existsSync(dir)) continue;
      const out: number[] = [];
      collectPids(dir, out, below ? 0 : MAX_DEPTH + 1);
      return out;
    }
    return [];
  }

  /** Sends a signal to every process in the cgroup (and, unless `below` is false, its sub-cgroups). */
  signalAll(signal: number, below = true): void {
    for (const pid of this.pids(below)) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Kills whatever is left and removes the directories (children first). */
  async destroy(): Promise<void> {
    for (let attempt = 0; attempt < 250; attempt++) {
      // Sub-cgroups are looked into only once a removal found the tree busy:
      // the usual container has none, and delete runs on every `run`.
      this.signalAll(9, attempt > 0);
      let busy = false;
      for (const { dir } of this.dirs()) {
        try {
          removeTree(dir);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
          busy = true;
        }
      }
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new TsrunError(`cgroup ${this.path} is still busy after its processes were killed; delete again to retry`);
  }

  exists(): boolean {
    return this.dirs().some(({ dir }) => existsSync(dir));
  }
}

const MAX_DEPTH = 32;

/** cgroup.procs of dir and, down to MAX_DEPTH levels, of the cgroups below. */
function collectPids(dir: string, out: number[], depth = 0): void {
  try {
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) out.push(Number(line));
  } catch {
    return; // removed meanwhile
  }
  if (depth > MAX_DEPTH) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) collectPids(join(dir, entry.name), out, depth + 1);
  }
}

function rank(h: Hierarchy): number {
  if (h.version === 1 && h.controllers.includes('pids')) return 0;
  if (h.version === 1 && h.controllers.includes('freezer')) return 1;
  return 2;
}

/** rmdir of a cgroup, children first. A cgroup's control files do not
 * count: only child cgroups (EBUSY, like live processes) make rmdir fail,
 * so the directory is listed only then (listing every controller's files
 * costs ~1 ms). A cgroup still busy after that throws EBUSY for a retry. */
function removeTree(dir: string): void {
  try {
    rmdirSync(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTEMPTY' && code !== 'EBUSY') throw e;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(join(dir, entry.name));
  }
  rmdirSync(dir);
}

/** v1 cpuset refuses tasks until cpus and mems are set: copy them down level by level. */
function mkdirCpuset(mountpoint: string, path: string): void {
  let cur = mountpoint;
  for (const part of path.split('/').filter(Boolean)) {
    const next = join(cur, part);
    if (!existsSync(next)) {
      mkdirSync(next);
    }
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const mine = readFileSync(join(next, f), 'utf8').trim();
      if (!mine) writeFileSync(join(next, f), readFileSync(join(cur, f), 'utf8').trim());
    }
    cur = next;
  }
}
