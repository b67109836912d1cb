// containerd.task.v2.Task, served by one long-lived shim for many containers
// of a namespace, all through the Runtime library in this process. Each
// container's init and exec'd processes are watched through the runtime's
// native relays (our children), whose exit codes are the processes'.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCgroupLayout } from '../cgroups/hierarchy';
import { CgroupManager, resolveCgroupPath } from '../cgroups/manager';
import { oomKillCount } from '../cgroups/oom';
import { ConfigError, NotFoundError, StateError, TsrunError } from '../errors';
import type { LinuxResources, Process } from '../oci/types';
import { validateSpec } from '../oci/validate';
import type { Runtime } from '../runtime/runtime';
import { initAlive } from '../runtime/state';
import { ConsoleSocket } from './console';
import { Topic, type Publisher } from './events';
import { setWindowSize } from '../sys/libc';
import { statsToMetrics, statsToMetricsV2 } from './metrics';
import {
  decode,
  encode,
  packAny,
  T,
  TaskStatus,
  timestamp,
  type CloseIORequest,
  type CreateTaskRequest,
  type ExecProcessRequest,
  type IdExec,
  type KillRequest,
  type ResizePtyRequest,
  type ShutdownRequest,
  type UpdateTaskRequest,
} from './proto';
import { mountRootfs, unmountRootfs } from './rootfs';
import { ProcessIO, type StdioPaths } from './stdio';
import { Code, TtrpcError, type TtrpcServer } from './ttrpc';

export const TASK_SERVICE = 'containerd.task.v2.Task';

/** Exit status reported when it cannot be known (a process adopted after a
 * shim restart is not our child), as containerd does for a lost shim. */
export const UNKNOWN_EXIT = 255;

/** Left in a container's state directory once the shim has deleted the task
 * and only the runtime's cleanup is still running (the launcher's fast
 * `delete` looks for it). */
export const DELETED_MARKER = 'shim-deleted';

/** How long an announced container's cgroup waits for its Create. */
const PREPARED_TTL_MS = Number(process.env.TSRUN_SHIM_PREPARED_TTL_MS ?? 10_000);

type ProcStatus = 'created' | 'running' | 'stopped';

interface Proc {
  /** '' for the container's init. */
  execId: string;
  pid: number;
  status: ProcStatus;
  exitStatus: number;
  exitedAt?: Date;
  paths: StdioPaths;
  io?: ProcessIO;
  /** exec only: the process to start. */
  spec?: Process;
  started: boolean;
  /** While Start runs: resolves once TaskStart has been published (the exit
   * event must follow it, and may race with it for a short-lived process). */
  starting?: Promise<void>;
  /** Resolves once the exit has been recorded (and published). */
  done: Promise<void>;
  markDone: () => void;
}

interface Container {
  id: string;
  bundle: string;
  rootfs: string;
  /** We mounted containerd's rootfs mounts on `rootfs`. */
  mounted: boolean;
  init: Proc;
  execs: Map<string, Proc>;
  cgroup?: CgroupManager;
  oomKills: number;
  /** Paused through this shim (Pause/Resume). */
  paused: boolean;
  /** Found in the state root by a restarted shim: not our child. */
  adopted: boolean;
}

export interface ServiceOptions {
  runtime: Runtime;
  publisher: Publisher;
  /** Where console sockets are made (short: unix socket paths are limited). */
  consoleDir: string;
  log: (msg: string) => void;
  /** Per-request timing lines (with -debug). */
  debug?: (msg: string) => void;
  /** The number of containers changed (the shim's idle accounting). */
  onCount?: (n: number) => void;
  /** How often to look for OOM kills and adopted processes' exits (ms). */
  pollMs?: number;
  /** Warms the kernel's cgroup migration lock before a create or exec (see cgroup-primer.ts). */
  primer?: { hold(): () => void };
}

function newProc(execId: string, paths: StdioPaths): Proc {
  let markDone!: () => void;
  const done = new Promise<void>((r) => (markDone = r));
  return { execId, pid: 0, status: 'created', exitStatus: 0, paths, started: false, done, markDone };
}

/** Maps the runtime's errors to the status codes containerd understands. */
export function toTtrpcError(e: unknown): unknown {
  if (e instanceof TtrpcError) return e;
  if (e instanceof NotFoundError) return new TtrpcError(Code.NOT_FOUND, e.message);
  if (e instanceof StateError) return new TtrpcError(/already exists/.test(e.message) ? Code.ALREADY_EXISTS : Code.FAILED_PRECONDITION, e.message);
  if (e instanceof ConfigError) return new TtrpcError(Code.INVALID_ARGUMENT, e.message);
  if (e instanceof TsrunError) return new TtrpcError(Code.UNKNOWN, e.message);
  return e;
}

export class TaskService {
  readonly containers = new Map<string, Container>();
  private consoleSeq = 0;
  /** Containers announced by the launcher's `start` (see prepare()). */
  private readonly prepared = new Map<string, { cgroup?: CgroupManager; release?: () => void; timer: NodeJS.Timeout }>();
  /** Runtime cleanups still running after Delete replied, by container id. */
  private readonly pendingDeletes = new Map<string, Promise<void>>();
  private poller?: NodeJS.Timeout;

  constructor(private readonly o: ServiceOptions) {}

  register(server: TtrpcServer): void {
    const m = <Req>(method: string, reqType: string, resType: string, fn: (req: Req) => Promise<object> | object) => {
      server.register(TASK_SERVICE, method, async (payload) => {
        const req = decode<Req>(reqType, payload);
        const t0 = performance.now();
        try {
          return encode(resType, await fn(req));
        } catch (e) {
          this.o.debug?.(`${method} ${(req as { id?: string }).id ?? ''} failed: ${(e as Error).message}`);
          throw toTtrpcError(e);
        } finally {
          this.o.debug?.(`${method} ${(req as { id?: string }).id ?? ''} ${(performance.now() - t0).toFixed(1)}ms`);
        }
      });
    };
    m<IdExec>('State', T.StateRequest, T.StateResponse, (r) => this.state(r));
    m<CreateTaskRequest>('Create', T.CreateTaskRequest, T.CreateTaskResponse, (r) => this.create(r));
    m<IdExec>('Start', T.StartRequest, T.StartResponse, (r) => this.start(r));
    m<IdExec>('Delete', T.DeleteRequest, T.DeleteResponse, (r) => this.delete(r));
    m<{ id: string }>('Pids', T.PidsRequest, T.PidsResponse, (r) => this.pids(r.id));
    m<{ id: string }>('Pause', T.PauseRequest, T.Empty, (r) => this.pause(r.id));
    m<{ id: string }>('Resume', T.ResumeRequest, T.Empty, (r) => this.resume(r.id));
    m<KillRequest>('Kill', T.KillRequest, T.Empty, (r) => this.kill(r));
    m<ExecProcessRequest>('Exec', T.ExecProcessRequest, T.Empty, (r) => this.exec(r));
    m<ResizePtyRequest>('ResizePty', T.ResizePtyRequest, T.Empty, (r) => this.resizePty(r));
    m<CloseIORequest>('CloseIO', T.CloseIORequest, T.Empty, (r) => this.closeIO(r));
    m<UpdateTaskRequest>('Update', T.UpdateTaskRequest, T.Empty, (r) => this.update(r));
    m<IdExec>('Wait', T.WaitRequest, T.WaitResponse, (r) => this.wait(r));
    m<{ id: string }>('Stats', T.StatsRequest, T.StatsResponse, (r) => this.stats(r.id));
    m<{ id: string }>('Connect', T.ConnectRequest, T.ConnectResponse, (r) => this.connect(r.id));
    m<ShutdownRequest>('Shutdown', T.ShutdownRequest, T.Empty, () => ({}));
    // Checkpoint is not registered: the server answers UNIMPLEMENTED.
  }

  // ---- lookups ----

  private container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw new TtrpcError(Code.NOT_FOUND, `container ${id}: not found`);
    return c;
  }

  private proc(c: Container, execId: string): Proc {
    if (!execId) return c.init;
    const p = c.execs.get(execId);
    if (!p) throw new TtrpcError(Code.NOT_FOUND, `process ${execId} of container ${c.id}: not found`);
    return p;
  }

  private changed(): void {
    this.o.onCount?.(this.containers.size);
    if (this.containers.size > 0 && !this.poller) {
      this.poller = setInterval(() => this.poll(), this.o.pollMs ?? 1000);
      this.poller.unref();
    } else if (this.containers.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  // ---- lifecycle ----

  async create(r: CreateTaskRequest): Promise<object> {
    if (this.containers.has(r.id)) throw new TtrpcError(Code.ALREADY_EXISTS, `container ${r.id}: already exists`);
    const pending = this.pendingDeletes.get(r.id);
    if (pending) await pending;
    if (this.containers.has(r.id)) throw new TtrpcError(Code.ALREADY_EXISTS, `container ${r.id}: already exists`);
    if (r.checkpoint) throw new TtrpcError(Code.UNIMPLEMENTED, 'checkpoint/restore is not supported by tsrun');
    const rootfs = join(r.bundle, 'rootfs');
    const paths: StdioPaths = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal };
    const init = newProc('', paths);
    // Reserve the id while we work (a second Create of it fails at once).
    const c: Container = { id: r.id, bundle: r.bundle, rootfs, mounted: false, init, execs: new Map(), oomKills: 0, paused: false, adopted: false };
    this.containers.set(r.id, c);
    let console: ConsoleSocket | undefined;
    // The container's cgroups first, then warm the migration lock while the
    // runtime works towards moving the init into them (see cgroup-primer.ts;
    // the warming holds the kernel's cgroup_mutex, which mkdir needs).
    const prep = this.takePrepared(r.id);
    const madeCgroup = prep ? prep.cgroup : this.o.primer ? precreateCgroup(r.id, r.bundle) : undefined;
    const release = prep ? prep.release : this.o.primer?.hold();
    try {
      mountRootfs(rootfs, r.rootfs);
      c.mounted = r.rootfs.length > 0;
      init.io = ProcessIO.open(paths);
      if (r.terminal) console = this.consoleSocket();
      const { pid, exited } = await this.o.runtime.createWatched(r.id, {
        bundle: r.bundle,
        stdio: init.io.stdio,
        consoleSocket: console?.path,
      });
      init.io.released();
      init.pid = pid;
      if (console) init.io.attachTerminal(await console.receiveMaster());
      this.watch(c, init, exited);
    } catch (e) {
      init.io?.close();
      if (c.mounted) unmountQuietly(rootfs, this.o.log);
      this.containers.delete(r.id);
      if (init.pid > 0) await this.o.runtime.delete(r.id, true).catch(() => {});
      await madeCgroup?.destroy().catch(() => {});
      throw e;
    } finally {
      release?.();
      console?.close();
    }
    this.changed();
    this.o.publisher.publish(Topic.create, {
      container_id: r.id,
      bundle: r.bundle,
      rootfs: r.rootfs,
      io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      checkpoint: r.checkpoint,
      pid: init.pid,
    });
    return { pid: init.pid };
  }

  /** The launcher's `start` announces the container containerd is about to
   * create: make its cgroup and start warming the cgroup lock now, a few ms
   * before Create arrives. Undone if no Create follows. */
  prepare(id: string, bundle: string): void {
    if (!this.o.primer || this.containers.has(id) || this.prepared.has(id)) return;
    const cgroup = precreateCgroup(id, bundle);
    const release = this.o.primer.hold();
    const timer = setTimeout(() => {
      const p = this.takePrepared(id);
      p?.release?.();
      void p?.cgroup?.destroy().catch(() => {});
    }, PREPARED_TTL_MS);
    timer.unref();
    this.prepared.set(id, { cgroup, release, timer });
  }

  private takePrepared(id: string) {
    const p = this.prepared.get(id);
    if (!p) return undefined;
    this.prepared.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  private consoleSocket(): ConsoleSocket {
    return new ConsoleSocket(join(this.o.consoleDir, `c${process.pid}-${this.consoleSeq++}.sock`));
  }

  private cgroupOf(id: string): CgroupManager | undefined {
    try {
      const st = this.o.runtime.stored(id);
      return st.cgroupPath ? new CgroupManager(readCgroupLayout(), st.cgroupPath) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records a process's exit when its relay reports it. */
  private watch(c: Container, p: Proc, exited: Promise<number>): void {
    exited.then(
      (code) => this.exited(c, p, code),
      () => this.exited(c, p, UNKNOWN_EXIT),
    );
  }

  private async exited(c: Container, p: Proc, code: number): Promise<void> {
    if (p.status === 'stopped') return;
    p.status = 'stopped';
    p.exitStatus = code;
    p.exitedAt = new Date();
    // An OOM kill is often why it exited: report it first (polling may not have seen it).
    this.checkOom(c);
    // Let a terminal's last output reach the client before it learns of the exit.
    await p.io?.finish();
    if (p.starting) await p.starting;
    if (p.started) {
      this.o.publisher.publish(Topic.exit, {
        container_id: c.id,
        id: p.execId || c.id,
        pid: p.pid,
        exit_status: code,
        exited_at: timestamp(p.exitedAt),
      });
    }
    p.markDone();
  }

  async start(r: IdExec): Promise<object> {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    if (p.status !== 'created' || p.started || p.starting) throw new TtrpcError(Code.FAILED_PRECONDITION, `process ${r.exec_id || r.id} is ${p.status}, not created`);
    if (!p.execId) {
      let started!: () => void;
      p.starting = new Promise<void>((r) => (started = r));
      try {
        await this.o.runtime.start(c.id);
        p.started = true;
        // The process may have run and exited already (exited() waits for us).
        if (p.status === 'created') p.status = 'running';
        this.o.publisher.publish(Topic.start, { container_id: c.id, pid: p.pid });
      } finally {
        started();
        p.starting = undefined;
      }
      return { pid: p.pid };
    }
    let console: ConsoleSocket | undefined;
    const release = this.o.primer?.hold();
    try {
      p.io = ProcessIO.open(p.paths);
      if (p.paths.terminal) console = this.consoleSocket();
      const spec = { ...p.spec!, terminal: p.paths.terminal };
      const { pid, exited } = await this.o.runtime.execWatched(c.id, spec, { stdio: p.io.stdio, consoleSocket: console?.path });
      p.io.released();
      p.pid = pid;
      p.started = true;
      p.status = 'running';
      if (console) p.io.attachTerminal(await console.receiveMaster());
      this.watch(c, p, exited);
    } catch (e) {
      p.io?.close();
      p.io = undefined;
      throw e;
    } finally {
      release?.();
      console?.close();
    }
    this.o.publisher.publish(Topic.execStarted, { container_id: c.id, exec_id: p.execId, pid: p.pid });
    return { pid: p.pid };
  }

  async delete(r: IdExec): Promise<object> {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    if (p.execId) {
      if (p.status === 'running') throw new TtrpcError(Code.FAILED_PRECONDITION, `cannot delete running process ${p.execId}`);
      c.execs.delete(p.execId);
      p.io?.close();
      this.o.publisher.publish(Topic.delete, { container_id: c.id, pid: p.pid, exit_status: p.exitStatus, exited_at: p.exitedAt ? timestamp(p.exitedAt) : undefined, id: p.execId });
      return { pid: p.pid, exit_status: p.exitStatus, exited_at: p.exitedAt ? timestamp(p.exitedAt) : undefined };
    }
    if (p.status === 'running') throw new TtrpcError(Code.FAILED_PRECONDITION, `cannot delete running task ${c.id}`);
    if (p.status === 'stopped') {
      // The init is dead: the runtime's cleanup (cgroup, state directory)
      // need not hold up the reply. The marker tells `<shim> delete`, which
      // containerd runs next, that there is nothing left for it to do.
      this.markDeleted(c.id);
      this.pendingDeletes.set(c.id, this.runtimeDelete(c.id).finally(() => this.pendingDeletes.delete(c.id)));
    } else {
      // A created task's init is killed; its relay then reports the exit.
      await this.runtimeDelete(c.id);
      if (p.pid > 0) {
        if (c.adopted) await this.exited(c, p, UNKNOWN_EXIT);
        await Promise.race([p.done, new Promise((res) => setTimeout(res, 5000))]);
      }
      if ((p.status as ProcStatus) !== 'stopped') await this.exited(c, p, UNKNOWN_EXIT);
    }
    for (const e of c.execs.values()) e.io?.close();
    if (c.mounted || c.adopted) unmountQuietly(c.rootfs, this.o.log);
    this.containers.delete(c.id);
    this.changed();
    const exitedAt = p.exitedAt ? timestamp(p.exitedAt) : undefined;
    this.o.publisher.publish(Topic.delete, { container_id: c.id, pid: p.pid, exit_status: p.exitStatus, exited_at: exitedAt });
    return { pid: p.pid, exit_status: p.exitStatus, exited_at: exitedAt };
  }

  private async runtimeDelete(id: string): Promise<void> {
    try {
      await this.o.runtime.delete(id, true);
    } catch (e) {
      if (!(e instanceof NotFoundError)) {
        if (this.pendingDeletes.has(id)) this.o.log(`delete ${id}: ${(e as Error).message}`);
        else throw e;
      }
    }
  }

  private markDeleted(id: string): void {
    try {
      writeFileSync(join(this.o.runtime.root, id, DELETED_MARKER), '');
    } catch {
      // no state directory: nothing for anyone to clean up
    }
  }

  /** Resolves once every deferred runtime cleanup has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.pendingDeletes.values());
  }

  state(r: IdExec): object {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    let status: number = TaskStatus[p.status === 'created' ? 'CREATED' : p.status === 'running' ? 'RUNNING' : 'STOPPED'];
    if (p.status === 'running' && !p.execId && c.paused) status = TaskStatus.PAUSED;
    return {
      id: p.execId || c.id,
      bundle: c.bundle,
      pid: p.pid,
      status,
      stdin: p.paths.stdin,
      stdout: p.paths.stdout,
      stderr: p.paths.stderr,
      terminal: p.paths.terminal,
      exit_status: p.exitStatus,
      exited_at: p.exitedAt ? timestamp(p.exitedAt) : undefined,
      exec_id: p.execId,
    };
  }

  pids(id: string): object {
    const c = this.container(id);
    const pids = c.init.status === 'stopped' ? [] : this.o.runtime.pids(id);
    return { processes: pids.map((pid) => ({ pid })) };
  }

  async pause(id: string): Promise<object> {
    this.container(id);
    await this.o.runtime.pause(id);
    this.container(id).paused = true;
    this.o.publisher.publish(Topic.paused, { container_id: id });
    return {};
  }

  async resume(id: string): Promise<object> {
    this.container(id);
    await this.o.runtime.resume(id);
    this.container(id).paused = false;
    this.o.publisher.publish(Topic.resumed, { container_id: id });
    return {};
  }

  async kill(r: KillRequest): Promise<object> {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    if (p.execId) {
      if (p.status !== 'running') throw new TtrpcError(Code.NOT_FOUND, `process ${p.execId}: process already finished`);
      try {
        process.kill(p.pid, r.signal);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') throw new TtrpcError(Code.NOT_FOUND, `process ${p.execId}: process already finished`);
        throw e;
      }
      return {};
    }
    if (p.status === 'stopped') throw new TtrpcError(Code.NOT_FOUND, `container ${c.id}: process already finished`);
    try {
      await this.o.runtime.kill(c.id, r.signal, r.all);
    } catch (e) {
      if (e instanceof StateError && /not running/.test(e.message)) throw new TtrpcError(Code.NOT_FOUND, `container ${c.id}: process already finished`);
      throw e;
    }
    return {};
  }

  exec(r: ExecProcessRequest): object {
    const c = this.container(r.id);
    if (c.execs.has(r.exec_id) || !r.exec_id) throw new TtrpcError(Code.ALREADY_EXISTS, `exec ${r.exec_id}: already exists`);
    if (c.init.status === 'stopped') throw new TtrpcError(Code.FAILED_PRECONDITION, `container ${c.id} is not running`);
    if (!r.spec) throw new TtrpcError(Code.INVALID_ARGUMENT, 'exec: no process spec');
    let value: unknown;
    try {
      value = JSON.parse(r.spec.value.toString('utf8'));
    } catch (e) {
      throw new TtrpcError(Code.INVALID_ARGUMENT, `exec: process spec is not JSON: ${(e as Error).message}`);
    }
    const spec = validateSpec({ ociVersion: '1.0.0', root: { path: 'rootfs' }, process: value }, `exec ${r.exec_id}`).process!;
    const p = newProc(r.exec_id, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal });
    p.spec = spec;
    c.execs.set(r.exec_id, p);
    this.o.publisher.publish(Topic.execAdded, { container_id: c.id, exec_id: r.exec_id });
    return {};
  }

  resizePty(r: ResizePtyRequest): object {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    const fd = p.io?.terminalFd;
    if (fd === undefined) throw new TtrpcError(Code.FAILED_PRECONDITION, `process ${r.exec_id || r.id} has no terminal`);
    try {
      setWindowSize(fd, r.height, r.width);
    } catch (e) {
      if (p.status !== 'stopped') throw e;
    }
    return {};
  }

  closeIO(r: CloseIORequest): object {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    if (r.stdin) p.io?.closeStdin();
    return {};
  }

  async update(r: UpdateTaskRequest): Promise<object> {
    this.container(r.id);
    if (!r.resources) throw new TtrpcError(Code.INVALID_ARGUMENT, 'update: no resources');
    let res: LinuxResources;
    try {
      res = JSON.parse(r.resources.value.toString('utf8')) as LinuxResources;
    } catch (e) {
      throw new TtrpcError(Code.INVALID_ARGUMENT, `update: resources are not JSON: ${(e as Error).message}`);
    }
    await this.o.runtime.update(r.id, res);
    return {};
  }

  async wait(r: IdExec): Promise<object> {
    const c = this.container(r.id);
    const p = this.proc(c, r.exec_id);
    await p.done;
    return { exit_status: p.exitStatus, exited_at: p.exitedAt ? timestamp(p.exitedAt) : undefined };
  }

  stats(id: string): object {
    this.container(id);
    const s = this.o.runtime.stats(id);
    // Where the memory controller is on cgroup v2 (a unified host) containerd expects v2 metrics.
    if (this.cgroupMode() === 'unified') return { stats: packAny(T.MetricsV2, statsToMetricsV2(s.stats, s.oomKills)) };
    return { stats: packAny(T.Metrics, statsToMetrics(s.stats, s.oomKills)) };
  }

  private mode?: string;
  private cgroupMode(): string {
    return (this.mode ??= readCgroupLayout().mode);
  }

  connect(id: string): object {
    const c = this.containers.get(id);
    return { shim_pid: process.pid, task_pid: c?.init.pid ?? 0, version: '' };
  }

  // ---- background ----

  /** OOM kills (TaskOOM events) and the exits of adopted processes. */
  private checkOom(c: Container): void {
    if (c.cgroup === undefined && !c.adopted) c.cgroup = this.cgroupOf(c.id);
    if (!c.cgroup) return;
    let n = 0;
    try {
      n = oomKillCount(c.cgroup);
    } catch {
      // gone
    }
    if (n > c.oomKills) {
      c.oomKills = n;
      this.o.publisher.publish(Topic.oom, { container_id: c.id });
    }
  }

  private poll(): void {
    for (const c of [...this.containers.values()]) {
      if (c.init.status === 'stopped') {
        // Deleted behind our back (containerd's `<shim> delete` after it lost
        // its connection to us): forget it.
        if (!this.pendingDeletes.has(c.id) && !existsSync(join(this.o.runtime.root, c.id))) this.forget(c);
        continue;
      }
      this.checkOom(c);
      if (c.adopted) {
        try {
          const st = this.o.runtime.stored(c.id);
          if (!initAlive(st)) void this.exited(c, c.init, UNKNOWN_EXIT);
        } catch {
          void this.exited(c, c.init, UNKNOWN_EXIT);
        }
      }
    }
  }

  /** A restarted shim takes over the containers left in its state root
   * (and finishes deleting those its predecessor had deleted). */
  adopt(): string[] {
    const out: string[] = [];
    for (const s of this.o.runtime.list()) {
      if (this.containers.has(s.id)) continue;
      if (existsSync(join(this.o.runtime.root, s.id, DELETED_MARKER))) {
        this.pendingDeletes.set(s.id, this.runtimeDelete(s.id).catch(() => {}).finally(() => this.pendingDeletes.delete(s.id)));
        continue;
      }
      const init = newProc('', { stdin: '', stdout: '', stderr: '', terminal: false });
      init.pid = s.pid;
      init.started = s.status !== 'created';
      if (s.status === 'stopped') {
        init.status = 'stopped';
        init.exitStatus = UNKNOWN_EXIT;
        init.exitedAt = new Date();
        init.markDone();
      } else {
        init.status = s.status === 'created' || s.status === 'creating' ? 'created' : 'running';
      }
      const c: Container = {
        id: s.id,
        bundle: s.bundle,
        rootfs: join(s.bundle, 'rootfs'),
        mounted: false,
        init,
        execs: new Map(),
        oomKills: 0,
        paused: s.status === 'paused',
        adopted: true,
      };
      c.cgroup = this.cgroupOf(s.id);
      if (c.cgroup) c.oomKills = oomKillCount(c.cgroup);
      this.containers.set(s.id, c);
      out.push(s.id);
    }
    if (out.length) this.changed();
    return out;
  }

  private forget(c: Container): void {
    c.init.io?.close();
    for (const e of c.execs.values()) e.io?.close();
    if (c.mounted || c.adopted) unmountQuietly(c.rootfs, this.o.log);
    this.containers.delete(c.id);
    this.changed();
  }
}

/** Creates the container's cgroup the way the runtime will (it finds it
 * there), if it does not exist yet; returns it so a failed Create can remove
 * it. Best effort: the runtime reports any real problem. */
function precreateCgroup(id: string, bundle: string): CgroupManager | undefined {
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux?: { cgroupsPath?: string } };
    const cg = new CgroupManager(readCgroupLayout(), resolveCgroupPath(spec.linux?.cgroupsPath, id));
    if (cg.exists()) return undefined;
    cg.create();
    return cg;
  } catch {
    return undefined;
  }
}

function unmountQuietly(path: string, log: (m: string) => void): void {
  try {
    unmountRootfs(path);
  } catch (e) {
    log(`unmount ${path}: ${(e as Error).message}`);
  }
}
