// exec, ps and kill --all on running containers, checked from inside.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('exec');
let id = '';
let initPid = 0;

beforeAll(() => {
  id = sb.id();
  const b = sb.bundle(['sleep', '300'], (s) => {
    s.process!.env = ['PATH=/usr/bin:/bin', 'BASE=1'];
    s.process!.cwd = '/tmp';
  });
  expect(sb.runDetached(b, id).code).toBe(0);
  initPid = JSON.parse(sb.tsrun(['state', id]).stdout).pid;
});
afterAll(() => sb.cleanup());

describe('exec -u NAME', () => {
  it('looks the name up in the image: an absolute /etc/passwd symlink points into the rootfs, not at the host', () => {
    const b = sb.bundle(['sleep', '300']);
    const etc = join(b, 'rootfs/etc');
    unlinkSync(join(etc, 'passwd'));
    writeFileSync(join(etc, 'passwd.image'), 'root:x:0:0:root:/root:/bin/sh\nimguser:x:4242:4343::/:/bin/sh\n');
    symlinkSync('/etc/passwd.image', join(etc, 'passwd'));
    expect(existsSync('/etc/passwd.image')).toBe(false);
    const cid = sb.id();
    expect(sb.runDetached(b, cid).code).toBe(0);
    try {
      const r = sb.tsrun(['exec', '-u', 'imguser', cid, 'id', '-u']);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('4242');
    } finally {
      sb.tsrun(['delete', '--force', cid]);
    }
  });
});

describe('exec', () => {
  it('runs in all of the init\'s namespaces and its cgroup, with the exit code', () => {
    const r = sb.tsrun(['exec', id, 'sh', '-c', 'for n in pid mnt net ipc uts cgroup; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; exit 42']);
    expect(r.code).toBe(42);
    const lines = r.stdout.trim().split('\n');
    const names = ['pid', 'mnt', 'net', 'ipc', 'uts', 'cgroup'];
    names.forEach((n, i) => expect(lines[i]).toBe(readlinkSync(`/proc/${initPid}/ns/${n}`)));
    // The cgroup namespace makes the container's own cgroup "/".
    expect(lines.slice(names.length).every((l) => l.endsWith(':/'))).toBe(true);
  });

  it('inherits env, cwd, capabilities and no_new_privs; flags override them', () => {
    const def = sb.tsrun(['exec', id, 'sh', '-c', 'echo $BASE; pwd; grep -E "CapEff|NoNewPrivs" /proc/self/status']);
    expect(def.stdout).toMatch(/^1\n\/tmp\n/);
    expect(def.stdout).toMatch(/CapEff:\s+0000000020000420/);
    expect(def.stdout).toMatch(/NoNewPrivs:\s+1/);
    const over = sb.tsrun(['exec', '-e', 'BASE=2', '-e', 'NEW=x', '--cwd', '/', '-u', '1000:1000', '-g', '2000', '--cap', 'CAP_CHOWN', id, 'sh', '-c', 'echo $BASE$NEW; pwd; id; grep CapBnd /proc/self/status']);
    expect(over.stdout).toContain('2x\n/\n');
    expect(over.stdout).toMatch(/uid=1000 gid=1000 groups=2000/);
    expect(over.stdout).toMatch(/CapBnd:\s+0000000020000421/);
  });

  it('takes a process.json with --process', () => {
    const file = join(sb.dir, 'process.json');
    writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'echo from-json $X; id -u'], env: ['X=y'], cwd: '/', user: { uid: 7, gid: 7 } }));
    const r = sb.tsrun(['exec', '--process', file, id]);
    expect(r.stdout).toBe('from-json y\n7\n');
  });

  it('detaches with --pid-file; the process is in the container', () => {
    const pidFile = join(sb.dir, 'exec.pid');
    const r = spawn(TSRUN, ['--root', sb.root, 'exec', '-d', '--pid-file', pidFile, id, 'sleep', '30'], { stdio: 'ignore' });
    return new Promise<void>((done) => {
      r.on('exit', (code) => {
        expect(code).toBe(0);
        const pid = Number(readFileSync(pidFile, 'utf8'));
        expect(readlinkSync(`/proc/${pid}/ns/pid`)).toBe(readlinkSync(`/proc/${initPid}/ns/pid`));
        const ps = JSON.parse(sb.tsrun(['ps', '--format', 'json', id]).stdout) as number[];
        expect(ps).toContain(pid);
        expect(ps).toContain(initPid);
        done();
      });
    });
  });

  it('forwards signals it receives to the process in the foreground', async () => {
    const p = spawn(TSRUN, ['--root', sb.root, 'exec', id, 'sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.1; done'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
    p.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    expect(code).toBe(7);
  });

  it('bad input: unknown user, malformed env, malformed process.json, missing command, unknown container', () => {
    const bad = join(sb.dir, 'bad.json');
    writeFileSync(bad, '{"args": "not-a-list"}');
    for (const [args, pattern] of [
      [['exec', '-u', 'nosuchuser', id, 'true'], /unable to find user nosuchuser/],
      [['exec', '-e', 'NOEQUALS', id, 'true'], /NAME=value/],
      [['exec', '--process', bad, id], /args/],
      [['exec', id], /no command/],
      [['exec', 'no-such-container', 'true'], /does not exist/],
      [['exec', '--console-socket', '/nonexistent/sock', '-t', id, 'true'], /console socket/],
      [['exec', id, 'nonexistent-binary'], /executable file not found/],
    ] as const) {
      const r = sb.tsrun([...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    // nothing stray: only the init and the detached sleep may remain
    expect((JSON.parse(sb.tsrun(['ps', '--format', 'json', id]).stdout) as number[]).length).toBeLessThanOrEqual(2);
  });

  it('refuses a stopped or paused container (unless --ignore-paused)', () => {
    expect(sb.tsrun(['pause', id]).code).toBe(0);
    const paused = sb.tsrun(['exec', id, 'true']);
    expect(paused.stderr).toMatch(/paused/);
    expect(sb.tsrun(['resume', id]).code).toBe(0);
    const stoppedId = sb.id();
    expect(sb.run(sb.bundle(['true']), stoppedId).code).toBe(0);
    const keep = sb.id();
    expect(sb.tsrun(['run', '--keep', '--bundle', sb.bundle(['true']), keep]).code).toBe(0);
    const r = sb.tsrun(['exec', keep, 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/stopped/);
    expect(sb.tsrun(['delete', keep]).code).toBe(0);
  });

  it('kill --all signals every process of the container', async () => {
    const other = sb.id();
    expect(sb.runDetached(sb.bundle(['sh', '-c', 'sleep 100 & sleep 100 & wait']), other).code).toBe(0);
    const pids = JSON.parse(sb.tsrun(['ps', '--format', 'json', other]).stdout) as number[];
    expect(pids.length).toBe(3);
    expect(sb.tsrun(['kill', '--all', other, 'KILL']).code).toBe(0);
    for (let i = 0; i < 50 && JSON.parse(sb.tsrun(['state', other]).stdout).status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(sb.tsrun(['state', other]).stdout).status).toBe('stopped');
    expect(sb.tsrun(['delete', other]).code).toBe(0);
  });
});
