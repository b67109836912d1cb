// containerd 1.6 driving tsrun through its runc shim (containerd-shim-runc-v2):
// `ctr run --runc-binary <wrapper of bin/tsrun>`, the way the shim drives runc
// (create/start with --pid-file and --console-socket, exec --process --detach,
// ps --format json, kill [--all], delete [--force], all with --root and
// --log <bundle>/log.json --log-format json).
//
// Setup (integration/clients.ts, Containerd): containerd started by hand with a
// private config (root, state, gRPC/ttrpc/debug sockets, opt dir under one temp
// dir; CRI disabled), a private namespace, FIFO dir and runtime root; a busybox
// image written as an OCI archive from the host's static busybox and loaded
// with `ctr images import`. The runtime is a logging wrapper script (see
// RuntimeWrapper): `<tmp>/bin/tsrun.log` lists every tsrun command line the
// shim ran, with its exit code; the shim's own log is in containerd's log
// (`<tmp>/containerd.log`, debug level).
//
// A runc baseline (same harness, --runc-binary runc) runs first, so a broken
// harness is told apart from a tsrun bug.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alive,
  busyboxRootfs,
  cgroupChildren,
  cgroupFile,
  Containerd,
  mountsUnder,
  ociArchive,
  pidsMatching,
  RuntimeWrapper,
  run,
  show,
  stateEntries,
  TSRUN,
  waitFor,
  which,
  type CmdResult,
} from './clients';

const T = 120_000;

const containerdMissing = (() => {
  if (process.getuid?.() !== 0) return 'not root';
  for (const b of ['containerd', 'ctr', 'containerd-shim-runc-v2', 'script', 'tar']) if (!which(b)) return `${b} is not installed (scripts/setup.sh installs containerd)`;
  return '';
})();
if (containerdMissing) console.warn(`containerd.test.ts skipped: ${containerdMissing}`);

describe.skipIf(containerdMissing !== '')(`containerd (ctr --runc-binary tsrun)${containerdMissing ? ` (skipped: ${containerdMissing})` : ''}`, () => {
  let ctd: Containerd;
  let n = 0;
  const newId = () => `t${n++}`;

  beforeAll(async () => {
    ctd = new Containerd('it');
    await ctd.start();
    const rootfs = busyboxRootfs(join(ctd.dir, 'image'));
    const imp = ctd.importImage(ociArchive(rootfs, join(ctd.dir, 'busybox-oci.tar'), ctd.image));
    if (imp.code !== 0) throw new Error(`ctr images import failed:\n${show(imp, ctd.logTail())}`);
  }, 180_000);

  afterAll(async () => {
    await ctd?.stop();
  }, 180_000);

  const why = (r: CmdResult) => show(r, `${ctd.tsrun.text()}\n${ctd.logTail(30)}`);
  const ctr = (args: string[], opts: { input?: string } = {}) => ctd.ctr(args, opts);
  /** `ctr run <flags for tsrun> ...flags IMAGE ID CMD...`. */
  const runArgs = (flags: string[], id: string, cmd: string[], w: RuntimeWrapper = ctd.tsrun) => ['run', ...ctd.runFlags(w), ...flags, ctd.image, id, ...cmd];

  /** Kills and removes a task and its container whatever state the test left them in. */
  async function remove(id: string): Promise<void> {
    if (ctd.taskStatus(id)) {
      ctr(['task', 'kill', '--all', '--signal', 'SIGKILL', id]);
      await waitFor(() => ctd.taskStatus(id)?.status !== 'RUNNING', 10_000);
      ctr(['task', 'delete', '--force', id]);
    }
    ctr(['containers', 'rm', id]);
  }

  /** Waits until the task is STOPPED; returns whether it did. */
  const stopped = (id: string) => waitFor(() => ctd.taskStatus(id)?.status === 'STOPPED', 20_000);

  describe('harness check with runc (baseline)', () => {
    it.skipIf(!which('runc'))('runc: ctr run --rm propagates output and exit code', () => {
      const r = ctr(runArgs(['--rm'], 'runc-base', ['sh', '-c', 'echo hello from runc; exit 3'], ctd.runc!));
      expect(r.stdout, show(r, `${ctd.runc!.text()}\n${ctd.logTail(30)}`)).toBe('hello from runc\n');
      expect(r.code).toBe(3);
      expect(ctd.runc!.calls().map(RuntimeWrapper.subcommand)).toContain('create');
    }, T);
  });

  it('ctr run --rm: output and exit code propagate; tsrun created, started and deleted it', () => {
    const id = newId();
    const r = ctr(runArgs(['--rm'], id, ['sh', '-c', 'echo hello; echo oops >&2; exit 3']));
    expect(r.stdout, why(r)).toBe('hello\n');
    expect(r.stderr, why(r)).toContain('oops');
    expect(r.code, why(r)).toBe(3);
    const calls = ctd.tsrun.callsFor(id);
    expect(calls.map(RuntimeWrapper.subcommand), ctd.tsrun.text()).toEqual(expect.arrayContaining(['create', 'start', 'delete']));
    // The shim ran tsrun with its --root under our runtime root.
    expect(calls[0].line, ctd.tsrun.text()).toContain(`--root ${ctd.stateDir(ctd.tsrun)}`);
    expect(calls.find((c) => RuntimeWrapper.subcommand(c) === 'create')?.exit, ctd.tsrun.text()).toBe(0);
    expect(stateEntries(ctd.stateDir(ctd.tsrun))).not.toContain(id);
  }, T);

  it('ctr run --rm: stdin reaches the container', () => {
    // (ctr never closes the container's stdin at EOF, with runc too: read one line.)
    const r = ctr(runArgs(['--rm'], newId(), ['sh', '-c', 'read l; echo "got $l"']), { input: 'piped line\n' });
    expect(r.stdout, why(r)).toBe('got piped line\n');
    expect(r.code, why(r)).toBe(0);
  }, T);

  it('run -d, task exec (stdout, stderr, exit code, --user/--cwd), task ps, task kill to a handler, task delete, container rm', async () => {
    const id = newId();
    try {
      const script = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
      const d = ctr(runArgs(['-d'], id, ['sh', '-c', script]));
      expect(d.code, why(d)).toBe(0);
      const task = ctd.taskStatus(id);
      expect(task?.status, why(ctr(['task', 'ls']))).toBe('RUNNING');

      // tsrun's state agrees with containerd's.
      const st = run(TSRUN, ['--root', ctd.stateDir(ctd.tsrun), 'state', id]);
      expect(st.code, show(st)).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ id, status: 'running', pid: task!.pid });

      const e = ctr(['task', 'exec', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e1', id, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      expect(e.stdout, why(e)).toBe('out\n');
      expect(e.stderr, why(e)).toContain('err');
      expect(e.code, why(e)).toBe(7);
      expect(ctd.tsrun.callsFor(id).map(RuntimeWrapper.subcommand), ctd.tsrun.text()).toContain('exec');

      const e2 = ctr(['task', 'exec', '--fifo-dir', ctd.fifoDir, '--exec-id', 'e2', '--user', '65534', '--cwd', '/tmp', id, 'sh', '-c', 'id -u; pwd']);
      expect(e2.code, why(e2)).toBe(0);
      expect(e2.stdout, why(e2)).toBe('65534\n/tmp\n');

      // A detached exec keeps running: task ps lists it next to the init.
      const e3 = ctr(['task', 'exec', '--fifo-dir', ctd.fifoDir, '--detach', '--exec-id', 'e3', id, 'sleep', '999']);
      expect(e3.code, why(e3)).toBe(0);
      const ps = ctr(['task', 'ps', id]);
      expect(ps.code, why(ps)).toBe(0);
      const pids = ps.stdout
        .split('\n')
        .slice(1)
        .map((l) => Number(l.trim().split(/\s+/)[0]))
        .filter((p) => p > 0);
      expect(pids, why(ps)).toContain(task!.pid);
      const cmdlines = pids.map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          return '';
        }
      });
      expect(cmdlines, why(ps)).toContain('sleep 999');
      expect(ctd.tsrun.callsFor(id).find((c) => RuntimeWrapper.subcommand(c) === 'ps')?.line, ctd.tsrun.text()).toMatch(/ps --format json/);

      // SIGTERM (task kill's default) reaches the init's handler.
      const k = ctr(['task', 'kill', id]);
      expect(k.code, why(k)).toBe(0);
      expect(await stopped(id), `task did not stop after SIGTERM\n${ctd.tsrun.text()}`).toBe(true);
      const del = ctr(['task', 'delete', id]);
      expect(del.code, why(del)).toBe(0);
      expect(del.stderr, why(del)).not.toMatch(/non-zero exit code/);
      const rm = ctr(['containers', 'rm', id]);
      expect(rm.code, why(rm)).toBe(0);
      expect(ctd.tsrun.callsFor(id).map(RuntimeWrapper.subcommand)).toEqual(expect.arrayContaining(['kill', 'delete']));
      expect(stateEntries(ctd.stateDir(ctd.tsrun))).not.toContain(id);
      expect(cgroupChildren(ctd.ns).filter((p) => p.endsWith(`/${id}`)), 'container cgroups left after task delete').toEqual([]);
    } finally {
      await remove(id);
    }
  }, T);

  it('task kill --all --signal SIGKILL: the task exits 137', async () => {
    const id = newId();
    try {
      const d = ctr(runArgs(['-d'], id, ['sh', '-c', 'sleep 1000 & sleep 1000']));
      expect(d.code, why(d)).toBe(0);
      const k = ctr(['task', 'kill', '--all', '--signal', 'SIGKILL', id]);
      expect(k.code, why(k)).toBe(0);
      expect(ctd.tsrun.callsFor(id).find((c) => RuntimeWrapper.subcommand(c) === 'kill')?.line, ctd.tsrun.text()).toMatch(/kill --all/);
      expect(await stopped(id), `task did not stop after SIGKILL\n${ctd.tsrun.text()}`).toBe(true);
      const del = ctr(['task', 'delete', id]);
      expect(del.code, why(del)).toBe(0);
      expect(del.stderr, why(del)).toMatch(/exit code 137/);
    } finally {
      await remove(id);
    }
  }, T);

  it('ctr run -t: the container gets a pty (via --console-socket)', () => {
    const id = newId();
    const r = ctd.ctrPty(runArgs(['--rm', '-t'], id, ['sh', '-c', 'tty; echo hi; exit 5']));
    expect(r.stdout, why(r)).toMatch(/\/dev\/pts\/\d+\r?\r?\n/);
    expect(r.stdout, why(r)).toContain('hi');
    expect(r.code, why(r)).toBe(5);
    expect(ctd.tsrun.callsFor(id).find((c) => RuntimeWrapper.subcommand(c) === 'create')?.line, ctd.tsrun.text()).toContain('--console-socket');
  }, T);

  it('task exec -t: the exec\'d process gets a pty', async () => {
    const id = newId();
    try {
      const d = ctr(runArgs(['-d'], id, ['sleep', '1000']));
      expect(d.code, why(d)).toBe(0);
      const r = ctd.ctrPty(['task', 'exec', '--fifo-dir', ctd.fifoDir, '-t', '--exec-id', 'x1', id, 'sh', '-c', 'tty; echo hi; exit 6']);
      expect(r.stdout, why(r)).toMatch(/\/dev\/pts\/\d+\r?\r?\n/);
      expect(r.stdout, why(r)).toContain('hi');
      expect(r.code, why(r)).toBe(6);
    } finally {
      await remove(id);
    }
  }, T);

  it('task metrics reports the container\'s cgroup (the shim reads cgroup v1 stats itself)', async () => {
    // On cgroup v1 the runc shim loads the init's cgroups and reads them
    // directly (no `runc events --stats`), so this works without tsrun events.
    const id = newId();
    try {
      const d = ctr(runArgs(['-d'], id, ['sleep', '1000']));
      expect(d.code, why(d)).toBe(0);
      const m = ctr(['task', 'metrics', id]);
      expect(m.code, why(m)).toBe(0);
      expect(m.stdout, why(m)).toMatch(/pids\.current\s+1\b|pids\s/);
      expect(m.stdout, why(m)).toMatch(/memory/);
    } finally {
      await remove(id);
    }
  }, T);

  it('resource flags reach the container\'s cgroup (--memory-limit, --cpu-shares)', async () => {
    // ctr's spec mounts no /sys/fs/cgroup in the container: read the host's side.
    const id = newId();
    try {
      const d = ctr(runArgs(['-d', '--memory-limit', '67108864', '--cpu-shares', '512'], id, ['sleep', '1000']));
      expect(d.code, why(d)).toBe(0);
      const rel = ctd.cgroupOf(id);
      expect(cgroupFile(rel, ['memory.limit_in_bytes', 'memory.max']), `memory limit of ${rel}`).toBe('67108864');
      // v1 cpu.shares, or the cgroup v2 cpu.weight runc derives from 512 shares.
      expect(['512', '20'], `cpu shares of ${rel}`).toContain(cgroupFile(rel, ['cpu.shares', 'cpu.weight']));
    } finally {
      await remove(id);
    }
  }, T);

  it('task pause and resume', async () => {
    const id = newId();
    try {
      const d = ctr(runArgs(['-d'], id, ['sleep', '1000']));
      expect(d.code, why(d)).toBe(0);
      const p = ctr(['task', 'pause', id]);
      expect(p.code, why(p)).toBe(0);
      expect(ctd.taskStatus(id)?.status).toBe('PAUSED');
      const r = ctr(['task', 'resume', id]);
      expect(r.code, why(r)).toBe(0);
      expect(ctd.taskStatus(id)?.status).toBe('RUNNING');
      const e = ctr(['task', 'exec', '--fifo-dir', ctd.fifoDir, '--exec-id', 'a1', id, 'echo', 'alive']);
      expect(e.stdout, why(e)).toBe('alive\n');
    } finally {
      await remove(id);
    }
  }, T);

  it('leaves nothing behind: no tasks, containers, tsrun state, cgroups, mounts or shims', async () => {
    const tasks = ctr(['task', 'ls', '-q']);
    expect(tasks.stdout.trim(), why(tasks)).toBe('');
    const cs = ctr(['containers', 'ls', '-q']);
    expect(cs.stdout.trim(), why(cs)).toBe('');
    expect(stateEntries(ctd.stateDir(ctd.tsrun)), 'containers left in tsrun\'s state dir').toEqual([]);
    expect(cgroupChildren(ctd.ns), 'container cgroups left').toEqual([]);
    // Task rootfs mounts go away with the task; the snapshotter keeps none.
    expect(mountsUnder(ctd.dir), 'mounts left under the containerd temp dir').toEqual([]);
    const shimsGone = await waitFor(() => alive(pidsMatching('containerd-shim', ctd.sock)).length === 0, 10_000);
    expect(shimsGone, 'containerd-shim processes left').toBe(true);
  }, T);
});
