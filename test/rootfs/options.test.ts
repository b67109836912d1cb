import { describe, expect, it } from 'vitest';
import * as o from '../../src/rootfs/options';
import { describeMountAttrs, describeMountFlags, parseMountOptions } from '../../src/rootfs/options';

const EMPTY = {
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

describe('constants', () => {
  it('have the Linux values', () => {
    expect([o.MS_RDONLY, o.MS_NOSUID, o.MS_NODEV, o.MS_NOEXEC, o.MS_SYNCHRONOUS, o.MS_REMOUNT]).toEqual([
      1, 2, 4, 8, 16, 32,
    ]);
    expect([o.MS_MANDLOCK, o.MS_DIRSYNC, o.MS_NOSYMFOLLOW, o.MS_NOATIME, o.MS_NODIRATIME]).toEqual([
      64, 128, 256, 1024, 2048,
    ]);
    expect([o.MS_BIND, o.MS_MOVE, o.MS_REC, o.MS_SILENT]).toEqual([4096, 8192, 16384, 32768]);
    expect([o.MS_UNBINDABLE, o.MS_PRIVATE, o.MS_SLAVE, o.MS_SHARED, o.MS_RELATIME]).toEqual([
      0x20000, 0x40000, 0x80000, 0x100000, 0x200000,
    ]);
    expect([o.MS_I_VERSION, o.MS_STRICTATIME, o.MS_LAZYTIME]).toEqual([0x800000, 0x1000000, 0x2000000]);
    expect([o.MOUNT_ATTR_RDONLY, o.MOUNT_ATTR_NOSUID, o.MOUNT_ATTR_NODEV, o.MOUNT_ATTR_NOEXEC]).toEqual([1, 2, 4, 8]);
    expect([o.MOUNT_ATTR__ATIME, o.MOUNT_ATTR_RELATIME, o.MOUNT_ATTR_NOATIME, o.MOUNT_ATTR_STRICTATIME]).toEqual([
      0x70, 0, 0x10, 0x20,
    ]);
    expect([o.MOUNT_ATTR_NODIRATIME, o.MOUNT_ATTR_IDMAP, o.MOUNT_ATTR_NOSYMFOLLOW]).toEqual([
      0x80, 0x100000, 0x200000,
    ]);
  });
});

describe('parseMountOptions', () => {
  it('returns an empty result for no options', () => {
    expect(parseMountOptions(undefined)).toEqual(EMPTY);
    expect(parseMountOptions([])).toEqual(EMPTY);
  });

  it('sets mount flags', () => {
    const table: [string, number][] = [
      ['ro', o.MS_RDONLY],
      ['nosuid', o.MS_NOSUID],
      ['nodev', o.MS_NODEV],
      ['noexec', o.MS_NOEXEC],
      ['sync', o.MS_SYNCHRONOUS],
      ['dirsync', o.MS_DIRSYNC],
      ['remount', o.MS_REMOUNT],
      ['mand', o.MS_MANDLOCK],
      ['noatime', o.MS_NOATIME],
      ['nodiratime', o.MS_NODIRATIME],
      ['relatime', o.MS_RELATIME],
      ['strictatime', o.MS_STRICTATIME],
      ['lazytime', o.MS_LAZYTIME],
      ['silent', o.MS_SILENT],
      ['iversion', o.MS_I_VERSION],
      ['nosymfollow', o.MS_NOSYMFOLLOW],
    ];
    for (const [opt, flag] of table) {
      expect(parseMountOptions([opt]), opt).toEqual({ ...EMPTY, flags: flag });
    }
  });

  it('clears mount flags', () => {
    const table: [string, number][] = [
      ['rw', o.MS_RDONLY],
      ['suid', o.MS_NOSUID],
      ['dev', o.MS_NODEV],
      ['exec', o.MS_NOEXEC],
      ['async', o.MS_SYNCHRONOUS],
      ['nomand', o.MS_MANDLOCK],
      ['atime', o.MS_NOATIME],
      ['diratime', o.MS_NODIRATIME],
      ['norelatime', o.MS_RELATIME],
      ['nostrictatime', o.MS_STRICTATIME],
      ['nolazytime', o.MS_LAZYTIME],
      ['loud', o.MS_SILENT],
      ['noiversion', o.MS_I_VERSION],
      ['symfollow', o.MS_NOSYMFOLLOW],
    ];
    for (const [opt, flag] of table) {
      expect(parseMountOptions([opt]), opt).toEqual({ ...EMPTY, clearFlags: flag });
    }
  });

  it('lets later options override earlier ones', () => {
    expect(parseMountOptions(['ro', 'rw'])).toMatchObject({ flags: 0, clearFlags: o.MS_RDONLY });
    expect(parseMountOptions(['rw', 'ro'])).toMatchObject({ flags: o.MS_RDONLY, clearFlags: 0 });
    expect(parseMountOptions(['nosuid', 'nodev', 'suid', 'exec'])).toMatchObject({
      flags: o.MS_NODEV,
      clearFlags: o.MS_NOSUID | o.MS_NOEXEC,
    });
  });

  it('a typical /proc, /dev and bind mount', () => {
    expect(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({
      ...EMPTY,
      flags: o.MS_NOSUID | o.MS_STRICTATIME,
      data: ['mode=755', 'size=65536k'],
    });
    expect(parseMountOptions(['rbind', 'rprivate', 'ro'])).toEqual({
      ...EMPTY,
      flags: o.MS_BIND | o.MS_REC | o.MS_RDONLY,
      propagation: [o.MS_PRIVATE | o.MS_REC],
      bind: true,
      recursive: true,
    });
    expect(parseMountOptions(['bind', 'nosuid'])).toEqual({
      ...EMPTY,
      flags: o.MS_BIND | o.MS_NOSUID,
      bind: true,
    });
  });

  it('collects propagation in order', () => {
    expect(
      parseMountOptions(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable'])
        .propagation,
    ).toEqual([
      o.MS_PRIVATE,
      o.MS_PRIVATE | o.MS_REC,
      o.MS_SHARED,
      o.MS_SHARED | o.MS_REC,
      o.MS_SLAVE,
      o.MS_SLAVE | o.MS_REC,
      o.MS_UNBINDABLE,
      o.MS_UNBINDABLE | o.MS_REC,
    ]);
    // propagation does not touch flags
    expect(parseMountOptions(['rslave']).flags).toBe(0);
  });

  it('recursive attributes', () => {
    const set: [string, number][] = [
      ['rro', o.MOUNT_ATTR_RDONLY],
      ['rnosuid', o.MOUNT_ATTR_NOSUID],
      ['rnodev', o.MOUNT_ATTR_NODEV],
      ['rnoexec', o.MOUNT_ATTR_NOEXEC],
      ['rnodiratime', o.MOUNT_ATTR_NODIRATIME],
      ['rnosymfollow', o.MOUNT_ATTR_NOSYMFOLLOW],
    ];
    for (const [opt, attr] of set) {
      expect(parseMountOptions([opt]), opt).toEqual({ ...EMPTY, recAttrSet: attr });
    }
    const clear: [string, number][] = [
      ['rrw', o.MOUNT_ATTR_RDONLY],
      ['rsuid', o.MOUNT_ATTR_NOSUID],
      ['rdev', o.MOUNT_ATTR_NODEV],
      ['rexec', o.MOUNT_ATTR_NOEXEC],
      ['rdiratime', o.MOUNT_ATTR_NODIRATIME],
      ['rsymfollow', o.MOUNT_ATTR_NOSYMFOLLOW],
    ];
    for (const [opt, attr] of clear) {
      expect(parseMountOptions([opt]), opt).toEqual({ ...EMPTY, recAttrClear: attr });
    }
    expect(parseMountOptions(['rro', 'rrw'])).toMatchObject({ recAttrSet: 0, recAttrClear: o.MOUNT_ATTR_RDONLY });
    expect(parseMountOptions(['rrw', 'rro', 'rnosuid'])).toMatchObject({
      recAttrSet: o.MOUNT_ATTR_RDONLY | o.MOUNT_ATTR_NOSUID,
      recAttrClear: 0,
    });
    // r-options do not touch mount(2) flags
    expect(parseMountOptions(['rro']).flags).toBe(0);
  });

  it('recursive atime settings always clear the whole atime field', () => {
    expect(parseMountOptions(['rnoatime'])).toMatchObject({
      recAttrSet: o.MOUNT_ATTR_NOATIME,
      recAttrClear: o.MOUNT_ATTR__ATIME,
    });
    expect(parseMountOptions(['rstrictatime'])).toMatchObject({
      recAttrSet: o.MOUNT_ATTR_STRICTATIME,
      recAttrClear: o.MOUNT_ATTR__ATIME,
    });
    expect(parseMountOptions(['rrelatime'])).toMatchObject({ recAttrSet: 0, recAttrClear: o.MOUNT_ATTR__ATIME });
    expect(parseMountOptions(['ratime'])).toMatchObject({ recAttrSet: 0, recAttrClear: o.MOUNT_ATTR__ATIME });
    expect(parseMountOptions(['rnorelatime'])).toMatchObject({ recAttrSet: 0, recAttrClear: o.MOUNT_ATTR__ATIME });
    expect(parseMountOptions(['rnostrictatime'])).toMatchObject({ recAttrSet: 0, recAttrClear: o.MOUNT_ATTR__ATIME });
    // a later atime value replaces an earlier one
    expect(parseMountOptions(['rnoatime', 'rrelatime']).recAttrSet).toBe(0);
    expect(parseMountOptions(['rnoatime', 'rstrictatime']).recAttrSet).toBe(o.MOUNT_ATTR_STRICTATIME);
    expect(parseMountOptions(['rstrictatime', 'rnostrictatime']).recAttrSet).toBe(0);
    // other attributes are kept alongside
    expect(parseMountOptions(['rro', 'rnoatime', 'rnodiratime'])).toMatchObject({
      recAttrSet: o.MOUNT_ATTR_RDONLY | o.MOUNT_ATTR_NOATIME | o.MOUNT_ATTR_NODIRATIME,
      recAttrClear: o.MOUNT_ATTR__ATIME,
    });
  });

  it('idmap, ridmap and tmpcopyup', () => {
    expect(parseMountOptions(['idmap'])).toEqual({ ...EMPTY, idmap: true });
    expect(parseMountOptions(['ridmap'])).toEqual({ ...EMPTY, idmap: true, ridmap: true });
    expect(parseMountOptions(['ridmap', 'idmap'])).toEqual({ ...EMPTY, idmap: true, ridmap: false });
    expect(parseMountOptions(['tmpcopyup', 'mode=1777'])).toEqual({ ...EMPTY, tmpcopyup: true, data: ['mode=1777'] });
  });

  it('passes unknown options through as data, in order, and drops "defaults"', () => {
    expect(parseMountOptions(['defaults', 'uid=5', 'ro', 'gid=5', 'newinstance', 'ptmxmode=0666'])).toEqual({
      ...EMPTY,
      flags: o.MS_RDONLY,
      data: ['uid=5', 'gid=5', 'newinstance', 'ptmxmode=0666'],
    });
    // options are case-sensitive, as in runc
    expect(parseMountOptions(['RO']).data).toEqual(['RO']);
  });

  it('does not share state between calls', () => {
    const a = parseMountOptions(['rprivate', 'x=1']);
    a.propagation.push(1);
    a.data.push('y');
    expect(parseMountOptions(['rprivate', 'x=1'])).toMatchObject({ propagation: [o.MS_PRIVATE | o.MS_REC], data: ['x=1'] });
  });
});

describe('describeMountFlags', () => {
  it('names the bits', () => {
    expect(describeMountFlags(0)).toBe('0');
    expect(describeMountFlags(o.MS_BIND | o.MS_REC)).toBe('MS_BIND|MS_REC');
    expect(describeMountFlags(o.MS_RDONLY | o.MS_NOSUID | o.MS_NODEV | o.MS_REMOUNT | o.MS_BIND)).toBe(
      'MS_RDONLY|MS_NOSUID|MS_NODEV|MS_REMOUNT|MS_BIND',
    );
    expect(describeMountFlags(o.MS_PRIVATE | o.MS_REC)).toBe('MS_REC|MS_PRIVATE');
    expect(describeMountFlags(o.MS_STRICTATIME | (1 << 30))).toBe('MS_STRICTATIME|0x40000000');
    expect(describeMountFlags(1 << 31)).toBe('0x80000000');
  });

  it('names mount_setattr attributes', () => {
    expect(describeMountAttrs(0)).toBe('0');
    expect(describeMountAttrs(o.MOUNT_ATTR_RDONLY | o.MOUNT_ATTR_IDMAP)).toBe('MOUNT_ATTR_RDONLY|MOUNT_ATTR_IDMAP');
    expect(describeMountAttrs(o.MOUNT_ATTR__ATIME)).toBe('MOUNT_ATTR_NOATIME|MOUNT_ATTR_STRICTATIME|0x40');
  });
});
