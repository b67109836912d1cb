import { describe, expect, it } from 'vitest';
import { Rollback } from '../../src/runtime/rollback';

describe('a failed create\'s rollback', () => {
  it('undoes in its fixed order, whatever the order things were set up in', async () => {
    const done: string[] = [];
    const r = new Rollback();
    r.add('state directory', () => done.push('dir'));
    r.add('pid file', () => done.push('pid file'));
    r.add('cgroup', async () => done.push('cgroup'));
    r.add('container process', () => done.push('kill'));
    r.add('init', () => done.push('abort'));
    r.add('network', () => done.push('network'));
    await r.run();
    expect(done).toEqual(['pid file', 'abort', 'kill', 'cgroup', 'network', 'dir']);
    await r.run();
    expect(done).toHaveLength(6);
  });

  it('stops at an undo that throws', async () => {
    const done: string[] = [];
    const r = new Rollback();
    r.add('slirp', () => {
      throw new Error('slirp');
    });
    r.add('state directory', () => done.push('dir'));
    await expect(r.run()).rejects.toThrow('slirp');
    expect(done).toEqual([]);
  });
});
