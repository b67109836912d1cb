import { describe, expect, it } from 'vitest';
import { procMountRefusal, unmountsBeforeMoveRoot } from '../../src/rootfs/proc-guard';

describe('procMountRefusal', () => {
  it('allows proc on /proc and runc\'s files inside it, nothing else', () => {
    expect(procMountRefusal('/proc', 'proc')).toBeUndefined();
    expect(procMountRefusal('/proc', 'tmpfs')).toMatch(/only a proc/);
    expect(procMountRefusal('/proc', 'bind')).toMatch(/only a proc/);
    expect(procMountRefusal('/proc', 'none', true)).toBeUndefined(); // a bind of a procfs, as runc allows
    expect(procMountRefusal('/proc/uptime', 'bind')).toBeUndefined();
    expect(procMountRefusal('/proc/sys', 'bind')).toMatch(/nothing may be mounted inside \/proc/);
    expect(procMountRefusal('/proc/1', 'tmpfs')).toMatch(/inside \/proc/);
    expect(procMountRefusal('/procfoo', 'tmpfs')).toBeUndefined();
    expect(procMountRefusal('/data/proc', 'tmpfs')).toBeUndefined();
  });
});

describe('unmountsBeforeMoveRoot', () => {
  const mountinfo = [
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '23 27 0:22 / /sys rw,relatime - sysfs sysfs rw',
    '24 23 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
    '30 27 0:21 /sys /mnt/procsys rw - proc proc rw',
    '31 40 0:30 / /bundles/b1/rootfs/proc rw - proc proc rw',
    '32 27 0:31 / /srv/with\\040space rw - sysfs sysfs rw',
    '',
  ].join('\n');
  it('lists the full procfs and sysfs mounts outside the rootfs', () => {
    expect(unmountsBeforeMoveRoot(mountinfo, '/bundles/b1/rootfs')).toEqual(['/proc', '/sys', '/srv/with space']);
  });
});
