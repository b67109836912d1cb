import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { breakLockIfStill, staleLockText } from '../../src/sys/lock-file';
import { procStat } from '../../src/sys/proc';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lock = join(dir, '.lock');
const live = `${process.pid} ${procStat(process.pid)!.startTime}`;
// A pid that has exited (and whose start time cannot match).
const deadPid = spawnSync('true').pid!;
const dead = `${deadPid} 1`;

describe('stale container locks', () => {
  it('tells a lock whose owner is gone from a live one', () => {
    writeFileSync(lock, dead);
    expect(staleLockText(lock)).toBe(dead);
    writeFileSync(lock, live);
    expect(staleLockText(lock)).toBeUndefined();
  });

  it('breaks a stale lock', () => {
    writeFileSync(lock, dead);
    breakLockIfStill(lock, dead);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('puts back a live lock that replaced the stale one after it was read', () => {
    writeFileSync(lock, dead);
    const stale = staleLockText(lock)!;
    writeFileSync(lock, live); // broken by another waiter, then taken by a live owner
    breakLockIfStill(lock, stale);
    expect(readFileSync(lock, 'utf8')).toBe(live);
    expect(readdirSync(dir)).toEqual(['.lock']);
  });
});
