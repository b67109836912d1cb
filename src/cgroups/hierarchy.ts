// The host's cgroup layout: unified (v2 only), hybrid (v1 controllers plus a
// v2 tree at /sys/fs/cgroup/unified), or legacy (v1 only). Read from mountinfo.
import { readFileSync } from 'node:fs';

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
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountpoint = unescapeMountinfo(pre[4] ?? '');
    const root = unescapeMountinfo(pre[3] ?? '/');
    if (fstype === 'cgroup2') {
      hierarchies.push({ mountpoint, root, version: 2, controllers: [] });
    } else {
      const opts = (post[2] ?? '').split(',');
      const known = new Set(['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime', 'clone_children', 'xattr']);
      hierarchies.push({ mountpoint, root, version: 1, controllers: opts.filter((o) => !known.has(o)) });
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

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function readCgroupLayout(): CgroupLayout {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}
