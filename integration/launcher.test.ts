// The `tsrun` command's launcher (native/tsrun-launch.c): Node with tsrun's
// startup snapshot when it fits, the bundle otherwise, and a real container
// either way. Which one ran is read from the running tsrun's command line.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('launcher');
afterAll(() => sb.cleanup());

/** Runs a container sleeping a moment through `bin`, and reads the tsrun
 * process's command line and environment while it waits for it. */
async function observe(bin: string, env: NodeJS.ProcessEnv): Promise<{ code: number; cmdline: string[]; environ: string[] }> {
  const bundle = sb.bundle(['sleep', '1']);
  const child = spawn(bin, ['--root', sb.root, 'run', '--bundle', bundle, sb.id()], { env, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const read = (f: string) => readFileSync(`/proc/${child.pid}/${f}`, 'utf8').split('\0').filter(Boolean);
  const cmdline = read('cmdline');
  const environ = read('environ');
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  return { code, cmdline, environ };
}

describe('the tsrun launcher', () => {
  it('starts Node with the startup snapshot, without NODE_EXTRA_CA_CERTS (tsrun makes no TLS connections)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' };
    delete env.NODE_OPTIONS;
    const o = await observe(TSRUN, env);
    expect(o.code).toBe(0);
    expect(o.cmdline.some((a) => a.startsWith('--snapshot-blob='))).toBe(true);
    expect(o.environ.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS='))).toBe(false);
  });

  it('loads the bundle instead when NODE_OPTIONS is set (V8 flags that differ from the build make Node refuse the snapshot)', async () => {
    const o = await observe(TSRUN, { ...process.env, NODE_OPTIONS: '--max-old-space-size=200' });
    expect(o.code).toBe(0);
    expect(o.cmdline.some((a) => a.startsWith('--snapshot-blob='))).toBe(false);
    expect(o.cmdline).toContain(join(REPO, 'cmd/launch.cjs'));
  });

  it('loads the bundle instead from a moved copy of the build (the snapshot names the checkout it was built in)', async () => {
    const app = join(sb.dir, 'moved');
    for (const part of ['bin', 'cmd/launch.cjs', 'dist', 'native/build']) cpSync(join(REPO, part), join(app, part), { recursive: true, verbatimSymlinks: true });
    cpSync(join(REPO, 'node_modules/koffi'), join(app, 'node_modules/koffi'), { recursive: true });
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const o = await observe(join(app, 'bin/tsrun'), env);
    expect(o.code).toBe(0);
    expect(o.cmdline).toContain(join(app, 'cmd/launch.cjs'));
  });

  it('TSRUN_NO_SNAPSHOT=1 takes the bundle; both ways answer --version alike', () => {
    const fast = spawnSync(TSRUN, ['--version'], { encoding: 'utf8' });
    const slow = spawnSync(TSRUN, ['--version'], { encoding: 'utf8', env: { ...process.env, TSRUN_NO_SNAPSHOT: '1' } });
    expect(fast.status).toBe(0);
    expect(slow.stdout).toBe(fast.stdout);
  });

  it('starts the native init before Node and hands it the plan of run, create and exec', () => {
    const bundle = sb.bundle(['true']);
    const env = { ...process.env, TSRUN_TRACE: '1' };
    const early = sb.tsrun(['run', '--bundle', bundle, sb.id()], { env });
    expect(early.code).toBe(0);
    expect(early.stderr).not.toContain('spawn init');
    const late = sb.tsrun(['run', '--bundle', bundle, sb.id()], { env: { ...env, TSRUN_NO_EARLY_INIT: '1' } });
    expect(late.code).toBe(0);
    expect(late.stderr).toContain('spawn init');
  });

  it('relays the exit status of a foreground container through the early init', () => {
    const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'exit 7']), sb.id()]);
    expect(r.code).toBe(7);
  });

  it('lets the early init go before Node starts a hook, which never sees its socket', () => {
    const out = join(sb.dir, 'hook-fds');
    const bundle = sb.bundle(['true'], (s) => {
      s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `ls /proc/self/fd > ${out}`] }] };
    });
    const r = sb.tsrun(['run', '--bundle', bundle, sb.id()], { env: { ...process.env, TSRUN_TRACE: '1' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('spawn init');
    const fds = readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(fds.filter((fd) => fd >= 1000)).toEqual([]);
  });

  it('leaves no early init behind after a command that does not use it', () => {
    // In a pid namespace of its own the shell is pid 1 and reaps orphans:
    // after tsrun has exited, only the shell and ps may be left.
    const script = `${TSRUN} --root ${sb.root} list >/dev/null; ${TSRUN} --root ${sb.root} state nope 2>/dev/null; sleep 0.5; ps -e -o args=`;
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l && !/^(sh |ps )/.test(l))).toEqual([]);
  });

  it('gives the early init default signal handling, whatever the caller ignores (a background shell ignores SIGINT)', () => {
    const bundle = sb.bundle(['sh', '-c', 'grep SigIgn /proc/self/status']);
    const r = spawnSync('sh', ['-c', `trap '' INT; exec ${TSRUN} --root ${sb.root} run --bundle ${bundle} ${sb.id()}`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const ignored = BigInt('0x' + /SigIgn:\s+([0-9a-f]+)/.exec(r.stdout)![1]);
    expect(ignored & 2n).toBe(0n); // bit 1: SIGINT
  });
});

