// The host's cgroup layout: unified (v2 only), hybrid (v1 controllers plus a
// v2 tree at /sys/fs/cgroup/unified), or legacy (v1 only). Read from mountinfo.
import { readFileSync } from 'node:fs';
import { parseMountInfo } from '../sys/mountinfo';

export type CgroupMode = 'unified' | 'hybrid' | 'legacy';

export interface Hierarchy {
  /** Where it is mounted on the host, e.g. /sys/fs/cgroup/memory. */
  mountpoint: string;
  /** The cgroup path of the mount's root (usually "/"). */
  root: string;
  /** 2 for cgroup2, 1 for a v1 hierarchy. */
  version: 1 | 2;
  /** v1 controllers or name= options, e.g. ["cpu","cpuacct"] or ["name=systemd"]. */
  controllers: string[];
}

export interface CgroupLayout {
  mode: CgroupMode;
  hierarchies: Hierarchy[];
}

/** Parses /proc/self/mountinfo text; exported for tests. */
export function parseCgroupMounts(mountinfo: string): CgroupLayout {
  const hierarchies: Hierarchy[] = [];
  for (const m of parseMountInfo(mountinfo)) {
    if (m.fstype === 'cgroup2') {
      hierarchies.push({ mountpoint: m.mountPoint, root: m.root, version: 2, controllers: [] });
    } else if (m.fstype === 'cgroup') {
      const known = new Set(['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime', 'clone_children', 'xattr']);
      hierarchies.push({ mountpoint: m.mountPoint, root: m.root, version: 1, controllers: m.superOptions.filter((o) => !known.has(o)) });
    }
  }
  const v1 = hierarchies.some((h) => h.version === 1);
  const v2 = hierarchies.some((h) => h.version === 2);
  const mode: CgroupMode = !v1 ? 'unified' : v2 ? 'hybrid' : 'legacy';
  // Only the first mount of each hierarchy counts (bind mounts repeat them).
  const seen = new Set<string>();
  const unique = hierarchies.filter((h) => {
    const key = h.version === 2 ? 'cgroup2' : h.controllers.join(',');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { mode, hierarchies: unique };
}

export function readCgroupLayout(): CgroupLayout {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}
