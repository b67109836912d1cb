// Id-mapped bind mounts (mounts[].uidMappings/gidMappings, "idmap"/"ridmap"):
// files owned by host ids appear owned by the container's ids, with no chown.
// The kernel only lets a process privileged over the filesystem (the host
// runtime, not the container's init) set a mount's id mapping, so the runtime
// makes a detached, id-mapped copy of the source here and passes its fd to
// the init, which moves it onto the target inside the rootfs.
import { closeSync, openSync } from 'node:fs';
import { ConfigError, TsrunError } from '../errors';
import type { LinuxIDMapping, Mount } from '../oci/types';
import { libc } from '../sys/libc';

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOUNT_ATTR_IDMAP = 0x100000;

export interface IdmapSource {
  source: string;
  recursive: boolean;
}

const sameMaps = (a: LinuxIDMapping[] | undefined, b: LinuxIDMapping[] | undefined) =>
  JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** The mount's mappings must be the container's: the detached mount is
 * mapped through the container's own user namespace. */
export function checkIdmapMount(m: Mount, dest: string, userns: boolean, uidMaps?: LinuxIDMapping[], gidMaps?: LinuxIDMapping[]): void {
  if (!userns) throw new ConfigError(`config.json: mount ${dest}: an id-mapped mount needs a new user namespace`);
  if ((m.uidMappings && !sameMaps(m.uidMappings, uidMaps)) || (m.gidMappings && !sameMaps(m.gidMappings, gidMaps))) {
    throw new ConfigError(`config.json: mount ${dest}: id mappings different from the container's user namespace are not supported`);
  }
}

/** A detached copy of `source`, id-mapped through the user namespace at usernsPath. */
export function makeIdmappedMount(src: IdmapSource, usernsPath: string): number {
  const c = libc();
  const fd = c.openTree(AT_FDCWD, src.source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (src.recursive ? AT_RECURSIVE : 0));
  if (fd < 0) throw new TsrunError(`id-mapped mount of ${src.source}: open_tree failed (errno ${c.errno()})`);
  const userns = openSync(usernsPath, 'r');
  try {
    const attr = Buffer.alloc(32); // struct mount_attr
    attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_IDMAP), 0);
    attr.writeBigUInt64LE(BigInt(userns), 24);
    if (c.mountSetattr(fd, '', AT_EMPTY_PATH | (src.recursive ? AT_RECURSIVE : 0), attr, attr.length) < 0) {
      const errno = c.errno();
      closeSync(fd);
      const why = errno === 22 ? 'the filesystem or kernel cannot id-map this mount' : `errno ${errno}`;
      throw new TsrunError(`id-mapped mount of ${src.source}: ${why}`);
    }
  } finally {
    closeSync(userns);
  }
  return fd;
}
