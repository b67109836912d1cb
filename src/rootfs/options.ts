// OCI mount options (config.json "mounts[].options") turned into mount(2) flags, propagation
// changes, recursive mount_setattr(2) attributes and filesystem data, the way runc reads them.

// mount(2) flags (Linux).
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_MANDLOCK = 64;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_SILENT = 32768;
export const MS_POSIXACL = 1 << 16;
export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_RELATIME = 1 << 21;
export const MS_I_VERSION = 1 << 23;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;

// mount_setattr(2) attributes (Linux).
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
/** Mask of the access-time setting; it must be in attr_clr whenever an atime value is set. */
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_RELATIME = 0x0;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_IDMAP = 0x100000;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

export interface ParsedMountOptions {
  /** MS_* flags to pass to mount(2) (includes MS_BIND, and MS_REC for rbind). */
  flags: number;
  /** MS_* flags explicitly turned off (e.g. "rw" clears MS_RDONLY); matters when remounting a bind mount. */
  clearFlags: number;
  /** Propagation changes, in the order given, e.g. MS_PRIVATE | MS_REC for "rprivate". */
  propagation: number[];
  /** MOUNT_ATTR_* to set recursively (mount_setattr with AT_RECURSIVE). */
  recAttrSet: number;
  /** MOUNT_ATTR_* to clear recursively; includes MOUNT_ATTR__ATIME when an atime r-option was given. */
  recAttrClear: number;
  /** Options that are not mount flags, for the filesystem, e.g. ["mode=755", "size=65536k"]. */
  data: string[];
  /** "bind" or "rbind". */
  bind: boolean;
  /** "rbind". */
  recursive: boolean;
  /** An id-mapped mount was asked for ("idmap" or "ridmap"). */
  idmap: boolean;
  /** The id mapping applies to the whole tree ("ridmap"; a later "idmap" turns it off). */
  ridmap: boolean;
  /** "tmpcopyup": copy the target's existing contents into the new tmpfs. */
  tmpcopyup: boolean;
}

// [clear?, flag]
const MOUNT_FLAGS: ReadonlyMap<string, readonly [boolean, number]> = new Map([
  ['ro', [false, MS_RDONLY]],
  ['rw', [true, MS_RDONLY]],
  ['nosuid', [false, MS_NOSUID]],
  ['suid', [true, MS_NOSUID]],
  ['nodev', [false, MS_NODEV]],
  ['dev', [true, MS_NODEV]],
  ['noexec', [false, MS_NOEXEC]],
  ['exec', [true, MS_NOEXEC]],
  ['sync', [false, MS_SYNCHRONOUS]],
  ['async', [true, MS_SYNCHRONOUS]],
  ['dirsync', [false, MS_DIRSYNC]],
  ['remount', [false, MS_REMOUNT]],
  ['mand', [false, MS_MANDLOCK]],
  ['nomand', [true, MS_MANDLOCK]],
  ['noatime', [false, MS_NOATIME]],
  ['atime', [true, MS_NOATIME]],
  ['nodiratime', [false, MS_NODIRATIME]],
  ['diratime', [true, MS_NODIRATIME]],
  ['relatime', [false, MS_RELATIME]],
  ['norelatime', [true, MS_RELATIME]],
  ['strictatime', [false, MS_STRICTATIME]],
  ['nostrictatime', [true, MS_STRICTATIME]],
  ['lazytime', [false, MS_LAZYTIME]],
  ['nolazytime', [true, MS_LAZYTIME]],
  ['silent', [false, MS_SILENT]],
  ['loud', [true, MS_SILENT]],
  ['iversion', [false, MS_I_VERSION]],
  ['noiversion', [true, MS_I_VERSION]],
  ['nosymfollow', [false, MS_NOSYMFOLLOW]],
  ['symfollow', [true, MS_NOSYMFOLLOW]],
  ['bind', [false, MS_BIND]],
  ['rbind', [false, MS_BIND | MS_REC]],
]);

const PROPAGATION: ReadonlyMap<string, number> = new Map([
  ['private', MS_PRIVATE],
  ['rprivate', MS_PRIVATE | MS_REC],
  ['shared', MS_SHARED],
  ['rshared', MS_SHARED | MS_REC],
  ['slave', MS_SLAVE],
  ['rslave', MS_SLAVE | MS_REC],
  ['unbindable', MS_UNBINDABLE],
  ['runbindable', MS_UNBINDABLE | MS_REC],
]);

const REC_ATTRS: ReadonlyMap<string, readonly [boolean, number]> = new Map([
  ['rro', [false, MOUNT_ATTR_RDONLY]],
  ['rrw', [true, MOUNT_ATTR_RDONLY]],
  ['rnosuid', [false, MOUNT_ATTR_NOSUID]],
  ['rsuid', [true, MOUNT_ATTR_NOSUID]],
  ['rnodev', [false, MOUNT_ATTR_NODEV]],
  ['rdev', [true, MOUNT_ATTR_NODEV]],
  ['rnoexec', [false, MOUNT_ATTR_NOEXEC]],
  ['rexec', [true, MOUNT_ATTR_NOEXEC]],
  ['rnodiratime', [false, MOUNT_ATTR_NODIRATIME]],
  ['rdiratime', [true, MOUNT_ATTR_NODIRATIME]],
  ['rrelatime', [false, MOUNT_ATTR_RELATIME]],
  ['rnorelatime', [true, MOUNT_ATTR_RELATIME]],
  ['rnoatime', [false, MOUNT_ATTR_NOATIME]],
  ['ratime', [true, MOUNT_ATTR_NOATIME]],
  ['rstrictatime', [false, MOUNT_ATTR_STRICTATIME]],
  ['rnostrictatime', [true, MOUNT_ATTR_STRICTATIME]],
  ['rnosymfollow', [false, MOUNT_ATTR_NOSYMFOLLOW]],
  ['rsymfollow', [true, MOUNT_ATTR_NOSYMFOLLOW]],
]);

/** True for the MOUNT_ATTR_* values that are access-time settings (including RELATIME, 0). */
function isAtimeAttr(attr: number): boolean {
  return (attr & MOUNT_ATTR__ATIME) === attr;
}

/**
 * Read OCI mount options. Later options override earlier ones ("ro", "rw" → read-write). Unknown
 * options are kept, in order, as filesystem data. "defaults" means nothing and is dropped.
 */
export function parseMountOptions(options: readonly string[] | undefined): ParsedMountOptions {
  const r: ParsedMountOptions = {
    flags: 0,
    clearFlags: 0,
    propagation: [],
    recAttrSet: 0,
    recAttrClear: 0,
    data: [],
    bind: false,
    recursive: false,
    idmap: false,
    ridmap: false,
    tmpcopyup: false,
  };
  for (const o of options ?? []) {
    const mf = MOUNT_FLAGS.get(o);
    if (mf !== undefined) {
      const [clear, flag] = mf;
      if (clear) {
        r.flags &= ~flag;
        r.clearFlags |= flag;
      } else {
        r.flags |= flag;
        r.clearFlags &= ~flag;
      }
      continue;
    }
    const prop = PROPAGATION.get(o);
    if (prop !== undefined) {
      r.propagation.push(prop);
      continue;
    }
    const ra = REC_ATTRS.get(o);
    if (ra !== undefined) {
      const [clear, attr] = ra;
      if (isAtimeAttr(attr)) {
        // The atime setting is one value, not independent bits: a new one replaces the old, and
        // mount_setattr(2) wants the whole MOUNT_ATTR__ATIME mask in attr_clr.
        if (!clear) r.recAttrSet = (r.recAttrSet & ~MOUNT_ATTR__ATIME) | attr;
        else r.recAttrSet &= ~attr;
        r.recAttrClear |= MOUNT_ATTR__ATIME;
      } else if (clear) {
        r.recAttrSet &= ~attr;
        r.recAttrClear |= attr;
      } else {
        r.recAttrSet |= attr;
        r.recAttrClear &= ~attr;
      }
      continue;
    }
    switch (o) {
      case 'tmpcopyup':
        r.tmpcopyup = true;
        break;
      case 'idmap':
        r.idmap = true;
        r.ridmap = false;
        break;
      case 'ridmap':
        r.idmap = true;
        r.ridmap = true;
        break;
      case 'defaults':
        break;
      default:
        r.data.push(o);
    }
  }
  r.bind = (r.flags & MS_BIND) !== 0;
  r.recursive = r.bind && (r.flags & MS_REC) !== 0;
  return r;
}

const MS_NAMES: readonly (readonly [number, string])[] = [
  [MS_RDONLY, 'MS_RDONLY'],
  [MS_NOSUID, 'MS_NOSUID'],
  [MS_NODEV, 'MS_NODEV'],
  [MS_NOEXEC, 'MS_NOEXEC'],
  [MS_SYNCHRONOUS, 'MS_SYNCHRONOUS'],
  [MS_REMOUNT, 'MS_REMOUNT'],
  [MS_MANDLOCK, 'MS_MANDLOCK'],
  [MS_DIRSYNC, 'MS_DIRSYNC'],
  [MS_NOSYMFOLLOW, 'MS_NOSYMFOLLOW'],
  [MS_NOATIME, 'MS_NOATIME'],
  [MS_NODIRATIME, 'MS_NODIRATIME'],
  [MS_BIND, 'MS_BIND'],
  [MS_MOVE, 'MS_MOVE'],
  [MS_REC, 'MS_REC'],
  [MS_SILENT, 'MS_SILENT'],
  [MS_POSIXACL, 'MS_POSIXACL'],
  [MS_UNBINDABLE, 'MS_UNBINDABLE'],
  [MS_PRIVATE, 'MS_PRIVATE'],
  [MS_SLAVE, 'MS_SLAVE'],
  [MS_SHARED, 'MS_SHARED'],
  [MS_RELATIME, 'MS_RELATIME'],
  [MS_I_VERSION, 'MS_I_VERSION'],
  [MS_STRICTATIME, 'MS_STRICTATIME'],
  [MS_LAZYTIME, 'MS_LAZYTIME'],
];

const ATTR_NAMES: readonly (readonly [number, string])[] = [
  [MOUNT_ATTR_RDONLY, 'MOUNT_ATTR_RDONLY'],
  [MOUNT_ATTR_NOSUID, 'MOUNT_ATTR_NOSUID'],
  [MOUNT_ATTR_NODEV, 'MOUNT_ATTR_NODEV'],
  [MOUNT_ATTR_NOEXEC, 'MOUNT_ATTR_NOEXEC'],
  [MOUNT_ATTR_NOATIME, 'MOUNT_ATTR_NOATIME'],
  [MOUNT_ATTR_STRICTATIME, 'MOUNT_ATTR_STRICTATIME'],
  [MOUNT_ATTR_NODIRATIME, 'MOUNT_ATTR_NODIRATIME'],
  [MOUNT_ATTR_IDMAP, 'MOUNT_ATTR_IDMAP'],
  [MOUNT_ATTR_NOSYMFOLLOW, 'MOUNT_ATTR_NOSYMFOLLOW'],
];

function describe(value: number, names: readonly (readonly [number, string])[]): string {
  if (value === 0) return '0';
  const parts: string[] = [];
  let rest = value >>> 0;
  for (const [bit, name] of names) {
    if ((rest & bit) !== 0) {
      parts.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) parts.push('0x' + rest.toString(16));
  return parts.join('|');
}

/** MS_* flags for an error message: "MS_BIND|MS_REC", "0" for none, unknown bits in hex. */
export function describeMountFlags(flags: number): string {
  return describe(flags, MS_NAMES);
}

/** MOUNT_ATTR_* bits for an error message, like describeMountFlags. */
export function describeMountAttrs(attrs: number): string {
  return describe(attrs, ATTR_NAMES);
}
