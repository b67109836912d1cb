// Behaviours clients depend on because runc has them (runc 1.1.5 is the
// yardstick): each checked against tsrun here, and against Debian's runc
// where it is installed, so a test of our reading cannot drift from runc's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('runc-parity');
afterAll(() => sb.cleanup());

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const runtimes: [string, string][] = [['tsrun', TSRUN], ...(RUNC ? [['runc', RUNC] as [string, string]] : [])];

function cmd(bin: string, args: string[], input = ''): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), ...args], {
    encoding: 'utf8',
    input,
    timeout: 20000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A detached container (stdio to /dev/null so that no pipe is held open). */
function detached(bin: string, bundle: string, id: string, verb: 'run' | 'create' = 'run'): void {
  const args = verb === 'run' ? ['run', '-d', '--bundle', bundle, id] : ['create', '--bundle', bundle, id];
  const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), ...args], { stdio: 'ignore', timeout: 20000 });
  expect(r.status, `${bin} ${args.join(' ')}`).toBe(0);
}

describe.each(runtimes)('%s', (_name, bin) => {
  it('runs a `runc spec` bundle unchanged (ambient capabilities without inheritable are dropped)', () => {
    const b = sb.bundle(['sh', '-c', 'grep -E "^Cap(Amb|Eff)" /proc/self/status']);
    const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps };
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CapAmb:\t0000000000000000');
    expect(r.stdout).toContain('CapEff:\t0000000020000420');
  });

  it('kill with signal 0 checks the container and succeeds', () => {
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id);
    expect(cmd(bin, ['kill', id, '0']).code).toBe(0);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it('exec into a created container works', () => {
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id, 'create');
    const r = cmd(bin, ['exec', id, 'echo', 'exec-in-created']);
    expect(r.stdout).toBe('exec-in-created\n');
    expect(r.code).toBe(0);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it("exec's own failures exit 255; the program's status passes through", () => {
    expect(cmd(bin, ['exec', 'no-such-container', 'true']).code).toBe(255);
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id);
    expect(cmd(bin, ['exec', id, 'sh', '-c', 'exit 3']).code).toBe(3);
    expect(cmd(bin, ['exec', id, '/no/such/binary']).code).toBe(255);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it('--log creates the log file even when nothing fails; --debug adds level=debug lines', () => {
    const log = join(sb.dir, `log-${sb.id()}`);
    const id = sb.id();
    const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), '--log', log, 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(log)).toBe(true);
    const d = cmd(bin, ['--debug', 'run', '--bundle', sb.bundle(['true']), id]);
    expect(d.code).toBe(0);
    expect(d.stderr).toContain('level=debug');
    // The phrases runc 1.1.5's debug.bats looks for.
    for (const phrase of ['nsexec container setup', 'child process in init()', 'init: closing the pipe to signal completion']) expect(d.stderr).toContain(phrase);
    const jsonLog = join(sb.dir, `json-${sb.id()}`);
    expect(cmd(bin, ['--log', jsonLog, '--log-format', 'json', '--debug', 'run', '--bundle', sb.bundle(['true']), sb.id()]).code).toBe(0);
    expect(readFileSync(jsonLog, 'utf8')).toContain('"level":"debug"');
  });

  it('--version has a commit line', () => {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^commit: \S+$/m);
  });
});
