// Which hierarchy serves a controller for one container cgroup. On a hybrid host
// a controller goes to the v1 hierarchy that has it; failing that, to the
// cgroup2 tree if its root lists it in cgroup.controllers.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import type { Hierarchy } from './hierarchy';
import type { CgroupManager } from './manager';
import { errnoCode, readOptional, strerror, writeRaw } from './fsutil';

/** v1 controller names (v2 calls blkio "io"; v1 cpuacct data is in v2 cpu.stat). */
export type Controller =
  | 'memory'
  | 'cpu'
  | 'cpuacct'
  | 'cpuset'
  | 'pids'
  | 'blkio'
  | 'hugetlb'
  | 'net_cls'
  | 'net_prio'
  | 'devices'
  | 'freezer'
  | 'rdma'
  | 'misc';

export interface ControllerTarget {
  controller: Controller;
  version: 1 | 2;
  hierarchy: Hierarchy;
  /** The container's directory on that hierarchy. */
  dir: string;
}

/** The cgroup2 name of a v1 controller, or undefined when v2 has no such controller. */
export function v2ControllerName(c: Controller): string | undefined {
  switch (c) {
    case 'blkio':
      return 'io';
    case 'cpuacct':
      return 'cpu';
    case 'net_cls':
    case 'net_prio':
    case 'devices':
    case 'freezer':
      return undefined;
    default:
      return c;
  }
}

/** The controllers listed in a cgroup2 directory's cgroup.controllers. */
export function v2Available(dir: string): string[] {
  return (readOptional(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
}

export function unifiedHierarchy(mgr: CgroupManager): Hierarchy | undefined {
  return mgr.layout.hierarchies.find((h) => h.version === 2);
}

/** Where the container's `c` lives, or undefined if no hierarchy serves it. */
export function findController(mgr: CgroupManager, c: Controller): ControllerTarget | undefined {
  const v1 = mgr.layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(c));
  if (v1) return { controller: c, version: 1, hierarchy: v1, dir: join(v1.mountpoint, mgr.path) };
  const u = unifiedHierarchy(mgr);
  const name = v2ControllerName(c);
  if (u && name && v2Available(u.mountpoint).includes(name)) {
    return { controller: c, version: 2, hierarchy: u, dir: join(u.mountpoint, mgr.path) };
  }
  return undefined;
}

/** The container's directory in the cgroup2 tree (freezer, unified keys, PSI). */
export function unifiedDir(mgr: CgroupManager): string | undefined {
  const u = unifiedHierarchy(mgr);
  return u ? join(u.mountpoint, mgr.path) : undefined;
}

/** Enables v2 controllers in cgroup.subtree_control of every ancestor of the
 * container's cgroup, from the mount root down, creating missing directories.
 * Names already enabled are left alone. */
export function enableV2Controllers(h: Hierarchy, path: string, names: string[]): void {
  if (names.length === 0) return;
  const parts = path.split('/').filter(Boolean);
  let cur = h.mountpoint;
  const avail = new Set(v2Available(cur));
  for (const n of names) {
    if (!avail.has(n)) throw new ConfigError(`cgroup: controller "${n}" is not available in ${cur}/cgroup.controllers`);
  }
  for (let i = 0; i < parts.length; i++) {
    const enabled = new Set((readOptional(cur, 'cgroup.subtree_control') ?? '').split(/\s+/).filter(Boolean));
    for (const n of names) {
      if (enabled.has(n)) continue;
      try {
        writeRaw(cur, 'cgroup.subtree_control', `+${n}`);
      } catch (e) {
        const hint =
          errnoCode(e) === 'EBUSY' || errnoCode(e) === 'ENOTSUP' || errnoCode(e) === 'EOPNOTSUPP'
            ? ' (a cgroup with processes cannot delegate controllers to children)'
            : '';
        throw new ConfigError(`cgroup: cannot set ${join(cur, 'cgroup.subtree_control')} to +${n}: ${strerror(e)}${hint}`, {
          cause: e,
        });
      }
    }
    cur = join(cur, parts[i]!);
    mkdirSync(cur, { recursive: true });
  }
}
