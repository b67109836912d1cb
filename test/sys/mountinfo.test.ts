import { describe, expect, it } from 'vitest';
import { mountPointHolding, parseMountInfo } from '../../src/sys/mountinfo';

const TEXT = [
  '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '30 27 0:25 / /run rw,nosuid shared:2 - tmpfs tmpfs rw',
  '31 30 0:26 / /run/user rw - tmpfs tmpfs rw',
  '32 27 0:27 / /srv/my\\040disk rw - ext4 /dev/vdb rw',
  '33 27 0:28 /sub /runner rw - ext4 /dev/vdc rw',
].join('\n');

describe('mountinfo', () => {
  const entries = parseMountInfo(TEXT);

  it('parses root, mount point (unescaped), file system type and super options', () => {
    expect(entries[3]).toEqual({ root: '/', mountPoint: '/srv/my disk', fstype: 'ext4', superOptions: ['rw'] });
    expect(entries[4]!.root).toBe('/sub');
  });

  it('finds the nearest mount point holding a path, by whole components', () => {
    expect(mountPointHolding(entries, '/run/user/0/bundle/rootfs')).toBe('/run/user');
    expect(mountPointHolding(entries, '/run/x')).toBe('/run');
    expect(mountPointHolding(entries, '/runner/rootfs')).toBe('/runner');
    expect(mountPointHolding(entries, '/running')).toBe('/');
    expect(mountPointHolding(entries, '/srv/my disk/b')).toBe('/srv/my disk');
    expect(mountPointHolding(entries, '/run')).toBe('/run');
  });
});
