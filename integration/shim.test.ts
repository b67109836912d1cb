// containerd-shim-tsrun-v2 (runtime type io.containerd.tsrun.v2), as root:
// 1. driven by a real containerd 1.6 (private config, root, state and
//    sockets; bin/ on its PATH) through ctr;
// 2. driven directly over ttrpc, with a stand-in for containerd's events
//    service, for what ctr cannot show (event order, resize, update,
//    re-adoption after a shim restart, idle exit).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Spec } from '../src/oci/types';
import { makeBusyboxBundle } from '../src/bundle/busybox';
import { shimPaths } from '../src/shim/paths';
import { decode, encode, T, TaskStatus } from '../src/shim/proto';
import { Code, TtrpcClient, TtrpcServer } from '../src/shim/ttrpc';
import {
  alive,
  busyboxRootfs,
  cgroupDirs,
  Containerd,
  mountsUnder,
  ociArchive,
  pidsMatching,
  run,
  show,
  waitFor,
  which,
} from './clients';
import { REPO } from './helpers';

const SHIM = join(REPO, 'bin/containerd-shim-tsrun-v2');
const RUNTIME = 'io.containerd.tsrun.v2';
const built = existsSync(join(REPO, 'dist/containerd-shim-tsrun-v2.js'));
const isRoot = process.getuid?.() === 0;
const hasContainerd = !!which('containerd') && !!which('ctr');

function kill(pid: number, sig: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

// ---------------------------------------------------------------------------
// 1. with containerd

describe.skipIf(!isRoot || !built || !hasContainerd)('containerd with io.containerd.tsrun.v2', () => {
  let ctd: Containerd;
  let shimState: string;
  let seq = 0;
  const id = () => `c${seq++}`;

  beforeAll(async () => {
    ctd = new Containerd('shim');
    // Shim state under the test's directory; containerd (and so the shim) find bin/ first on PATH.
    shimState = join(ctd.dir, 'shim');
    process.env.TSRUN_SHIM_STATE = shimState;
    process.env.PATH = `${join(REPO, 'bin')}:${process.env.PATH}`;
    await ctd.start();
    const rootfs = busyboxRootfs(join(ctd.dir, 'image'));
    const imp = ctd.importImage(ociArchive(rootfs, join(ctd.dir, 'busybox.tar'), ctd.image));
    expect(imp.code, show(imp)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (!ctd) return;
    const shims = shimPids();
    await ctd.stop();
    for (const p of shims) kill(p, 'SIGTERM');
    await waitFor(() => alive(shims).length === 0, 5000);
    for (const p of alive(shims)) kill(p);
  }, 120_000);

  const shimPids = () => alive(pidsMatching('containerd-shim-tsrun-v2.js', ctd.sock));
  const runFlags = () => ['--runtime', RUNTIME, '--snapshotter', ctd.snapshotter, '--fifo-dir', ctd.fifoDir];
  const bundleDir = (cid: string) => join(ctd.dir, 'state/io.containerd.runtime.v2.task', ctd.ns, cid);

  /** What a deleted container may have left: tsrun state, cgroups, mounts, processes. */
  function leftovers(cid: string, pids: number[] = []): string[] {
    const out: string[] = [];
    const state = join(shimState, ctd.ns, cid);
    if (existsSync(state)) out.push(`state ${state}`);
    out.push(...cgroupDirs(ctd.cgroupOf(cid)).map((d) => `cgroup ${d}`));
    out.push(...mountsUnder(bundleDir(cid)).map((m) => `mount ${m}`));
    out.push(...alive(pids).map((p) => `process ${p}`));
    return out;
  }

  it('ctr run --rm: the output and the exit code come back', () => {
    const c = id();
    const r = ctd.ctr(['run', '--rm', ...runFlags(), ctd.image, c, 'sh', '-c', 'echo hi; echo err >&2; exit 3']);
    expect(r.code, show(r, ctd.logTail())).toBe(3);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toContain('err');
    expect(leftovers(c)).toEqual([]);
    expect(ctd.ctr(['containers', 'ls', '-q']).stdout).not.toContain(c);
  });

  it('run -d, then exec, ps, metrics, pause/resume, kill and delete', async () => {
    const c = id();
    const r = ctd.ctr(['run', '-d', ...runFlags(), ctd.image, c, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
    expect(r.code, show(r, ctd.logTail())).toBe(0);
    const st = ctd.taskStatus(c);
    expect(st?.status).toBe('RUNNING');
    const initPid = st!.pid;
    expect(alive([initPid])).toEqual([initPid]);

    const ex = ctd.ctr(['task', 'exec', '--exec-id', 'e1', c, 'sh', '-c', 'echo from-exec; cat /proc/1/cmdline | tr "\\0" " "; exit 5']);
    expect(ex.code, show(ex)).toBe(5);
    expect(ex.stdout).toContain('from-exec');
    expect(ex.stdout).toContain('sh -c trap');

    const ps = ctd.ctr(['task', 'ps', c]);
    expect(ps.code, show(ps)).toBe(0);
    expect(ps.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toContain(initPid);

    const m = ctd.ctr(['task', 'metrics', c]);
    expect(m.code, show(m)).toBe(0);
    const usage = /memory\.usage_in_bytes\s+(\d+)/.exec(m.stdout);
    expect(usage, m.stdout).not.toBeNull();
    expect(Number(usage![1])).toBeGreaterThan(0);
    expect(m.stdout).toMatch(/pids\.current\s+[1-9]/);
    const mj = ctd.ctr(['task', 'metrics', '--format', 'json', c]);
    expect(JSON.parse(mj.stdout).memory.usage.usage).toBeGreaterThan(0);

    expect(ctd.ctr(['task', 'pause', c]).code).toBe(0);
    expect(ctd.taskStatus(c)?.status).toBe('PAUSED');
    const freezer = cgroupDirs(ctd.cgroupOf(c)).find((d) => d.includes('/freezer/'));
    if (freezer) expect(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    expect(ctd.ctr(['task', 'resume', c]).code).toBe(0);
    expect(ctd.taskStatus(c)?.status).toBe('RUNNING');

    // Deleting a running task is refused.
    const early = ctd.ctr(['task', 'delete', c]);
    expect(early.code).not.toBe(0);

    expect(ctd.ctr(['task', 'kill', c]).code).toBe(0); // SIGTERM: the trap exits 0
    expect(await waitFor(() => ctd.taskStatus(c)?.status === 'STOPPED', 10_000)).toBe(true);
    const del = ctd.ctr(['task', 'delete', c]);
    expect(del.code, show(del)).toBe(0);
    expect(ctd.ctr(['containers', 'rm', c]).code).toBe(0);
    expect(leftovers(c, [initPid])).toEqual([]);
  });

  it('kill -a SIGKILL of a task reports 137', async () => {
    const c = id();
    expect(ctd.ctr(['run', '-d', ...runFlags(), ctd.image, c, 'sleep', '1000']).code).toBe(0);
    const pid = ctd.taskStatus(c)!.pid;
    expect(ctd.ctr(['task', 'kill', '-a', '-s', 'SIGKILL', c]).code).toBe(0);
    expect(await waitFor(() => ctd.taskStatus(c)?.status === 'STOPPED', 10_000)).toBe(true);
    const del = ctd.ctr(['task', 'delete', c]);
    expect(del.code, show(del)).toBe(0);
    expect(del.stdout + del.stderr).toMatch(/137/);
    expect(ctd.ctr(['containers', 'rm', c]).code).toBe(0);
    expect(leftovers(c, [pid])).toEqual([]);
  });

  it('a terminal (-t): the container gets a pty, output and exit code come back', () => {
    const c = id();
    const r = ctd.ctrPty(['run', '-t', '--rm', ...runFlags(), ctd.image, c, 'sh', '-c', 'tty; echo term-ok; exit 6']);
    expect(r.code, show(r, ctd.logTail())).toBe(6);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.stdout).toContain('term-ok');
    expect(leftovers(c)).toEqual([]);
  });

  it('a terminal takes typed input', () => {
    const c = id();
    const r = ctd.ctrPty(['run', '-t', '--rm', ...runFlags(), ctd.image, c, 'sh'], { input: 'echo typed-$((40+2))\nexit 4\n' });
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toContain('typed-42');
  });

  it('many containers share one warm shim process', async () => {
    // Earlier tests started the namespace's shim; it is still up.
    const before = shimPids();
    expect(before.length).toBe(1);
    const ids = [id(), id(), id(), id(), id()];
    for (const c of ids) {
      const r = ctd.ctr(['run', '-d', ...runFlags(), ctd.image, c, 'sleep', '1000']);
      expect(r.code, show(r, ctd.logTail())).toBe(0);
    }
    for (const c of ids) expect(ctd.taskStatus(c)?.status).toBe('RUNNING');
    expect(shimPids()).toEqual(before);
    // Every task's bundle points at the same shim socket.
    const addresses = new Set(ids.map((c) => readFileSync(join(bundleDir(c), 'address'), 'utf8')));
    expect(addresses.size).toBe(1);
    const pids = ids.map((c) => ctd.taskStatus(c)!.pid);
    for (const c of ids) expect(ctd.ctr(['task', 'kill', '-s', 'SIGKILL', c]).code).toBe(0);
    for (const c of ids) expect(await waitFor(() => ctd.taskStatus(c)?.status === 'STOPPED', 10_000)).toBe(true);
    for (const c of ids) {
      expect(ctd.ctr(['task', 'delete', c]).code).toBe(0);
      expect(ctd.ctr(['containers', 'rm', c]).code).toBe(0);
    }
    for (const c of ids) expect(leftovers(c)).toEqual([]);
    expect(alive(pids)).toEqual([]);
    // Sequential --rm runs reuse it too.
    for (let i = 0; i < 3; i++) expect(ctd.ctr(['run', '--rm', ...runFlags(), ctd.image, id(), 'true']).code).toBe(0);
    expect(shimPids()).toEqual(before);
  });

  it('SIGKILL of the shim: containerd cleans up through `delete`, nothing is left, a new shim takes over', async () => {
    const c = id();
    expect(ctd.ctr(['run', '-d', ...runFlags(), ctd.image, c, 'sleep', '1000']).code).toBe(0);
    const pid = ctd.taskStatus(c)!.pid;
    const [shim] = shimPids();
    expect(shim).toBeGreaterThan(0);
    kill(shim!);
    // containerd notices the lost connection and runs `containerd-shim-tsrun-v2 delete`.
    expect(await waitFor(() => ctd.taskStatus(c) === null || ctd.taskStatus(c)?.status === 'STOPPED', 20_000)).toBe(true);
    // The task list is truthful: the process is gone too.
    expect(await waitFor(() => alive([pid]).length === 0, 10_000)).toBe(true);
    if (ctd.taskStatus(c)) expect(ctd.ctr(['task', 'delete', c]).code).toBe(0);
    const rm = ctd.ctr(['containers', 'rm', c]);
    expect(rm.code, show(rm)).toBe(0);
    expect(leftovers(c, [pid])).toEqual([]);
    // The dead shim's files are gone; a new container starts a new shim.
    const p = shimPaths(ctd.sock, ctd.ns, shimState);
    expect(existsSync(p.pidFile)).toBe(false);
    const r = ctd.ctr(['run', '--rm', ...runFlags(), ctd.image, id(), 'echo', 'again']);
    expect(r.code, show(r, ctd.logTail())).toBe(0);
    expect(r.stdout).toBe('again\n');
    const now = shimPids();
    expect(now.length).toBe(1);
    expect(now[0]).not.toBe(shim);
  });
});

// ---------------------------------------------------------------------------
// 2. over ttrpc, without containerd

const TASK = 'containerd.task.v2.Task';

interface Event {
  topic: string;
  type: string;
  event: Record<string, unknown>;
}

describe.skipIf(!isRoot || !built)('the shim over ttrpc', () => {
  let dir: string;
  let events: Event[];
  let eventsServer: TtrpcServer;
  const ns = `shimt-${process.pid}`;
  const address = '/containerd/that/is/not/there.sock';
  let env: NodeJS.ProcessEnv;
  let base: string;
  let seq = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-shimt-'));
    base = join(dir, 's');
    events = [];
    eventsServer = new TtrpcServer();
    eventsServer.register('containerd.services.events.ttrpc.v1.Events', 'Forward', (payload, ctx) => {
      const req = decode<{ envelope: { namespace: string; topic: string; event: { type_url: string; value: Buffer } } }>(T.ForwardRequest, payload);
      expect(req.envelope.namespace).toBe(ns);
      expect(ctx.metadata.get('containerd-namespace-ttrpc')).toEqual([ns]);
      const type = req.envelope.event.type_url;
      events.push({ topic: req.envelope.topic, type, event: decode(type, req.envelope.event.value) });
      return encode(T.Empty, {});
    });
    await eventsServer.listen(join(dir, 'events.sock'));
    env = { ...process.env, TSRUN_SHIM_STATE: base, TTRPC_ADDRESS: join(dir, 'events.sock') };
  });

  afterAll(async () => {
    const p = shimPaths(address, ns, base);
    for (const pid of alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`))) kill(pid, 'SIGTERM');
    await waitFor(() => alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`)).length === 0, 5000);
    for (const pid of alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`))) kill(pid);
    // Containers a failed test left.
    for (const c of existsSync(p.stateRoot) ? readdirSync(p.stateRoot) : []) run(join(REPO, 'bin/tsrun'), ['--root', p.stateRoot, 'delete', '--force', c]);
    eventsServer?.close();
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  function shim(args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}) {
    return run(SHIM, ['-namespace', ns, '-address', address, '-publish-binary', '/bin/false', ...args], { cwd, env: { ...env, ...extraEnv } });
  }

  function bundle(args: string[], mutate?: (spec: Spec) => void): { id: string; path: string } {
    const id = `t${seq++}`;
    const path = join(dir, id);
    makeBusyboxBundle(path, { args, mutate });
    return { id, path };
  }

  async function connect(b: { id: string; path: string }, extraEnv: NodeJS.ProcessEnv = {}): Promise<TtrpcClient> {
    const r = shim(['-id', b.id, 'start'], b.path, extraEnv);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^unix:\/\/\//);
    expect(readFileSync(join(b.path, 'address'), 'utf8')).toBe(r.stdout);
    return TtrpcClient.connect(r.stdout.replace('unix://', ''));
  }

  async function call<R = Record<string, unknown>>(c: TtrpcClient, method: string, req: string, res: string, body: object): Promise<R> {
    return decode<R>(res, await c.call(TASK, method, encode(req, body)));
  }

  const eventsOf = (id: string) => events.filter((e) => e.event.container_id === id);

  it('runs a task: Create, Start, Wait, State, Delete, with events in order', async () => {
    const b = bundle(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const c = await connect(b);
    try {
      const out = join(dir, `${b.id}.out`);
      const created = await call<{ pid: number }>(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path, stdout: `file://${out}`, stderr: `file://${out}` });
      expect(created.pid).toBeGreaterThan(0);
      const st = await call<{ status: number; pid: number }>(c, 'State', T.StateRequest, T.StateResponse, { id: b.id });
      expect(st).toMatchObject({ status: TaskStatus.CREATED, pid: created.pid });
      const waited = call<{ exit_status: number }>(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
      await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
      expect((await waited).exit_status).toBe(3);
      expect((await call<{ status: number }>(c, 'State', T.StateRequest, T.StateResponse, { id: b.id })).status).toBe(TaskStatus.STOPPED);
      const del = await call<{ exit_status: number; pid: number }>(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
      expect(del).toMatchObject({ exit_status: 3, pid: created.pid });
      expect(readFileSync(out, 'utf8')).toBe('out\nerr\n');
      await expect(c.call(TASK, 'State', encode(T.StateRequest, { id: b.id }))).rejects.toMatchObject({ code: Code.NOT_FOUND });
      expect(await waitFor(() => eventsOf(b.id).length >= 4, 5000)).toBe(true);
      expect(eventsOf(b.id).map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
      expect(eventsOf(b.id)[2]).toMatchObject({ type: 'containerd.events.TaskExit', event: { id: b.id, pid: created.pid, exit_status: 3 } });
    } finally {
      c.close();
    }
  });

  it('execs, a terminal with ResizePty, Pids, Stats, Update, errors', async () => {
    const b = bundle(['sleep', '1000']);
    const c = await connect(b);
    try {
      const { pid } = await call<{ pid: number }>(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path });
      await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
      await expect(c.call(TASK, 'Create', encode(T.CreateTaskRequest, { id: b.id, bundle: b.path }))).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
      await expect(c.call(TASK, 'Delete', encode(T.DeleteRequest, { id: b.id }))).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
      await expect(c.call(TASK, 'Checkpoint', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });

      // An exec with its output in a file.
      const out = join(dir, `${b.id}-e1.out`);
      const proc = (args: string[], terminal = false) => ({ type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify({ args, cwd: '/', terminal, env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })) });
      await call(c, 'Exec', T.ExecProcessRequest, T.Empty, { id: b.id, exec_id: 'e1', stdout: `file://${out}`, spec: proc(['sh', '-c', 'echo in-exec; exit 9']) });
      await expect(c.call(TASK, 'Exec', encode(T.ExecProcessRequest, { id: b.id, exec_id: 'e1', spec: proc(['true']) }))).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
      const w1 = call<{ exit_status: number }>(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id, exec_id: 'e1' });
      const e1 = await call<{ pid: number }>(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id, exec_id: 'e1' });
      expect(e1.pid).toBeGreaterThan(0);
      expect((await w1).exit_status).toBe(9);
      expect(readFileSync(out, 'utf8')).toBe('in-exec\n');
      expect((await call<{ exit_status: number }>(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id, exec_id: 'e1' })).exit_status).toBe(9);

      // A terminal exec: it sees the size ResizePty set.
      const tout = join(dir, `${b.id}-e2.out`);
      await call(c, 'Exec', T.ExecProcessRequest, T.Empty, { id: b.id, exec_id: 'e2', terminal: true, stdout: `file://${tout}`, spec: proc(['sh', '-c', 'sleep 0.5; stty size; tty'], true) });
      const w2 = call<{ exit_status: number }>(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id, exec_id: 'e2' });
      await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id, exec_id: 'e2' });
      await call(c, 'ResizePty', T.ResizePtyRequest, T.Empty, { id: b.id, exec_id: 'e2', width: 100, height: 30 });
      expect((await w2).exit_status).toBe(0);
      expect(readFileSync(tout, 'utf8')).toMatch(/^30 100\r?\n\/dev\/pts\/\d+/);
      await call(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id, exec_id: 'e2' });

      const pids = await call<{ processes: { pid: number }[] }>(c, 'Pids', T.PidsRequest, T.PidsResponse, { id: b.id });
      expect(pids.processes.map((p) => p.pid)).toContain(pid);

      const stats = await call<{ stats: { type_url: string; value: Buffer } }>(c, 'Stats', T.StatsRequest, T.StatsResponse, { id: b.id });
      expect(stats.stats.type_url).toBe('io.containerd.cgroups.v1.Metrics');
      const m = decode<{ memory: { usage: { usage: number } }; pids: { current: number } }>(T.Metrics, stats.stats.value);
      expect(m.memory.usage.usage).toBeGreaterThan(0);
      expect(m.pids.current).toBeGreaterThanOrEqual(1);

      const limit = 64 * 1024 * 1024;
      await call(c, 'Update', T.UpdateTaskRequest, T.Empty, { id: b.id, resources: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify({ memory: { limit } })) } });
      const after = decode<{ memory: { usage: { limit: number } } }>(T.Metrics, (await call<{ stats: { value: Buffer } }>(c, 'Stats', T.StatsRequest, T.StatsResponse, { id: b.id })).stats.value);
      expect(after.memory.usage.limit).toBe(limit);

      await call(c, 'Pause', T.PauseRequest, T.Empty, { id: b.id });
      expect((await call<{ status: number }>(c, 'State', T.StateRequest, T.StateResponse, { id: b.id })).status).toBe(TaskStatus.PAUSED);
      await call(c, 'Resume', T.ResumeRequest, T.Empty, { id: b.id });

      const w = call<{ exit_status: number }>(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
      await call(c, 'Kill', T.KillRequest, T.Empty, { id: b.id, signal: 9 });
      expect((await w).exit_status).toBe(137);
      await expect(c.call(TASK, 'Kill', encode(T.KillRequest, { id: b.id, signal: 9 }))).rejects.toMatchObject({ code: Code.NOT_FOUND });
      await call(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
      expect(await waitFor(() => eventsOf(b.id).filter((e) => e.topic === '/tasks/delete').length === 3, 5000)).toBe(true);
      const topics = eventsOf(b.id).map((e) => e.topic);
      expect(topics.slice(0, 7)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit', '/tasks/delete', '/tasks/exec-added']);
      expect(eventsOf(b.id).filter((e) => e.topic === '/tasks/exit').map((e) => e.event.id)).toEqual(['e1', 'e2', b.id]);
    } finally {
      c.close();
    }
  });

  it('reports an OOM kill (TaskOOM before TaskExit)', async () => {
    const b = bundle(['sh', '-c', 'tail /dev/zero; echo survived'], (spec) => {
      spec.linux = { ...spec.linux, resources: { ...spec.linux?.resources, memory: { limit: 16 * 1024 * 1024 } } };
    });
    const c = await connect(b);
    try {
      const out = join(dir, `${b.id}.out`);
      await call(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path, stdout: `file://${out}` });
      const w = call<{ exit_status: number }>(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
      await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
      expect((await w).exit_status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('survived\n');
      await call(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
      expect(await waitFor(() => eventsOf(b.id).some((e) => e.topic === '/tasks/delete'), 5000)).toBe(true);
      const topics = eventsOf(b.id).map((e) => e.topic);
      expect(topics).toContain('/tasks/oom');
      expect(topics.indexOf('/tasks/oom')).toBeLessThan(topics.indexOf('/tasks/exit'));
    } finally {
      c.close();
    }
  });

  it('a restarted shim re-adopts a running container', async () => {
    const b = bundle(['sleep', '1000']);
    const c = await connect(b);
    const { pid } = await call<{ pid: number }>(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path });
    await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
    c.close();
    const p = shimPaths(address, ns, base);
    const [old] = alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`));
    kill(old!);
    expect(await waitFor(() => alive([old!]).length === 0, 5000)).toBe(true);
    expect(alive([pid])).toEqual([pid]);
    // A container the dead shim had deleted (marked) but not yet cleaned up.
    const done = bundle(['true']);
    const td = run(join(REPO, 'bin/tsrun'), ['--root', p.stateRoot, 'run', '-d', '--bundle', done.path, done.id]);
    expect(td.code, show(td)).toBe(0);
    writeFileSync(join(p.stateRoot, done.id, 'shim-deleted'), '');

    const c2 = await connect(b);
    expect(await waitFor(() => !existsSync(join(p.stateRoot, done.id)), 5000)).toBe(true);
    try {
      const [now] = alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`));
      expect(now).not.toBe(old);
      const connected = await call<{ shim_pid: number; task_pid: number }>(c2, 'Connect', T.ConnectRequest, T.ConnectResponse, { id: b.id });
      expect(connected).toEqual({ shim_pid: now, task_pid: pid, version: '' });
      expect(await call(c2, 'State', T.StateRequest, T.StateResponse, { id: b.id })).toMatchObject({ status: TaskStatus.RUNNING, pid });
      const w = call<{ exit_status: number }>(c2, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
      await call(c2, 'Kill', T.KillRequest, T.Empty, { id: b.id, signal: 9 });
      // Not our child any more: the status is unknown, as containerd reports a lost shim's.
      expect((await w).exit_status).toBe(255);
      await call(c2, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
      // The runtime's cleanup finishes after the reply.
      expect(await waitFor(() => !existsSync(join(p.stateRoot, b.id)), 5000)).toBe(true);
      expect(alive([pid])).toEqual([]);
    } finally {
      c2.close();
    }
  });

  it('`delete` cleans up after a dead shim and prints a DeleteResponse', async () => {
    const b = bundle(['sleep', '1000']);
    const c = await connect(b);
    const { pid } = await call<{ pid: number }>(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path });
    await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
    c.close();
    const [old] = alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`));
    kill(old!);
    expect(await waitFor(() => alive([old!]).length === 0, 5000)).toBe(true);
    const r = spawnSync(SHIM, ['-namespace', ns, '-address', address, '-publish-binary', '/bin/false', '-id', b.id, '-bundle', b.path, 'delete'], { cwd: b.path, env });
    expect(r.status, r.stderr.toString()).toBe(0);
    const res = decode<{ pid: number; exit_status: number; exited_at: { seconds: number } }>(T.DeleteResponse, r.stdout);
    expect(res).toMatchObject({ pid, exit_status: 137 });
    expect(res.exited_at.seconds).toBeGreaterThan(0);
    expect(alive([pid])).toEqual([]);
    const p = shimPaths(address, ns, base);
    expect(existsSync(join(p.stateRoot, b.id))).toBe(false);
    // The dead shim's pid file, socket and hint FIFO went with it.
    expect(existsSync(p.pidFile)).toBe(false);
    expect(existsSync(p.socket)).toBe(false);
    expect(existsSync(p.hint)).toBe(false);
    // Deleting again (or an unknown id) is fine.
    const again = spawnSync(SHIM, ['-namespace', ns, '-address', address, '-id', b.id, '-bundle', b.path, 'delete'], { cwd: b.path, env });
    expect(again.status, again.stderr.toString()).toBe(0);
  });

  it('publishes through -publish-binary without a ttrpc address', async () => {
    const ns2 = `${ns}-pb`;
    const pub = join(dir, 'publish.sh');
    const outDir = join(dir, 'published');
    mkdirSync(outDir);
    // A stand-in for `containerd publish`: one file per event, its arguments and its stdin.
    writeFileSync(pub, `#!/bin/sh\nn=$(date +%s%N)\necho "$*" > ${outDir}/$n.args\ncat > ${outDir}/$n.any\n`, { mode: 0o755 });
    const b = bundle(['true']);
    const env2 = { ...env, TTRPC_ADDRESS: '', TSRUN_SHIM_IDLE_MS: '300' };
    const r = run(SHIM, ['-namespace', ns2, '-address', '/ctd.sock', '-publish-binary', pub, '-id', b.id, 'start'], { cwd: b.path, env: env2 });
    expect(r.code, show(r)).toBe(0);
    const c = await TtrpcClient.connect(r.stdout.replace('unix://', ''));
    try {
      await call(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path });
      const w = call(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
      await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
      await w;
      await call(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
    } finally {
      c.close();
    }
    const files = () => readdirSync(outDir).filter((f) => f.endsWith('.any')).sort();
    expect(await waitFor(() => files().length === 4, 10_000)).toBe(true);
    const got = files().map((f) => {
      const args = readFileSync(join(outDir, f.replace('.any', '.args')), 'utf8').trim();
      const any = decode<{ type_url: string; value: Buffer }>(T.Any, readFileSync(join(outDir, f)));
      return { args, type: any.type_url, event: decode<Record<string, unknown>>(any.type_url, any.value) };
    });
    expect(got.map((g) => g.args)).toEqual(['create', 'start', 'exit', 'delete'].map((t) => `--address /ctd.sock publish --topic /tasks/${t} --namespace ${ns2}`));
    expect(got.map((g) => g.type)).toEqual(['TaskCreate', 'TaskStart', 'TaskExit', 'TaskDelete'].map((t) => `containerd.events.${t}`));
    expect(got[2]!.event).toMatchObject({ container_id: b.id, id: b.id, exit_status: 0 });
    // It goes idle and exits.
    expect(await waitFor(() => alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns2}`)).length === 0, 10_000)).toBe(true);
  });

  it('an idle shim exits and removes its files; an announced container that never comes is undone', async () => {
    const b = bundle(['true']);
    const c = await connect(b, { TSRUN_SHIM_IDLE_MS: '300', TSRUN_SHIM_PREPARED_TTL_MS: '500' });
    const [pid] = alive(pidsMatching('containerd-shim-tsrun-v2.js', `-namespace ${ns}`));
    // `start` for a container containerd then does not create: its cgroup comes and goes.
    const phantom = bundle(['true']);
    const r = shim(['-id', phantom.id, 'start'], phantom.path);
    expect(r.code, show(r)).toBe(0);
    expect(await waitFor(() => cgroupDirs(`tsrun/${phantom.id}`).length > 0, 5000)).toBe(true);
    expect(await waitFor(() => cgroupDirs(`tsrun/${phantom.id}`).length === 0, 5000)).toBe(true);
    await call(c, 'Create', T.CreateTaskRequest, T.CreateTaskResponse, { id: b.id, bundle: b.path });
    const w = call(c, 'Wait', T.WaitRequest, T.WaitResponse, { id: b.id });
    await call(c, 'Start', T.StartRequest, T.StartResponse, { id: b.id });
    await w;
    await call(c, 'Delete', T.DeleteRequest, T.DeleteResponse, { id: b.id });
    await new Promise((r) => setTimeout(r, 800));
    // Still connected: not idle.
    expect(alive([pid!])).toEqual([pid]);
    c.close();
    expect(await waitFor(() => alive([pid!]).length === 0, 10_000)).toBe(true);
    const p = shimPaths(address, ns, base);
    expect(existsSync(p.pidFile)).toBe(false);
    expect(existsSync(p.socket)).toBe(false);
    expect(existsSync(p.hint)).toBe(false);
    expect(existsSync(p.stateRoot)).toBe(false);
  });
});
