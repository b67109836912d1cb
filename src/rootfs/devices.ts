// /dev inside the container: the spec's default devices plus linux.devices,
// created with mknod, or bind mounted from the host inside a user namespace
// (where mknod is not allowed), and the standard symlinks.
import { ConfigError } from '../errors';
import type { LinuxDevice, Spec } from '../oci/types';
import { type Plan, T } from '../init/plan';
import { MS_BIND } from './options';
import { addMountStep } from './mount-step';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The devices every container gets (runtime-spec config-linux.md). */
export const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Linux's makedev for the 32-bit dev_t layout glibc uses. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function addDeviceSteps(plan: Plan, spec: Spec, userns: boolean): void {
  const byPath = new Map<string, LinuxDevice>();
  for (const d of [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]) byPath.set(d.path, d);
  for (const d of byPath.values()) {
    if (!d.path.startsWith('/dev/')) throw new ConfigError(`config.json: device path ${d.path} must be under /dev`);
    if (userns) {
      // mknod is refused in a user namespace: bind the host's node instead.
      addMountStep(plan, `bind mount host device ${d.path}`, { source: d.path, target: d.path, flags: MS_BIND, tflags: T.IN_ROOT | T.MKDIR | T.MKFILE | T.NOT_PROCFS | T.FOLLOW_DANGLING });
      continue;
    }
    const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
    const mode = kind | ((d.fileMode ?? 0o666) & 0o7777);
    const dev = d.type === 'p' ? 0n : makedev(d.major ?? 0, d.minor ?? 0);
    // Made in its parent directory, resolved (and created) inside the root.
    const slash = d.path.lastIndexOf('/');
    plan.add('mknod', `create device ${d.path}`, { dir: d.path.slice(0, slash), name: d.path.slice(slash + 1), mode, dev, uid: d.uid ?? 0, gid: d.gid ?? 0 });
  }
}

/** After pivot_root: the standard /dev symlinks. */
export function addDevSymlinkSteps(plan: Plan): void {
  const links: [string, string][] = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
    ['pts/ptmx', '/dev/ptmx'],
  ];
  // What the image already has there stays (as with runc).
  for (const [target, link] of links) plan.add('symlink', `symlink ${link} -> ${target}`, { target, link, existOk: 1 });
}
