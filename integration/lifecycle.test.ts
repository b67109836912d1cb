// The OCI runtime-spec lifecycle through the real CLI, as runc behaves:
// create/start/state/kill/delete, run, list, features, wrong states, bad
// input, logging, a create killed half-way, and hooks.
//
// Commands run with their stdout/stderr in files, never pipes: a created or
// detached container inherits tsrun's stdio, and a pipe it holds would keep a
// synchronous spawn waiting until the container exits (runc behaves the same).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hook, Spec } from '../src/oci/types';
import { loadOracle } from '../test/oci/schema';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('lifecycle');
afterAll(() => sb.cleanup());
const oracle = loadOracle();

// ---------------------------------------------------------------------------
// helpers

interface Out {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let seq = 0;

/** Runs `tsrun --root <root> ...args` with stdio in files (see the top of the file). */
function cli(args: string[], opts: { input?: string; cwd?: string; root?: string; timeout?: number } = {}): Out {
  const n = seq++;
  const outFile = join(sb.dir, `.out${n}`);
  const errFile = join(sb.dir, `.err${n}`);
  const inFile = join(sb.dir, `.in${n}`);
  writeFileSync(inFile, opts.input ?? '');
  const i = openSync(inFile, 'r');
  const o = openSync(outFile, 'w');
  const e = openSync(errFile, 'w');
  const t0 = Date.now();
  try {
    const r = spawnSync(TSRUN, ['--root', opts.root ?? sb.root, ...args], {
      stdio: [i, o, e],
      cwd: opts.cwd,
      timeout: opts.timeout ?? 20000,
    });
    const ms = Date.now() - t0;
    const stdout = readFileSync(outFile, 'utf8');
    const stderr = readFileSync(errFile, 'utf8');
    return { code: r.status ?? -1, signal: r.signal, stdout, stderr, ms };
  } finally {
    for (const fd of [i, o, e]) closeSync(fd);
    for (const f of [inFile, outFile, errFile]) unlinkSync(f);
  }
}

/** Asserts success and returns the output. */
function ok(args: string[], opts: Parameters<typeof cli>[1] = {}): Out {
  const r = cli(args, opts);
  expect(r, `tsrun ${args.join(' ')}`).toMatchObject({ code: 0, stderr: '' });
  return r;
}

/** Asserts a failure reported as exactly one "tsrun: ..." line matching `re`. */
function fails(args: string[], re: RegExp, opts: Parameters<typeof cli>[1] = {}): Out {
  const r = cli(args, opts);
  expect(r.code, `exit code of tsrun ${args.join(' ')} (stderr: ${r.stderr})`).not.toBe(0);
  expect(r.signal).toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, `stderr of tsrun ${args.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^tsrun: /);
  expect(lines[0]).toMatch(re);
  expect(r.stderr.endsWith('\n')).toBe(true);
  return r;
}

interface StateJson {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs?: string;
  created?: string;
  owner?: string;
  annotations?: Record<string, string>;
}

function state(id: string, root?: string): StateJson {
  const r = ok(['state', id], { root });
  const st = JSON.parse(r.stdout) as StateJson;
  expect(oracle.state(st), oracle.errors(oracle.state)).toBe(true);
  return st;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `state` until the status is `want` (or the time is up); returns the last state. */
async function waitStatus(id: string, want: string, ms = 5000): Promise<StateJson> {
  const deadline = Date.now() + ms;
  for (;;) {
    const st = state(id);
    if (st.status === want || Date.now() > deadline) return st;
    await sleep(50);
  }
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat. */
function procStat(pid: number): { state: string; start: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]), start: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

interface ProcRef {
  pid: number;
  start: number;
}

function procRef(pid: number): ProcRef {
  const s = procStat(pid);
  expect(s, `/proc/${pid}`).toBeDefined();
  expect(s!.state).not.toBe('Z');
  return { pid, start: s!.start };
}

/** Is this process (not a later one with the same pid) alive and not a zombie? */
function alive(p: ProcRef): boolean {
  const s = procStat(p.pid);
  return !!s && s.start === p.start && s.state !== 'Z' && s.state !== 'X';
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Live processes in the container's cgroup (tsrun/<id> on any hierarchy). */
function procsInCgroup(id: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (!text.split('\n').some((l) => l.endsWith(`/tsrun/${id}`))) continue;
    const s = procStat(pid);
    if (s && s.state !== 'Z') out.push(pid);
  }
  return out;
}

/** Live processes whose command line is exactly `argv`. */
function procsWithArgv(argv: string[]): number[] {
  const want = argv.join('\0');
  return allPids().filter((pid) => cmdline(pid).join('\0') === want && procStat(pid)?.state !== 'Z');
}

function cgroupDirs(id: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const p = `/sys/fs/cgroup/${h}/tsrun/${id}`;
    if (existsSync(p)) out.push(p);
  }
  return out;
}

/** Everything a container may leave behind; [] when it is all gone. */
async function leftovers(id: string, opts: { root?: string; bundle?: string; init?: ProcRef } = {}): Promise<string[]> {
  const out: string[] = [];
  const root = opts.root ?? sb.root;
  if (existsSync(join(root, id))) out.push(`state dir ${join(root, id)}`);
  for (const p of cgroupDirs(id)) out.push(`cgroup ${p}`);
  for (const pid of procsInCgroup(id)) out.push(`process ${pid} (${cmdline(pid).join(' ')}) in cgroup tsrun/${id}`);
  if (opts.bundle) {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      if (line.includes(opts.bundle)) out.push(`mount ${line}`);
    }
  }
  if (opts.init) {
    // Killed: gone, or a zombie until whoever it was reparented to reaps it.
    const init = opts.init;
    const deadline = Date.now() + 3000;
    while (procStat(init.pid)?.start === init.start && procStat(init.pid)?.state !== 'Z' && Date.now() < deadline) await sleep(20);
    if (alive(init)) out.push(`init ${init.pid} still alive (${procStat(init.pid)?.state})`);
  }
  return out;
}

function rootEntries(root = sb.root): string[] {
  return existsSync(root) ? readdirSync(root).sort() : [];
}

/** A host directory to bind-mount into a container. */
function hostDir(name: string): string {
  const d = join(sb.dir, `${name}${seq++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function bind(source: string, destination: string) {
  return { destination, type: 'bind', source, options: ['rbind', 'rw'] };
}

const HOOK_ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];

function shHook(script: string, timeout?: number): Hook {
  return { path: '/bin/sh', args: ['sh', '-c', script], env: HOOK_ENV, ...(timeout ? { timeout } : {}) };
}

/** A bundle whose config.json is `text` verbatim (with a valid rootfs). */
function rawBundle(text: string): string {
  const b = sb.bundle(['true']);
  writeFileSync(join(b, 'config.json'), text);
  return b;
}

function readConfig(bundle: string): Spec {
  return JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec;
}

/** `tsrun create` of a fresh `sleep 30` container; returns its id, bundle and init. */
function createSleeper(args = ['sleep', '30'], mutate?: (s: Spec) => void) {
  const bundle = sb.bundle(args, mutate);
  const id = sb.id();
  ok(['create', '--bundle', bundle, id]);
  const st = state(id);
  expect(st.status).toBe('created');
  return { id, bundle, init: procRef(st.pid) };
}

async function runningSleeper(args = ['sleep', '30']) {
  const c = createSleeper(args);
  ok(['start', c.id]);
  expect((await waitStatus(c.id, 'running')).status).toBe('running');
  return c;
}

// ---------------------------------------------------------------------------

describe('create, start, state, kill, delete', () => {
  it('create leaves the init waiting: the program runs only after start, then the container stops', async () => {
    const dir = hostDir('marker');
    const bundle = sb.bundle(['sh', '-c', 'echo started > /tmp/marker'], (s) => s.mounts!.push(bind(dir, '/tmp')));
    const id = sb.id();
    const marker = join(dir, 'marker');

    ok(['create', '--bundle', bundle, id]);
    const created = state(id);
    expect(created).toMatchObject({ ociVersion: expect.stringMatching(/^1\.\d+\.\d+/), id, status: 'created', bundle });
    expect(created.pid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${created.pid}`)).toBe(true);
    const init = procRef(created.pid);
    // Give a premature program time to show itself.
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
    expect(state(id)).toMatchObject({ status: 'created', pid: created.pid });

    ok(['start', id]);
    await waitFor('the marker', () => existsSync(marker) && readFileSync(marker, 'utf8') === 'started\n');
    const stopped = await waitStatus(id, 'stopped');
    expect(stopped).toMatchObject({ id, status: 'stopped', pid: 0, bundle });

    ok(['delete', id]);
    fails(['state', id], /does not exist/);
    expect(await leftovers(id, { bundle, init })).toEqual([]);
  });

  it('start makes it running; kill (default SIGTERM) stops it; a stopped container shows pid 0; delete removes it', async () => {
    // pid 1 of a pid namespace only gets signals it handles: trap TERM.
    const c = await runningSleeper(['sh', '-c', 'trap "exit 143" TERM; sleep 30 & wait']);
    const running = state(c.id);
    expect(running).toMatchObject({ id: c.id, status: 'running', pid: c.init.pid, bundle: c.bundle });
    expect(alive(c.init)).toBe(true);

    ok(['kill', c.id]);
    const st = await waitStatus(c.id, 'stopped');
    expect(st).toMatchObject({ status: 'stopped', pid: 0 });
    expect(alive(c.init)).toBe(false);

    ok(['delete', c.id]);
    const r = fails(['state', c.id], /does not exist/);
    expect(r.stdout).toBe('');
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
  });

  it('kill KILL, SIGKILL and 9 all kill the init', async () => {
    for (const sig of ['KILL', 'SIGKILL', '9']) {
      const c = await runningSleeper();
      ok(['kill', c.id, sig]);
      expect(await waitStatus(c.id, 'stopped'), `kill ${sig}`).toMatchObject({ status: 'stopped', pid: 0 });
      ok(['delete', c.id]);
      expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
    }
  });

  it('a created container can be killed: it becomes stopped and delete (no --force) cleans up', async () => {
    const c = createSleeper();
    ok(['kill', c.id, 'KILL']);
    expect(await waitStatus(c.id, 'stopped')).toMatchObject({ status: 'stopped', pid: 0 });
    ok(['delete', c.id]);
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
  });

  it('delete without --force of a created container kills it and removes everything (as runc)', async () => {
    const c = createSleeper();
    ok(['delete', c.id]);
    fails(['state', c.id], /does not exist/);
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
  });

  it('create --pid-file writes the init pid; state.bundle is absolute for a relative --bundle and for the cwd', () => {
    const bundle = sb.bundle(['sleep', '30']);
    const id = sb.id();
    const pidFile = join(sb.dir, `pid-${id}`);
    ok(['create', '--bundle', basename(bundle), '--pid-file', pidFile, id], { cwd: dirname(bundle) });
    const st = state(id);
    expect(st.bundle).toBe(bundle);
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(st.pid));
    ok(['delete', '--force', id]);

    const id2 = sb.id();
    ok(['create', id2], { cwd: bundle });
    expect(state(id2).bundle).toBe(bundle);
    ok(['delete', '--force', id2]);
  });
});

describe('run', () => {
  it('exits with the container exit code, output on stdout/stderr, and deletes the container', async () => {
    const bundle = sb.bundle(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const id = sb.id();
    const r = cli(['run', '--bundle', bundle, id]);
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    fails(['state', id], /does not exist/);
    expect(await leftovers(id, { bundle })).toEqual([]);
  });

  it('passes stdin through', () => {
    const bundle = sb.bundle(['cat']);
    const r = cli(['run', '--bundle', bundle, sb.id()], { input: 'hello\nworld\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'hello\nworld\n', stderr: '' });
  });

  it('a container whose program exits at once: every run reports its exit code (25 runs)', () => {
    // Races between `start` reading the exec fifo and the init exiting show up here.
    const bundle = sb.bundle(['sh', '-c', 'exit 5']);
    const bad: string[] = [];
    for (let i = 0; i < 25; i++) {
      const r = cli(['run', '--bundle', bundle, sb.id()]);
      if (r.code !== 5 || r.stderr !== '') bad.push(`run ${i}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
    }
    expect(bad).toEqual([]);
  });

  it('a container killed by a signal exits 128+signal (sh -c "kill -9 $$", no pid namespace)', () => {
    // As pid 1 of its own pid namespace sh could not kill itself: drop the namespace.
    const bundle = sb.bundle(['sh', '-c', 'kill -9 $$; echo survived'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
    });
    const r = cli(['run', '--bundle', bundle, sb.id()]);
    expect(r).toMatchObject({ code: 137, stdout: '', stderr: '' });
  });

  it('an init SIGKILLed from outside makes run exit 137; run --pid-file names that init', async () => {
    const bundle = sb.bundle(['sleep', '30']);
    const id = sb.id();
    const pidFile = join(sb.dir, `pid-${id}`);
    const child = spawn(TSRUN, ['--root', sb.root, 'run', '--pid-file', pidFile, '--bundle', bundle, id], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor('the pid file', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(state(id)).toMatchObject({ status: 'running', pid });
    const init = procRef(pid);
    process.kill(pid, 'SIGKILL');
    expect(await exited).toBe(137);
    expect(await leftovers(id, { bundle, init })).toEqual([]);
  });

  it('run --detach returns at once with the container running; --pid-file holds the init pid', async () => {
    const bundle = sb.bundle(['sleep', '30']);
    const id = sb.id();
    const pidFile = join(sb.dir, `pid-${id}`);
    const r = ok(['run', '--detach', '--pid-file', pidFile, '--bundle', bundle, id]);
    expect(r.ms).toBeLessThan(5000);
    expect(r.stdout).toBe('');
    const st = state(id);
    expect(st).toMatchObject({ id, status: 'running', bundle });
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(st.pid));
    const init = procRef(st.pid);
    expect(cmdline(st.pid)).toEqual(['sleep', '30']);
    ok(['delete', '--force', id]);
    expect(await leftovers(id, { bundle, init })).toEqual([]);
  });
});

describe('list, state, features', () => {
  it('list (table, -q, --format json) shows every container with its status', async () => {
    const root = join(sb.dir, 'listroot');
    const b1 = sb.bundle(['sleep', '30']);
    const b2 = sb.bundle(['sleep', '30']);
    const b3 = sb.bundle(['true']);
    const [created, running, stopped] = ['list-a', 'list-b', 'list-c'].map((x) => `${x}-${process.pid}`) as [string, string, string];
    try {
      ok(['create', '--bundle', b1, created], { root });
      ok(['run', '--detach', '--bundle', b2, running], { root });
      ok(['run', '--detach', '--bundle', b3, stopped], { root });
      const deadline = Date.now() + 5000;
      while (state(stopped, root).status !== 'stopped' && Date.now() < deadline) await sleep(50);

      const states = new Map([created, running, stopped].map((id) => [id, state(id, root)]));
      expect([...states.values()].map((s) => s.status)).toEqual(['created', 'running', 'stopped']);
      expect(states.get(stopped)!.pid).toBe(0);

      expect(ok(['list', '-q'], { root }).stdout.split('\n').filter(Boolean).sort()).toEqual([created, running, stopped].sort());
      expect(ok(['list', '--quiet'], { root }).stdout.split('\n').filter(Boolean).sort()).toEqual([created, running, stopped].sort());

      const json = JSON.parse(ok(['list', '--format', 'json'], { root }).stdout) as StateJson[];
      expect(Array.isArray(json)).toBe(true);
      expect(json.map((c) => c.id).sort()).toEqual([created, running, stopped].sort());
      for (const c of json) {
        const st = states.get(c.id)!;
        expect(c).toMatchObject({ id: st.id, pid: st.pid, status: st.status, bundle: st.bundle, created: st.created, owner: 'root' });
        expect(typeof c.created).toBe('string');
        expect(Number.isNaN(Date.parse(c.created!))).toBe(false);
      }

      const table = ok(['list'], { root }).stdout.split('\n').filter(Boolean);
      expect(table[0]!.trim().split(/\s+/)).toEqual(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']);
      const rows = table.slice(1).map((l) => l.trim().split(/\s+/));
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        const st = states.get(row[0]!)!;
        expect(row).toEqual([st.id, String(st.pid), st.status, st.bundle, st.created, 'root']);
      }
      // The columns line up under the header.
      const col = table[0]!.indexOf('STATUS');
      for (const l of table.slice(1)) expect(l.slice(col)).toMatch(/^(created|running|stopped) /);

      fails(['list', '--format', 'yaml'], /yaml/, { root });
    } finally {
      for (const id of [created, running, stopped]) cli(['delete', '--force', id], { root });
    }
    expect(rootEntries(root)).toEqual([]);
    expect(ok(['list', '-q'], { root }).stdout).toBe('');
  });

  it('state has ociVersion, id, status, pid, absolute bundle, rootfs, created, owner, annotations; valid per the OCI schema', () => {
    const c = createSleeper(['sleep', '30'], (s) => {
      s.annotations = { 'org.example.key': 'value' };
    });
    const st = state(c.id);
    expect(Object.keys(st).sort()).toEqual(['annotations', 'bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status'].sort());
    expect(st).toMatchObject({
      id: c.id,
      status: 'created',
      pid: c.init.pid,
      bundle: c.bundle,
      rootfs: join(c.bundle, 'rootfs'),
      owner: 'root',
      annotations: { 'org.example.key': 'value' },
    });
    expect(st.ociVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(Math.abs(Date.parse(st.created!) - Date.now())).toBeLessThan(60000);
    ok(['delete', '--force', c.id]);
  });

  it('features prints JSON valid per the OCI features schema', () => {
    const r = ok(['features']);
    const f = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(oracle.features(f), oracle.errors(oracle.features)).toBe(true);
    expect(f.ociVersionMin).toMatch(/^1\./);
    expect(f.ociVersionMax).toMatch(/^1\./);
    expect(f.hooks).toEqual(expect.arrayContaining(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']));
  });
});

describe('wrong lifecycle states: one error line, non-zero exit, state unchanged', () => {
  it('start twice', async () => {
    const c = await runningSleeper();
    fails(['start', c.id], /running/);
    expect(state(c.id)).toMatchObject({ status: 'running', pid: c.init.pid });
    ok(['delete', '--force', c.id]);
  });

  it('start a stopped container', async () => {
    const c = createSleeper(['true']);
    ok(['start', c.id]);
    expect(await waitStatus(c.id, 'stopped')).toMatchObject({ status: 'stopped' });
    fails(['start', c.id], /stopped/);
    expect(state(c.id)).toMatchObject({ status: 'stopped', pid: 0 });
    ok(['delete', c.id]);
  });

  it('delete a running container without --force', async () => {
    const c = await runningSleeper();
    fails(['delete', c.id], /not stopped/);
    expect(state(c.id)).toMatchObject({ status: 'running', pid: c.init.pid });
    expect(alive(c.init)).toBe(true);
    expect(cgroupDirs(c.id).length).toBeGreaterThan(0);
    ok(['delete', '--force', c.id]);
  });

  it('kill a stopped container', async () => {
    const c = createSleeper(['true']);
    ok(['start', c.id]);
    expect(await waitStatus(c.id, 'stopped')).toMatchObject({ status: 'stopped' });
    fails(['kill', c.id], /not running/);
    fails(['kill', c.id, 'KILL'], /not running/);
    expect(state(c.id)).toMatchObject({ status: 'stopped', pid: 0 });
    ok(['delete', c.id]);
  });

  it('create with an id that exists', () => {
    const c = createSleeper();
    const before = state(c.id);
    const other = sb.bundle(['sleep', '30']);
    fails(['create', '--bundle', other, c.id], /exists/);
    expect(state(c.id)).toEqual(before);
    expect(alive(c.init)).toBe(true);
    expect(cgroupDirs(c.id).length).toBeGreaterThan(0);
    expect(procsInCgroup(c.id)).toEqual([c.init.pid]);
    fails(['run', '--bundle', other, c.id], /exists/);
    expect(state(c.id)).toEqual(before);
    // Still a working container.
    ok(['start', c.id]);
    expect(state(c.id)).toMatchObject({ status: 'running', pid: c.init.pid });
    ok(['delete', '--force', c.id]);
  });

  it('every command on an unknown id', () => {
    const id = sb.id();
    const before = rootEntries();
    for (const args of [['state', id], ['start', id], ['kill', id], ['kill', id, 'KILL'], ['delete', id]]) {
      const r = fails(args, /does not exist/);
      expect(r.stderr).toContain(id);
      expect(r.stdout).toBe('');
    }
    expect(rootEntries()).toEqual(before);
  });

  it('delete --force of an unknown id succeeds silently (as runc)', () => {
    const id = sb.id();
    const r = cli(['delete', '--force', id]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(join(sb.root, id))).toBe(false);
  });
});

describe('delete --force', () => {
  it('of a running container: no state dir, cgroup, process or mount left', async () => {
    const dir = hostDir('force');
    const c = createSleeper(['sleep', '30'], (s) => s.mounts!.push(bind(dir, '/data')));
    ok(['start', c.id]);
    expect(await waitStatus(c.id, 'running')).toMatchObject({ status: 'running' });
    expect(cgroupDirs(c.id)).toContain(`/sys/fs/cgroup/pids/tsrun/${c.id}`);
    expect(procsInCgroup(c.id)).toEqual([c.init.pid]);
    ok(['delete', '--force', c.id]);
    fails(['state', c.id], /does not exist/);
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
    expect(existsSync(`/sys/fs/cgroup/pids/tsrun/${c.id}`)).toBe(false);
  });

  it('of a created container: everything gone', async () => {
    const c = createSleeper();
    expect(cgroupDirs(c.id)).toContain(`/sys/fs/cgroup/pids/tsrun/${c.id}`);
    ok(['delete', '--force', c.id]);
    fails(['state', c.id], /does not exist/);
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
  });

  it('of a container with more processes than the init: all of them killed', async () => {
    const c = await runningSleeper(['sh', '-c', 'sleep 31 & sleep 32 & wait']);
    await waitFor('3 processes in the cgroup', () => procsInCgroup(c.id).length === 3);
    const refs = procsInCgroup(c.id).map(procRef);
    ok(['delete', '--force', c.id]);
    expect(await leftovers(c.id, { bundle: c.bundle, init: c.init })).toEqual([]);
    await sleep(100);
    expect(refs.filter(alive).map((p) => p.pid)).toEqual([]);
  });
});

describe('bad input: one "tsrun:" line naming the problem, non-zero exit, nothing left', () => {
  async function expectNothingLeft(id: string, before: string[], bundle?: string) {
    expect(rootEntries()).toEqual(before);
    expect(await leftovers(id, { bundle })).toEqual([]);
  }

  it('malformed config.json (syntax error)', async () => {
    const b = rawBundle('{"ociVersion": "1.2.0", "process": {');
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /config\.json.*(JSON|syntax|parse|end)/i);
    fails(['run', '--bundle', b, id], /config\.json/);
    await expectNothingLeft(id, before, b);
  });

  it('schema-invalid config.json (process.args a string)', async () => {
    const b = sb.bundle(['true']);
    const spec = readConfig(b) as unknown as { process: { args: unknown } };
    spec.process.args = 'sh -c true';
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /process\.args/);
    await expectNothingLeft(id, before, b);
  });

  it('unsupported ociVersion 2.0.0', async () => {
    const b = sb.bundle(['true'], (s) => {
      s.ociVersion = '2.0.0';
    });
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /ociVersion.*2\.0\.0|2\.0\.0.*ociVersion/);
    await expectNothingLeft(id, before, b);
  });

  it('missing rootfs', async () => {
    const b = sb.bundle(['true'], (s) => {
      s.root!.path = 'no-such-rootfs';
    });
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /rootfs.*no-such-rootfs.*does not exist|no-such-rootfs.*(does not exist|no such file)/i);
    await expectNothingLeft(id, before, b);
  });

  it('invalid container ids ("a/b", "..", "")', async () => {
    const b = sb.bundle(['sleep', '30']);
    const before = rootEntries();
    for (const id of ['a/b', '..', '']) {
      fails(['create', '--bundle', b, id], /invalid container id/);
      fails(['run', '--bundle', b, id], /invalid container id/);
      for (const cmd of ['state', 'start', 'kill', 'delete']) fails([cmd, id], /invalid container id/);
    }
    expect(rootEntries()).toEqual(before);
    expect(existsSync(join(sb.root, 'a'))).toBe(false);
    expect(await leftovers('a/b', { bundle: b })).toEqual([]);
    expect(existsSync('/sys/fs/cgroup/pids/tsrun')).toBe(true);
  });

  it('missing bundle', async () => {
    const b = join(sb.dir, 'no-such-bundle');
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /no-such-bundle.*does not exist|does not exist.*no-such-bundle/);
    await expectNothingLeft(id, before);
  });

  it('bundle without config.json', async () => {
    const b = sb.bundle(['true']);
    unlinkSync(join(b, 'config.json'));
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', b, id], /config\.json/);
    await expectNothingLeft(id, before, b);
  });

  it('kill with an invalid signal ("SIGFOO", "99", "0x9")', () => {
    const c = createSleeper();
    fails(['kill', c.id, 'SIGFOO'], /signal.*SIGFOO|SIGFOO.*signal/i);
    fails(['kill', c.id, '99'], /signal.*99|99.*signal/i);
    fails(['kill', c.id, '0x9'], /signal/i);
    expect(state(c.id)).toMatchObject({ status: 'created', pid: c.init.pid });
    expect(alive(c.init)).toBe(true);
    ok(['delete', '--force', c.id]);
  });

  it('unknown flag (command and global)', async () => {
    const b = sb.bundle(['sleep', '30']);
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bogus', '--bundle', b, id], /bogus/);
    fails(['run', '--bundle', b, '--bogus', id], /bogus/);
    const r = spawnSync(TSRUN, ['--bogus', '--root', sb.root, 'list'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsrun: .*bogus/);
    await expectNothingLeft(id, before, b);
  });

  it('missing argument', async () => {
    const b = sb.bundle(['sleep', '30']);
    const before = rootEntries();
    fails(['create', '--bundle', b], /create.*argument|argument.*create/);
    fails(['run', '--bundle', b], /run.*argument|argument.*run/);
    for (const cmd of ['start', 'state', 'kill', 'delete']) fails([cmd], new RegExp(`${cmd}.*argument|argument.*${cmd}`));
    fails(['create', id0(), '--bundle'], /bundle/);
    expect(rootEntries()).toEqual(before);
  });

  function id0() {
    return sb.id();
  }
});

describe('--log', () => {
  it('--log FILE --log-format json writes the error as a JSON line with level, msg and time', () => {
    const log = join(sb.dir, `log-${seq++}.json`);
    const id = sb.id();
    const t0 = Date.now();
    const r = cli(['--log', log, '--log-format', 'json', 'state', id]);
    expect(r.code).not.toBe(0);
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    const last = JSON.parse(lines[lines.length - 1]!) as { level: string; msg: string; time: string };
    expect(last.level).toBe('error');
    expect(last.msg).toMatch(/does not exist/);
    expect(last.msg).toContain(id);
    const t = Date.parse(last.time);
    expect(Number.isNaN(t)).toBe(false);
    expect(t).toBeGreaterThanOrEqual(t0 - 1000);
    expect(t).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('--log FILE (text format) has the error as a level=error line', () => {
    const log = join(sb.dir, `log-${seq++}.txt`);
    const r = cli(['--log', log, 'start', sb.id()]);
    expect(r.code).not.toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/level=error msg=".*does not exist.*"/);
  });

  it('a bad --log-format is one error line', () => {
    fails(['--log-format', 'xml', 'list'], /xml/);
  });
});

describe('a create killed half-way', () => {
  it('tsrun create SIGKILLed during a createRuntime hook: delete --force leaves nothing', async () => {
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '10'] }] };
    });
    const id = sb.id();
    const stateFile = join(sb.root, id, 'state.json');
    const out = openSync(join(sb.dir, `killed-${id}.log`), 'w');
    const child = spawn(TSRUN, ['--root', sb.root, 'create', '--bundle', bundle, id], { stdio: ['ignore', out, out] });
    closeSync(out);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    let hookPid = 0;
    try {
      await waitFor('the init pid in state.json', () => {
        try {
          return (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number }).pid > 0;
        } catch {
          return false;
        }
      });
      await waitFor('the createRuntime hook', () => {
        hookPid = allPids().find((p) => procStat(p)?.ppid === child.pid && cmdline(p).join(' ') === 'sleep 10') ?? 0;
        return hookPid > 0;
      });
      const pid = (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number }).pid;
      const init = procRef(pid);
      expect(procsInCgroup(id)).toContain(pid);

      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(existsSync(join(sb.root, id))).toBe(true);

      // Whatever state it reports, it must not be "created" or "running".
      const st = cli(['state', id]);
      if (st.code === 0) expect((JSON.parse(st.stdout) as StateJson).status).toMatch(/^(creating|stopped)$/);

      ok(['delete', '--force', id]);
      fails(['state', id], /does not exist/);
      expect(await leftovers(id, { bundle, init })).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (hookPid > 0 && procStat(hookPid)?.ppid !== undefined && cmdline(hookPid).join(' ') === 'sleep 10') {
        try {
          process.kill(hookPid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });
});

describe('hooks', () => {
  it('run in the order prestart, createRuntime, createContainer, startContainer, poststart, poststop with the state on stdin', async () => {
    const dir = hostDir('hooks');
    const order = join(dir, 'order');
    const host = (name: string) => shHook(`cat > ${dir}/${name}.json; echo ${name} >> ${order}`);
    const bundle = sb.bundle(['true'], (s) => {
      s.mounts!.push(bind(dir, '/hooklog'));
      s.hooks = {
        prestart: [host('prestart')],
        createRuntime: [host('createRuntime')],
        // Before pivot_root, in the container's mount namespace (as runc): the host's paths resolve.
        createContainer: [shHook(`readlink /proc/self/ns/mnt > ${dir}/createContainer.mntns; cat > ${dir}/createContainer.json; echo createContainer >> ${order}`)],
        // After pivot_root, inside the container: /bin/sh is the bundle's busybox, /hooklog the bind mount.
        startContainer: [shHook('cat > /hooklog/startContainer.json; echo startContainer >> /hooklog/order')],
        poststart: [host('poststart')],
        poststop: [host('poststop')],
      };
    });
    const id = sb.id();
    ok(['run', '--detach', '--bundle', bundle, id]);
    expect(await waitStatus(id, 'stopped')).toMatchObject({ status: 'stopped' });
    const lines = () => (existsSync(order) ? readFileSync(order, 'utf8').split('\n').filter(Boolean) : []);
    expect(lines()).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']);
    ok(['delete', id]);
    expect(lines()).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);

    const hookState = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as StateJson;
    for (const name of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']) {
      const st = hookState(name);
      expect(oracle.state(st), `${name}: ${oracle.errors(oracle.state)}`).toBe(true);
      expect(st, name).toMatchObject({ id, bundle });
    }
    expect(hookState('createRuntime').status).toBe('creating');
    expect(hookState('createRuntime').pid).toBeGreaterThan(0);
    expect(hookState('poststart').status).toBe('running');
    expect(hookState('poststop').status).toBe('stopped');
    // createContainer ran in the container's mount namespace, not the host's.
    expect(readFileSync(join(dir, 'createContainer.mntns'), 'utf8').trim()).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(readFileSync(join(dir, 'createContainer.mntns'), 'utf8').trim()).toMatch(/^mnt:\[\d+\]$/);
    expect(await leftovers(id, { bundle })).toEqual([]);
  });

  it('foreground run runs poststop when it deletes the container', () => {
    const dir = hostDir('hooks-run');
    const order = join(dir, 'order');
    const bundle = sb.bundle(['sh', '-c', 'exit 5'], (s) => {
      s.hooks = { poststart: [shHook(`echo poststart >> ${order}`)], poststop: [shHook(`echo poststop >> ${order}`)] };
    });
    const r = cli(['run', '--bundle', bundle, sb.id()]);
    expect(r.code).toBe(5);
    expect(readFileSync(order, 'utf8')).toBe('poststart\npoststop\n');
  });

  it('a failing createRuntime hook fails create with an error naming the hook, and leaves nothing', async () => {
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { createRuntime: [shHook('exit 1')] };
    });
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', bundle, id], /createRuntime.*hook|hook.*createRuntime/);
    expect(rootEntries()).toEqual(before);
    expect(await leftovers(id, { bundle })).toEqual([]);
    fails(['state', id], /does not exist/);
  });

  it('a failing createContainer hook fails create and leaves nothing', async () => {
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { createContainer: [shHook('exit 2')] };
    });
    const id = sb.id();
    const before = rootEntries();
    fails(['create', '--bundle', bundle, id], /createContainer.*hook|hook.*createContainer/);
    expect(rootEntries()).toEqual(before);
    expect(await leftovers(id, { bundle })).toEqual([]);
  });

  it('a createRuntime hook over its timeout (1 s, sleeps 5) fails create within ~2 s and is killed', async () => {
    const argv = ['sleep', '4.987'];
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sleep', args: argv, timeout: 1 }] };
    });
    const id = sb.id();
    const before = rootEntries();
    const r = fails(['create', '--bundle', bundle, id], /createRuntime.*(timed out|timeout)/i);
    expect(r.ms).toBeLessThan(2500);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(rootEntries()).toEqual(before);
    expect(await leftovers(id, { bundle })).toEqual([]);
    expect(procsWithArgv(argv)).toEqual([]);
  });

  it('a createContainer hook over its timeout fails create within ~2 s and is killed', async () => {
    const argv = ['sleep', '4.876'];
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { createContainer: [{ path: '/bin/sleep', args: argv, timeout: 1 }] };
    });
    const id = sb.id();
    const before = rootEntries();
    const r = fails(['create', '--bundle', bundle, id], /createContainer.*(timed out|timeout)/i);
    expect(r.ms).toBeLessThan(2500);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(rootEntries()).toEqual(before);
    expect(await leftovers(id, { bundle })).toEqual([]);
    expect(procsWithArgv(argv)).toEqual([]);
  });

  it('a failing poststart hook fails the start and kills the container, as runc does (runtime-spec 1.3)', async () => {
    const bundle = sb.bundle(['sleep', '30'], (s) => {
      s.hooks = { poststart: [shHook('exit 1')] };
    });
    const id = sb.id();
    ok(['create', '--bundle', bundle, id]);
    const pid = state(id).pid as number;
    const r = cli(['start', id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/poststart hook #0.*exit status 1/);
    expect(state(id)).toMatchObject({ status: 'stopped' });
    expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')).toBe(false);
    ok(['delete', id]);
  });

  it('run with a failing poststart hook exits non-zero and leaves nothing behind', async () => {
    const bundle = sb.bundle(['sh', '-c', 'sleep 1; echo Hello'], (s) => {
      s.hooks = { poststart: [{ path: '/bin/true' }, shHook('exit 3')] };
    });
    const id = sb.id();
    const r = cli(['run', '--bundle', bundle, id]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain('Hello');
    expect(r.stderr).toMatch(/poststart hook #1.*exit status 3/);
    expect(await leftovers(id, { bundle })).toEqual([]);
  });
});
