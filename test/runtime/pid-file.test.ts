import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PidFile } from '../../src/runtime/pid-file';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-pidfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pid files', () => {
  it('a symlink planted at the temporary name is stepped over, never written through', () => {
    const d = mkdtempSync(join(dir, 'plant-'));
    const host = join(dir, 'host-file');
    writeFileSync(host, 'original');
    symlinkSync(host, join(d, '.planted.tmp'));
    const names = ['.planted.tmp', '.fresh.tmp'];
    const pf = PidFile.prepare(join(d, 'pid'), () => names.shift()!);
    pf.commit(4242);
    expect(readFileSync(host, 'utf8')).toBe('original');
    expect(readFileSync(join(d, 'pid'), 'utf8')).toBe('4242');
    expect(readdirSync(d).sort()).toEqual(['.planted.tmp', 'pid']);
  });

  it('replaces a symlink at the target instead of following it', () => {
    const d = mkdtempSync(join(dir, 'target-'));
    const host = join(dir, 'host-file-2');
    writeFileSync(host, 'original');
    symlinkSync(host, join(d, 'pid'));
    PidFile.prepare(join(d, 'pid')).commit(7);
    expect(readFileSync(host, 'utf8')).toBe('original');
    expect(lstatSync(join(d, 'pid')).isFile()).toBe(true);
  });

  it('fails with one clear line and leaves nothing behind', () => {
    expect(() => PidFile.prepare('/non-existent-tsrun/pid')).toThrow('cannot write the pid file /non-existent-tsrun/pid: no such file or directory (ENOENT)');
    // A rename over a non-empty directory fails: the temporary file goes.
    const d = mkdtempSync(join(dir, 'isdir-'));
    const target = join(d, 'pid');
    mkdirSync(join(target, 'x'), { recursive: true });
    const pf = PidFile.prepare(target);
    expect(() => pf.commit(1)).toThrow(/^cannot write the pid file .*\/pid: /);
    expect(readdirSync(d)).toEqual(['pid']);
    expect(existsSync(join(target, 'x'))).toBe(true);
  });

  it('a discarded pid file leaves nothing', () => {
    const d = mkdtempSync(join(dir, 'discard-'));
    PidFile.prepare(join(d, 'pid')).discard();
    expect(readdirSync(d)).toEqual([]);
  });
});
