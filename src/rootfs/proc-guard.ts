// What may be mounted in and around /proc. Every write tsrun makes after
// pivot_root (sysctls, oom_score_adj, LSM labels) and every read-only or
// masked path lives under the container's /proc, so a mount there, or a
// /proc that is not the procfs tsrun mounted, would redirect them
// (CVE-2019-16884, CVE-2023-27561 class). Refused as runc refuses them; the
// native init checks the resolved targets again at mount time (T.NOT_PROCFS,
// T.PLAIN_DIR), so a symlink cannot get around these lexical rules.
import { parseMountInfo } from '../sys/mountinfo';
import { statfsSync } from 'node:fs';

/** Files under /proc that runc lets a mount cover (lxcfs-style views). */
const MOUNTABLE_IN_PROC = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
  '/proc/sys/kernel/ns_last_pid',
]);

/** Is the host path on procfs (statfs f_type 0x9fa0)? */
export function onProcfs(path: string): boolean {
  try {
    return statfsSync(path).type === 0x9fa0;
  } catch {
    return false;
  }
}

/** Is `path` (normalized, absolute) `dir` or inside it? */
export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Why a mount of `type` on the normalized destination is refused, or
 * undefined. On /proc itself a bind of another procfs is allowed, as runc
 * allows it (the host's /proc for a container without a pid namespace). */
export function procMountRefusal(dest: string, type: string | undefined, sourceIsProcfs = false): string | undefined {
  if (dest === '/proc') return type === 'proc' || sourceIsProcfs ? undefined : 'only a proc file system (or a bind of one) may be mounted on /proc';
  if (isUnder(dest, '/proc') && !MOUNTABLE_IN_PROC.has(dest)) {
    return 'nothing may be mounted inside /proc except ' + [...MOUNTABLE_IN_PROC].join(', ');
  }
  return undefined;
}

/** Mount points of the host's full procfs and sysfs mounts outside the rootfs,
 * from mountinfo text: with --no-pivot they stay in the container's mount
 * namespace unless hidden, and their presence lets a nested user namespace
 * mount a fresh procfs or sysfs without the container's masks. */
export function unmountsBeforeMoveRoot(mountinfo: string, rootfs: string): string[] {
  return parseMountInfo(mountinfo)
    .filter((m) => m.root === '/' && (m.fstype === 'proc' || m.fstype === 'sysfs') && !isUnder(m.mountPoint, rootfs))
    .map((m) => m.mountPoint);
}
