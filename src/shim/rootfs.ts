// The container's root filesystem as containerd hands it to a shim: mounts
// (an overlay from the snapshotter, or a bind for the native one) to put on
// <bundle>/rootfs at Create and take off at Delete.
import { mkdirSync } from 'node:fs';
import { MS_BIND, MS_RDONLY, MS_REMOUNT, parseMountOptions } from '../rootfs/options';
import { mount, MNT_DETACH, umount } from '../sys/libc';

export interface RootfsMount {
  type: string;
  source: string;
  options: string[];
}

/** Mount data must fit in a page. */
const MAX_DATA = 4095;

export function mountRootfs(target: string, mounts: RootfsMount[]): void {
  if (mounts.length === 0) return;
  mkdirSync(target, { recursive: true });
  const done: string[] = [];
  try {
    for (const m of mounts) {
      const o = parseMountOptions(m.options);
      const data = o.data.join(',');
      if (data.length > MAX_DATA) throw new Error(`rootfs mount options are too long (${data.length} bytes)`);
      const type = o.bind ? null : m.type || null;
      mount(m.source || null, target, type, o.bind ? o.flags & ~MS_RDONLY : o.flags, data || null);
      done.push(target);
      // A read-only bind takes a remount.
      if (o.bind && o.flags & MS_RDONLY) mount(null, target, null, MS_REMOUNT | MS_BIND | MS_RDONLY | (o.flags & ~MS_RDONLY), null);
      for (const p of o.propagation) mount(null, target, null, p, null);
    }
  } catch (e) {
    for (const t of done.reverse()) umountQuietly(t);
    throw e;
  }
}

/** Takes every mount off `target` (stacked mounts too); detaches a busy one. */
export function unmountRootfs(target: string): void {
  for (let i = 0; i < 32; i++) {
    try {
      if (!umount(target)) return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EBUSY') throw e;
      if (!umount(target, MNT_DETACH)) return;
    }
  }
}

function umountQuietly(target: string): void {
  try {
    unmountRootfs(target);
  } catch {
    // best effort on the error path
  }
}
