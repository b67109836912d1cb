// Resource limits as the container sees them, live updates, pause/resume and
// events, on this host's cgroups (hybrid: v1 controllers + cgroup2).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TSRUN } from './helpers';
import type { Spec } from '../src/oci/types';

const sb = new Sandbox('cgroups');
afterAll(() => sb.cleanup());

const limited = (s: Spec) => {
  s.linux!.resources = {
    ...(s.linux!.resources ?? {}),
    memory: { limit: 64 * 1024 * 1024 },
    pids: { limit: 20 },
    cpu: { shares: 512, quota: 50000, period: 100000 },
  };
};

describe('limits seen from inside', () => {
  it('memory, pids and cpu limits are in the container\'s own cgroup files', () => {
    const b = sb.bundle(
      ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us; grep -c ":/$" /proc/self/cgroup'],
      limited,
    );
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    const [mem, pids, shares, quota] = r.stdout.trim().split('\n');
    expect(mem).toBe(String(64 * 1024 * 1024));
    expect(pids).toBe('20');
    expect(shares).toBe('512');
    expect(quota).toBe('50000');
  });

  it('pids.max stops a fork storm, which succeeds without the limit', () => {
    const storm = ['sh', '-c', 'for i in $(seq 1 40); do sleep 2 & done; wait; echo all-forked'];
    const limitedRun = sb.run(sb.bundle(storm, limited));
    expect(limitedRun.code).not.toBe(0);
    expect(limitedRun.stderr).toMatch(/fork/i);
    expect(limitedRun.stdout).not.toContain('all-forked');
    const free = sb.run(sb.bundle(storm));
    expect(free.stdout).toContain('all-forked');
  });

  it('a memory hog over the limit is OOM-killed (exit 137)', () => {
    const b = sb.bundle(['dd', 'if=/dev/zero', 'of=/tmp/fill', 'bs=1M', 'count=256'], (s) => {
      limited(s);
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    });
    expect(sb.run(b).code).toBe(137);
  });
});

describe('live changes', () => {
  it('update changes limits and records them; pause/resume freeze and thaw; events --stats reports usage', async () => {
    const id = sb.id();
    const b = sb.bundle(['sleep', '60'], limited);
    expect(sb.runDetached(b, id).code).toBe(0);
    const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid as number;

    const u = sb.tsrun(['update', '--memory', '128m', '--pids-limit', '30', '--cpu-quota', '20000', id]);
    expect(u.stderr).toBe('');
    expect(u.code).toBe(0);
    const inside = sb.tsrun(['exec', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us']);
    expect(inside.stdout.trim().split('\n')).toEqual([String(128 * 1024 * 1024), '30', '20000']);
    // -r with a JSON document, from stdin
    expect(sb.tsrun(['update', '-r', '-', id], { input: JSON.stringify({ pids: { limit: 25 } }) }).code).toBe(0);
    expect(sb.tsrun(['exec', id, 'cat', '/sys/fs/cgroup/pids/pids.max']).stdout.trim()).toBe('25');

    expect(sb.tsrun(['pause', id]).code).toBe(0);
    expect(JSON.parse(sb.tsrun(['state', id]).stdout).status).toBe('paused');
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/State:\s+D/);
    const ex = sb.tsrun(['exec', id, 'true']);
    expect(ex.code).not.toBe(0);
    expect(ex.stderr).toMatch(/paused/);
    expect(sb.tsrun(['pause', id]).stderr).toMatch(/already paused/);
    expect(sb.tsrun(['resume', id]).code).toBe(0);
    expect(JSON.parse(sb.tsrun(['state', id]).stdout).status).toBe('running');
    expect(sb.tsrun(['resume', id]).stderr).toMatch(/not paused/);

    const ev = sb.tsrun(['events', '--stats', id]);
    const stats = JSON.parse(ev.stdout);
    expect(stats.type).toBe('stats');
    expect(stats.id).toBe(id);
    expect(stats.data.memory.usage.usage).toBeGreaterThan(0);
    expect(stats.data.memory.usage.limit).toBe(128 * 1024 * 1024);
    expect(stats.data.pids.current).toBeGreaterThanOrEqual(1);
    expect(stats.data.pids.limit).toBe(25);

    expect(sb.tsrun(['delete', '--force', id]).code).toBe(0);
    expect(existsSync(`/sys/fs/cgroup/memory/tsrun/${id}`)).toBe(false);
  });

  it('update rejects bad values with one clear line and changes nothing', () => {
    const id = sb.id();
    expect(sb.runDetached(sb.bundle(['sleep', '60'], limited), id).code).toBe(0);
    for (const args of [['--memory', 'lots'], ['--cpuset-cpus', '0-x'], ['--bogus', '1']]) {
      const r = sb.tsrun(['update', ...args, id]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(`/sys/fs/cgroup/memory/tsrun/${id}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    expect(sb.tsrun(['delete', '--force', id]).code).toBe(0);
  });

  it('events streams an oom event when a process in the container is OOM-killed', async () => {
    const id = sb.id();
    const b = sb.bundle(['sh', '-c', 'sleep 1; dd if=/dev/zero of=/tmp/fill bs=1M count=256; sleep 30'], (s) => {
      limited(s);
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    });
    expect(sb.runDetached(b, id).code).toBe(0);
    const ev = spawn(TSRUN, ['--root', sb.root, 'events', '--interval', '1s', id]);
    let out = '';
    ev.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 15000;
    while (!out.includes('"type":"oom"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    ev.kill();
    expect(out).toContain('"type":"oom"');
    expect(out).toContain('"type":"stats"');
    spawnSync(TSRUN, ['--root', sb.root, 'delete', '--force', id]);
  });
});
