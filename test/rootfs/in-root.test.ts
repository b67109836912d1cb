import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { joinInRoot } from '../../src/rootfs/in-root';

const root = mkdtempSync(join(tmpdir(), 'tsrun-in-root-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'etc'));
mkdirSync(join(root, 'real'));
writeFileSync(join(root, 'real/passwd'), 'x');

describe('joinInRoot', () => {
  it('keeps plain paths under the root', () => {
    expect(joinInRoot(root, '/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(joinInRoot(root, 'etc/./group')).toBe(join(root, 'etc/group'));
  });

  it('follows an absolute symlink from the root, not from the host', () => {
    symlinkSync('/real/passwd', join(root, 'etc/abs'));
    expect(joinInRoot(root, '/etc/abs')).toBe(join(root, 'real/passwd'));
  });

  it('stops ".." at the root, in paths and in link targets', () => {
    symlinkSync('../../../../../../etc/shadow', join(root, 'etc/up'));
    expect(joinInRoot(root, '/etc/up')).toBe(join(root, 'etc/shadow'));
    expect(joinInRoot(root, '/../../etc/passwd')).toBe(join(root, 'etc/passwd'));
  });

  it('follows links in directories on the way, relative to where they are', () => {
    symlinkSync('../real', join(root, 'etc/dir'));
    expect(joinInRoot(root, '/etc/dir/passwd')).toBe(join(root, 'real/passwd'));
  });

  it('refuses a symlink loop', () => {
    symlinkSync('loop2', join(root, 'etc/loop1'));
    symlinkSync('loop1', join(root, 'etc/loop2'));
    expect(() => joinInRoot(root, '/etc/loop1')).toThrow(/too many levels of symbolic links/);
  });
});
