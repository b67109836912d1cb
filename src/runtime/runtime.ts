// The container lifecycle as a library: create, start, run, state, list,
// kill, delete. The CLI is a thin layer over this; a long-lived process (a
// shim) can drive many containers through one Runtime.
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CgroupManager, resolveCgroupPath } from '../cgroups/manager';
import { subCgroupTargets } from '../cgroups/sub-cgroup';
import { readCgroupLayout, type CgroupLayout } from '../cgroups/hierarchy';
import { applyResources } from '../cgroups/resources';
import { isLenient } from '../oci/annotations';
import { freeze, isFrozen, thaw } from '../cgroups/freezer';
import { readStats, type Stats } from '../cgroups/stats';
import { oomKillCount } from '../cgroups/oom';
import { mergeResources } from '../cgroups/update';
import { ConfigError, StateError, TsrunError, UnsafePathError } from '../errors';
import { currentIdentity, mapMethod, setgroupsAllowed, writeIdMaps } from '../namespaces/idmap';
import type { NetworkRequest } from '../network/config';
import type { ContainerStatus, LinuxResources, Process, Spec, State } from '../oci/types';
import { parseConfig } from '../oci/validate';
import { buildExecPlan, buildInitPlan } from './build-plan';
import type { CgroupTargets } from './cgroup-steps';
import { runHooks, runHooksWarn } from './hooks';
import { validateContainerId } from './id';
import { adoptInit, spawnInit, type Launched, type PendingInit, type SpawnOptions } from '../init/driver';
import { ctrlFdNumber, type StdioEntry } from '../init/fds';
import { PidFile } from './pid-file';
import { Rollback } from './rollback';
import type { EarlyInit } from '../init/early-init';
import type { ConsolePair } from './pty';
import { procStat } from '../sys/proc';
import { mark } from '../sys/trace';
import {
  claimDir,
  containerDir,
  containerExists,
  DEFAULT_ROOT,
  deriveStatus,
  fifoPath,
  initAlive,
  listIds,
  OCI_VERSION,
  readState,
  removeDir,
  type StoredState,
  withLock,
  writeState,
} from './state';

export interface RuntimeOptions {
  /** State directory root (runc's --root). */
  root?: string;
  /** Where warnings go (the CLI logs them). */
  warn?: (msg: string) => void;
  /** Where debug lines go (--debug); none when absent. */
  debug?: (msg: string) => void;
  /** --systemd-cgroup: new containers get their cgroup from systemd (a
   * transient scope); later commands follow what the state records. */
  systemdCgroup?: boolean;
}

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** This process's fds 3..3+n-1 go to the container: they must be ones
   * the caller opened (the CLI checks what its own caller passed). */
  preserveFds?: number;
  stdio?: [StdioEntry, StdioEntry, StdioEntry];
  // --network NAME and --publish SPEC (else the
  // io.github.tsrun.network / io.github.tsrun.publish annotations).
  network?: string;
  publish?: string[];
  /** An init the tsrun command started before Node, used when it fits. */
  earlyInit?: EarlyInit;
}

export type Status = ContainerStatus | 'paused';

/** `tsrun state` output: the spec's state plus runc's extra fields. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** What createInternal is asked for (by create, createWatched and run). */
interface CreateRequest {
  id: string;
  opts: CreateOptions;
  /** Stage 0 stays as a relay that exits with the container's status. */
  relay: boolean;
  /** A terminal relayed in the foreground: the init sends the master here. */
  pair?: ConsolePair;
  /** The spec, when the caller has loaded it already. */
  spec?: Spec;
  /** No exec fifo: the init goes on from READY to the user's program. */
  startNow?: boolean;
}

/** What prepareCreate found and computed, before anything exists. */
interface PreparedCreate {
  req: CreateRequest;
  id: string;
  spec: Spec;
  bundle: string;
  rootfs: string;
  dir: string;
  cgroupPath: string;
  cg: CgroupManager;
  cgroupExisted: boolean;
  /** --systemd-cgroup: the container's unit. */
  systemd?: import('../cgroups/systemd-driver').SystemdCgroup;
  /** The plan for these cgroup targets (none: rootless without a cgroup). */
  planFor: (cgroupTargets: CgroupTargets | undefined) => InitPlan;
  plan: InitPlan['plan'];
  idmapSources: InitPlan['idmapSources'];
  hasUserns: boolean;
  mapping: ReturnType<typeof mapMethod>;
  slirp: boolean;
  netReq: NetworkRequest | undefined;
}

/** What provision set up. */
interface Provisioned {
  pidFile: PidFile | undefined;
  state: StoredState;
  init: PendingInit;
  plan: InitPlan['plan'];
  idmapSources: InitPlan['idmapSources'];
}

type InitPlan = ReturnType<typeof buildInitPlan>;

export class Runtime {
  readonly root: string;
  private readonly warn: (msg: string) => void;
  private readonly debug: (msg: string) => void;

  private readonly me = currentIdentity();
  private layout?: CgroupLayout;

  /** The host's cgroup mounts, read once per Runtime: they are set up at
   * boot, and one `run` would otherwise parse mountinfo for create and delete. */
  private cgroupLayout(): CgroupLayout {
    return (this.layout ??= readCgroupLayout());
  }

  constructor(private readonly opts: RuntimeOptions = {}) {
    this.root = opts.root ?? defaultRoot();
    this.warn = opts.warn ?? (() => {});
    this.debug = opts.debug ?? (() => {});
  }

  /** Run by an unprivileged user: cgroups only where delegated, maps via newuidmap. */
  get rootless(): boolean {
    return this.me.uid !== 0;
  }

  /** Sets the container up and leaves its init waiting for `start`. */
  async create(id: string, opts: CreateOptions): Promise<{ pid: number }> {
    const c = await this.createInternal({ id, opts, relay: false });
    return { pid: c.pid };
  }

  /** For a long-lived caller (a shim): create, and keep a small native relay
   * as our child that exits with the container's status, so the exit code
   * arrives as a promise without reaping other processes' children. */
  async createWatched(id: string, opts: CreateOptions): Promise<{ pid: number; exited: Promise<number> }> {
    const c = await this.createInternal({ id, opts, relay: true });
    return { pid: c.pid, exited: c.exited };
  }

  /** exec for a long-lived caller: resolves once the process runs, with its
   * pid and a promise of its exit code (it keeps a native relay as our child). */
  async execWatched(
    id: string,
    proc: Process,
    opts: { pidFile?: string; consoleSocket?: string; stdio?: [StdioEntry, StdioEntry, StdioEntry] } = {},
  ): Promise<{ pid: number; exited: Promise<number> }> {
    validateContainerId(id);
    return this.lockedLaunch(id, false, (st, pidKnown) => this.launchExec(st, proc, opts, undefined, pidKnown));
  }

  /** Reads the state and starts an exec'd process under the container's
   * lock, held until the process exists: a delete cannot remove the
   * container in between. Not until the process is ready: in a paused
   * container it waits frozen for a `resume`, which takes the lock too. */
  private async lockedLaunch(
    id: string,
    ignorePaused: boolean,
    launch: (st: StoredState, pidKnown: () => void) => Promise<Launched>,
  ): Promise<Launched> {
    let launching: Promise<Launched> | undefined;
    await withLock(containerDir(this.root, id), () => new Promise<void>((pidKnown, failed) => {
      const st = readState(this.root, id);
      const status = this.statusOf(st);
      if (status === 'paused' && !ignorePaused) throw new StateError(`cannot exec in a paused container (use --ignore-paused to override)`);
      // As runc: a created container (its init waiting for start) takes exec too.
      if (status !== 'running' && status !== 'paused' && status !== 'created') throw new StateError(`cannot exec in a ${status} container`);
      launching = launch(st, pidKnown);
      launching.then(() => pidKnown(), failed);
    }));
    return launching!;
  }

  /** create + start; in the foreground resolves with the exit code (128+signal
   * when killed) after the container has been deleted (unless keep). */
  async run(
    id: string,
    opts: CreateOptions & { detach?: boolean; keep?: boolean; onStarted?: (pid: number) => void },
  ): Promise<number> {
    // A terminal in the foreground without a console socket: we relay it.
    // Parsed once here, used by createInternal too.
    const spec = loadBundle(resolve(opts.bundle));
    const pair = !opts.detach && !opts.consoleSocket && spec.process?.terminal ? new (lazy.pty().ConsolePair)() : undefined;
    let stopRelay: (() => Promise<void>) | undefined;
    // Without a terminal to relay, nothing has to happen between create and
    // start, so the init goes on to the user's program at once: no exec fifo
    // for a `start` to open. (With one, the relay is set up first.)
    const startNow = !pair;
    try {
      const c = await this.createInternal({ id, opts, relay: !opts.detach, pair, spec, startNow });
      if (pair && c.master !== undefined) stopRelay = lazy.pty().relayTerminal(pair, c.master);
      try {
        if (startNow) await this.poststart(c.state);
        else await this.start(id);
      } catch (e) {
        await this.delete(id, true).catch(() => {});
        throw e;
      }
      mark('run: started');
      if (opts.detach) return 0;
      opts.onStarted?.(c.pid);
      const code = await c.exited;
      mark('run: exited');
      await stopRelay?.();
      stopRelay = undefined;
      if (!opts.keep) await this.delete(id, true);
      mark('run: deleted');
      return code;
    } finally {
      await stopRelay?.();
      pair?.close();
    }
  }

  /** Creates the container's cgroup. Rootless, a cgroup tree we may not
   * write is not an error: limits are skipped with a warning, as runc does. */
  private setUpCgroup(cg: CgroupManager, spec: Spec): boolean {
    try {
      cg.create();
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!this.rootless || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) throw e;
      const res = spec.linux?.resources;
      const asked = res && Object.keys(res).some((k) => k !== 'devices');
      if (asked) this.warn(`rootless: no writable cgroup for this user (${code}): linux.resources limits are not applied`);
      return false;
    }
  }

  /** Creates a container in three stages: prepare (every check and the
   * plan, nothing touched), provision (pid file, state directory, the init
   * started, cgroups), launch (the plan run; while the init waits, what
   * needs its pid: id maps, networking, hooks). Each thing set up registers
   * its undo on one rollback list, run if any stage fails: a failed create
   * leaves nothing behind. */
  private async createInternal(req: CreateRequest) {
    mark('create: begin');
    const p = this.prepareCreate(req);
    mark('create: plan built');
    const rollback = new Rollback();
    try {
      const prov = this.provision(p, rollback);
      return await this.launch(p, prov, rollback);
    } catch (e) {
      await rollback.run();
      throw e;
    }
  }

  /** The checks and the plan: no side effects, so bad config leaves nothing behind. */
  private prepareCreate(req: CreateRequest): PreparedCreate {
    const { id, opts } = req;
    validateContainerId(id);
    const bundle = resolve(opts.bundle);
    const spec = req.spec ?? loadBundle(bundle);
    const rootfs = resolve(bundle, spec.root!.path);
    let rootStat;
    try {
      rootStat = statSync(rootfs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new ConfigError(`rootfs ${rootfs} cannot be reached by this user: permission denied`);
      throw new ConfigError(`rootfs ${rootfs} does not exist (root.path in ${join(bundle, 'config.json')})`);
    }
    if (!rootStat.isDirectory()) throw new ConfigError(`rootfs ${rootfs} is not a directory`);
    try {
      accessSync(rootfs, constants.R_OK | constants.X_OK);
    } catch {
      throw new ConfigError(`rootfs ${rootfs} cannot be read by this user: permission denied`);
    }
    const seccomp = compileProfile(spec);

    const linux = spec.linux ?? {};
    if (this.rootless && !(linux.namespaces ?? []).some((n) => n.type === 'user')) {
      throw new ConfigError('running tsrun as an unprivileged user needs a user namespace in config.json (`tsrun spec --rootless` writes one)');
    }
    const hasUserns = (linux.namespaces ?? []).some((n) => n.type === 'user' && !n.path);
    if (linux.netDevices) lazy.netDevices().checkNetDevices(linux.netDevices, { netns: (linux.namespaces ?? []).some((n) => n.type === 'network'), rootless: this.rootless });
    const mapping = hasUserns ? mapMethod(linux.uidMappings ?? [], linux.gidMappings ?? [], this.me) : 'direct';
    const dir = containerDir(this.root, id);
    const cgroups = this.cgroupLayout();
    const systemd = this.opts.systemdCgroup ? lazy.systemd().systemdCgroupFor(spec.linux?.cgroupsPath, id, this.rootless) : undefined;
    const cgroupPath = systemd ? systemd.path : resolveCgroupPath(spec.linux?.cgroupsPath, id);
    const fifo = fifoPath(dir);
    const cg = new CgroupManager(cgroups, cgroupPath);
    // A cgroup that was there before is not ours to remove on failure (it may
    // be frozen on purpose, or shared with other processes), as with runc.
    const cgroupExisted = cg.exists();
    const planFor = (cgroupTargets: CgroupTargets | undefined) => buildInitPlan({
      spec,
      bundle,
      rootfs,
      fifo: req.startNow ? undefined : fifo,
      consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      consoleFd: req.pair ? ctrlFdNumber(opts.preserveFds ?? 0) + 1 : undefined,
      preserveFds: opts.preserveFds ?? 0,
      noPivot: !!opts.noPivot,
      noNewKeyring: !!opts.noNewKeyring,
      relay: req.relay,
      id,
      cgroups,
      cgroupPath,
      warn: this.warn,
      seccomp,
      setgroupsAllowed: setgroupsAllowed(mapping, this.me),
      privileged: !this.rootless,
      cgroupTargets,
    });
    const { plan, idmapSources } = planFor(cg.targets());

    // Networking, checked before anything exists: slirp4netns (user-mode
    // networking, rootless podman's default) or a bridge network.
    const slirp = (opts.network ?? spec.annotations?.['io.github.tsrun.network']) === 'slirp4netns';
    if (slirp) {
      lazy.slirp().slirpBinary();
      if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'network' && !n.path)) {
        throw new ConfigError('--network slirp4netns needs a new network namespace in linux.namespaces');
      }
    } else if (this.rootless && wantsNetwork(spec, opts)) {
      throw new ConfigError('bridge networks need root; an unprivileged user can use --network slirp4netns');
    }
    const netReq = !slirp && wantsNetwork(spec, opts) ? lazy.network().resolveNetwork(spec, { network: opts.network, publish: opts.publish }, this.root) : undefined;
    return { req, id, spec, bundle, rootfs, dir, cgroupPath, cg, cgroupExisted, systemd, planFor, plan, idmapSources, hasUserns, mapping, slirp, netReq };
  }

  /** The pid file's temporary file, the state directory, the init (started
   * now: it waits for its plan, so its start-up overlaps the rest), the
   * state written, the cgroups set up. */
  private provision(p: PreparedCreate, rollback: Rollback): Provisioned {
    const { id, spec, req } = p;
    const opts = req.opts;
    // Before the state directory: a pid file that cannot be written leaves nothing behind.
    const pidFile = opts.pidFile ? PidFile.prepare(resolve(opts.pidFile)) : undefined;
    if (pidFile) rollback.add('pid file', () => pidFile.discard());
    claimDir(this.root, id);
    rollback.add('state directory', () => removeDir(p.dir));
    this.debug('setns_init: about to exec the process (it reported ready)');
    const state: StoredState = {
      ociVersion: OCI_VERSION,
      id,
      pid: 0,
      pidStartTime: 0,
      bundle: p.bundle,
      rootfs: p.rootfs,
      created: new Date().toISOString(),
      phase: 'creating',
      cgroupPath: p.cgroupPath,
      ...(p.systemd ? { cgroupDriver: 'systemd' as const, systemdUnit: p.systemd.unit } : {}),
      owner: process.getuid?.() ?? 0,
      config: spec,
      annotations: spec.annotations,
    };
    // The early init, or a fresh one.
    const init = startInit(opts.earlyInit, {
      stdio: opts.stdio ?? ['inherit', 'inherit', 'inherit'],
      preserveFds: opts.preserveFds ?? 0,
      extraFds: req.pair ? [req.pair.theirs] : [],
      spawnsHelpers: spawnsHelpers(spec, opts, this.rootless),
    });
    rollback.add('init', () => init.abort());
    writeState(p.dir, state);
    let { plan, idmapSources } = p;
    if (!p.cgroupExisted) rollback.add('cgroup', () => p.cg.destroy().catch(() => {}));
    if (this.setUpCgroup(p.cg, spec)) {
      if (p.cgroupExisted) checkPreexistingCgroup(p.cg, this.warn);
      // With systemd the limits are written once its unit exists (it would
      // overwrite them): in onInitPid, while the init waits.
      if (!p.systemd) this.applyCreateResources(p);
    } else {
      state.cgroupPath = '';
      ({ plan, idmapSources } = p.planFor(undefined));
    }
    return { pidFile, state, init, plan, idmapSources };
  }

  /** Device rules are linux.resources.devices and the defaults only: a
   * node in linux.devices is not allowed by being listed (as runc). */
  private applyCreateResources(p: PreparedCreate): void {
    const spec = p.spec;
    applyResources(p.cg, spec.linux?.resources, { warn: this.warn, lenient: isLenient(spec.annotations), skipDevices: this.rootless, devicePaths: (spec.linux?.devices ?? []).map((d) => d.path) });
  }

  /** --systemd-cgroup, right after the clone (the init waits for its plan to
   * go on): the transient unit started with the init's pid (its cgroup is
   * the directory the init was cloned into; systemd adopts it and the pid),
   * then the limits systemd does not cover written to the files. */
  private async startSystemdUnit(p: PreparedCreate, pid: number, rollback: Rollback): Promise<void> {
    const sd = lazy.systemd();
    const unit = p.systemd!.unit;
    rollback.add('systemd unit', () => sd.stopUnit(unit).catch((e: Error) => this.warn(e.message)));
    const spec = p.spec;
    await sd.startUnit(p.systemd!, p.id, {
      pid,
      layout: p.cg.layout,
      resources: spec.linux?.resources,
      devicePaths: (spec.linux?.devices ?? []).map((d) => d.path),
      skipDevices: this.rootless,
      warn: this.warn,
    });
    mark('create: systemd unit started');
    this.applyCreateResources(p);
  }

  /** Runs the plan; the init waits after clone while onInitPid sets up what
   * needs its pid. Resolves once the init is ready (created). */
  private async launch(p: PreparedCreate, prov: Provisioned, rollback: Rollback) {
    const { state, plan } = prov;
    // The phrases runc's debug lines have (its bats suite looks for them).
    this.debug(`nsexec container setup: the native init of ${p.id} runs a plan of ${plan.steps.length} steps`);
    const launched = await prov.init.run(plan, (pid) => this.onInitPid(p, prov, pid, rollback));
    mark('create: init ready');
    this.debug('init: closing the pipe to signal completion (the init reported ready)');
    state.phase = 'created';
    writeState(p.dir, state);
    prov.pidFile?.commit(launched.pid);
    let master: number | undefined;
    const pair = p.req.pair;
    if (pair) {
      master = pair.receiveMaster();
      pair.closeTheirs();
    }
    return { pid: launched.pid, exited: launched.exited, master, state };
  }

  /** While the init waits: its pid recorded, id maps, slirp4netns or the
   * bridge network, the prestart and createRuntime hooks, id-mapped mounts. */
  private async onInitPid(p: PreparedCreate, prov: Provisioned, pid: number, rollback: Rollback) {
    const { spec, dir } = p;
    const { state } = prov;
    const linux = spec.linux ?? {};
    mark('create: init pid');
    this.debug(`child process in init(): the container's init is pid ${pid}`);
    state.pid = pid;
    if (pid > 0) rollback.add('container process', () => killQuietly(pid, 9));
    state.pidStartTime = procStat(pid)?.startTime ?? 0;
    writeState(dir, state);
    if (p.systemd && state.cgroupPath) await this.startSystemdUnit(p, pid, rollback);
    if (p.hasUserns) writeIdMaps(pid, linux.uidMappings ?? [], linux.gidMappings ?? [], p.mapping, this.me);
    if (p.slirp) {
      state.slirpPid = await lazy.slirp().startSlirp(pid);
      if (state.slirpPid) rollback.add('slirp', () => lazy.slirp().stopSlirp(state.slirpPid));
      writeState(dir, state);
    }
    const netReq = p.netReq;
    if (netReq) {
      rollback.add('network', () => lazy.network().detachNetwork(dir).catch(() => {}));
      // A veth into the init's new network namespace; the lease recorded.
      state.network = await lazy.network().attachNetwork(netReq, { owner: dir, pid, warn: this.warn });
      writeState(dir, state);
    }
    // Host devices into the container (never moved back: the kernel does that).
    if (linux.netDevices) lazy.netDevices().moveNetDevices(linux.netDevices, pid);
    const hookState = this.hookState(state, 'creating');
    await runHooks('prestart', spec.hooks?.prestart, hookState);
    await runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
    const fds = prov.idmapSources.map((src) => lazy.idmap().makeIdmappedMount(src, `/proc/${pid}/ns/user`));
    return { state: JSON.stringify(hookState), agent: agentMessage(spec, pid, hookState), fds };
  }

  /** Releases a created container's init to execute the user's program. */
  async start(id: string): Promise<void> {
    validateContainerId(id);
    const dir = containerDir(this.root, id);
    const st = await withLock(dir, async () => {
      const st = readState(this.root, id);
      const status = this.statusOf(st);
      if (status !== 'created') {
        throw new StateError(
          status === 'stopped' ? `cannot start a container that has stopped` : `cannot start a container in the ${status} state`,
        );
      }
      await releaseFifo(fifoPath(dir), st);
      return st;
    });
    await this.poststart(st);
  }

  /** poststart hooks: as runc does (and runtime-spec 1.3 says), a failing
   * one fails the start and the container is killed. */
  private async poststart(st: StoredState): Promise<void> {
    if (!st.config.hooks?.poststart?.length) return;
    // The spec: after the user's program is executed. The init runs the
    // startContainer hooks and execs on its own once released.
    await execed(st.pid);
    try {
      await runHooks('poststart', st.config.hooks?.poststart, this.hookState(st, 'running'));
    } catch (e) {
      await this.kill(st.id, 9).catch(() => {});
      throw e;
    }
  }

  /** Starts another process in a running container. In the foreground it
   * resolves with the process's exit code; detached, with 0 once it runs. */
  async exec(
    id: string,
    proc: Process,
    opts: {
      detach?: boolean;
      pidFile?: string;
      consoleSocket?: string;
      preserveFds?: number;
      ignorePaused?: boolean;
      /** exec --cgroup: sub-cgroups to join, by controller ("" for all). */
      subCgroups?: Map<string, string>;
      stdio?: [StdioEntry, StdioEntry, StdioEntry];
      onStarted?: (pid: number) => void;
      /** An init the tsrun command started before Node, used when it fits. */
      earlyInit?: EarlyInit;
    } = {},
  ): Promise<number> {
    validateContainerId(id);
    const pair = proc.terminal && !opts.consoleSocket && !opts.detach ? new (lazy.pty().ConsolePair)() : undefined;
    try {
      const launched = await this.lockedLaunch(id, !!opts.ignorePaused, (st, pidKnown) => this.launchExec(st, proc, opts, pair, pidKnown));
      return await this.waitExec(launched, opts, pair);
    } finally {
      pair?.close();
    }
  }

  /** The foreground part of exec: relays the terminal, waits for the exit code. */
  private async waitExec(launched: Launched, opts: Parameters<Runtime['exec']>[2] & {}, pair: ConsolePair | undefined): Promise<number> {
    if (opts.detach) return 0;
    let stopRelay: (() => Promise<void>) | undefined;
    if (pair) {
      const master = pair.receiveMaster();
      pair.closeTheirs();
      stopRelay = lazy.pty().relayTerminal(pair, master);
    }
    opts.onStarted?.(launched.pid);
    const code = await launched.exited;
    await stopRelay?.();
    return code;
  }

  /** Starts an exec'd process; resolves once it is about to execve. */
  private async launchExec(
    st: StoredState,
    proc: Process,
    opts: Parameters<Runtime['exec']>[2] & {},
    pair: ConsolePair | undefined,
    pidKnown: () => void = () => {},
  ): Promise<{ pid: number; exited: Promise<number> }> {
    const plan = buildExecPlan({
      process: proc,
      initPid: st.pid,
      initStartTime: st.pidStartTime,
      spec: st.config,
      consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      consoleFd: pair ? ctrlFdNumber(opts.preserveFds ?? 0) + 1 : undefined,
      preserveFds: opts.preserveFds ?? 0,
      relay: !opts.detach,
      warn: this.warn,
      seccomp: compileProfile(st.config),
      setgroupsAllowed: setgroupsOf(st.pid),
      cgroupTargets: st.cgroupPath
        ? opts.subCgroups?.size
          ? subCgroupTargets(this.cgroupLayout(), st.cgroupPath, opts.subCgroups)
          : new CgroupManager(this.cgroupLayout(), st.cgroupPath).targets()
        : undefined,
    });
    const pidFile = opts.pidFile ? PidFile.prepare(resolve(opts.pidFile)) : undefined;
    this.debug(`nsexec container setup: a native init joins ${st.id}, ${plan.steps.length} steps`);
    let launched: Launched;
    try {
      const init = startInit(opts.earlyInit, {
        stdio: opts.stdio ?? ['inherit', 'inherit', 'inherit'],
        preserveFds: opts.preserveFds ?? 0,
        extraFds: pair ? [pair.theirs] : [],
        spawnsHelpers: this.rootless,
      });
      launched = await init.run(plan, async (pid) => {
        this.debug(`child process in init(): the exec'd process is pid ${pid}`);
        pidKnown();
        return { agent: agentMessage(st.config, pid, this.hookState(st, 'running')) };
      });
    } catch (e) {
      pidFile?.discard();
      throw e;
    }
    this.debug('setns_init: about to exec the process (it reported ready)');
    try {
      pidFile?.commit(launched.pid);
    } catch (e) {
      // As runc: a process whose pid could not be recorded does not stay.
      killQuietly(launched.pid, 9);
      await launched.exited;
      throw e;
    }
    return launched;
  }

  /** The stored record of a container (its config, rootfs, cgroup). */
  stored(id: string): StoredState {
    validateContainerId(id);
    return readState(this.root, id);
  }

  /** Host pids of every process in the container. */
  pids(id: string): number[] {
    const st = this.stored(id);
    const status = this.statusOf(st);
    if (status === 'stopped') return [];
    if (!st.cgroupPath) return descendants(st.pid);
    return new CgroupManager(this.cgroupLayout(), st.cgroupPath).pids();
  }

  /** Read under the container's lock: no half-done start, update or delete is seen. */
  async state(id: string): Promise<ContainerState> {
    validateContainerId(id);
    return withLock(containerDir(this.root, id), () => this.stateOf(id));
  }

  /** The state without the lock (list: one lock per container would cost more than it tells). */
  private stateOf(id: string): ContainerState {
    const st = readState(this.root, id);
    const status = this.statusOf(st);
    return {
      ociVersion: st.ociVersion,
      id: st.id,
      pid: status === 'stopped' ? 0 : st.pid,
      status,
      bundle: st.bundle,
      rootfs: st.rootfs,
      created: st.created,
      owner: ownerName(st.owner),
      ...(st.annotations && Object.keys(st.annotations).length ? { annotations: st.annotations } : {}),
    };
  }

  list(): ContainerState[] {
    const out: ContainerState[] = [];
    for (const id of listIds(this.root)) {
      try {
        validateContainerId(id);
        out.push(this.stateOf(id));
      } catch (e) {
        if (e instanceof UnsafePathError) throw e;
        // removed while we looked, or not a container directory
      }
    }
    return out;
  }

  /** Signals under the container's lock, so that a delete cannot tear the
   * container down between the status check and the signal. */
  async kill(id: string, signal: number, all = false): Promise<void> {
    validateContainerId(id);
    await withLock(containerDir(this.root, id), () => {
      const st = readState(this.root, id);
      // --all signals what is in the cgroup, whatever the init's state (runc too).
      if (all && st.cgroupPath) {
        new CgroupManager(this.cgroupLayout(), st.cgroupPath).signalAll(signal);
        return;
      }
      const status = this.statusOf(st);
      if (status === 'stopped') throw new StateError('container not running');
      if (all) {
        for (const pid of descendants(st.pid)) killQuietly(pid, signal);
        return;
      }
      try {
        process.kill(st.pid, signal);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') throw new StateError('container not running');
        throw e;
      }
    });
  }

  async delete(id: string, force = false): Promise<void> {
    validateContainerId(id);
    const dir = containerDir(this.root, id);
    // runc: --force on a container that does not exist is not an error.
    if (force && !containerExists(this.root, id)) return;
    await withLock(dir, async () => {
      const st = readState(this.root, id);
      const status = this.statusOf(st);
      // Like runc (and what containerd's shim relies on): a created
      // container may be deleted without --force; a running one may not.
      if (status !== 'stopped' && status !== 'created' && !force) {
        throw new StateError(`cannot delete container ${id} that is not stopped: ${status}`);
      }
      if (status !== 'stopped') {
        killQuietly(st.pid, 9);
        // Frozen tasks die only once thawed.
        if (status === 'paused') thaw(this.cgroupOf(st));
        await waitDead(st);
      }
      // As runc: the unit stopped (systemd kills what is left and removes
      // its cgroup), then whatever sub-cgroups remain.
      if (st.systemdUnit) await lazy.systemd().stopUnit(st.systemdUnit).catch((e: Error) => this.warn(e.message));
      if (st.cgroupPath) await new CgroupManager(this.cgroupLayout(), st.cgroupPath).destroy();
      // Networking: veth, rules and lease (found by owner, so also after a crashed create).
      if (st.slirpPid) await lazy.slirp().stopSlirp(st.slirpPid);
      // A crashed create may have a lease it never recorded: look for it by owner.
      if (st.network || (st.phase === 'creating' && existsSync(leaseDirPath()))) {
        await lazy.network().detachNetwork(dir).catch((e: Error) => this.warn(e.message));
      }
      await runHooksWarn('poststop', st.config.hooks?.poststop, this.hookState(st, 'stopped'), this.warn);
      removeDir(dir);
    });
  }

  private cgroupOf(st: StoredState): CgroupManager {
    if (!st.cgroupPath) throw new StateError(`container "${st.id}" has no cgroup (created rootless without a writable cgroup)`);
    return new CgroupManager(this.cgroupLayout(), st.cgroupPath);
  }

  /** Status from the kernel: init alive, exec fifo, frozen cgroup. */
  private statusOf(st: StoredState): Status {
    return deriveStatus(containerDir(this.root, st.id), st, () => !!st.cgroupPath && isFrozen(this.cgroupOf(st)));
  }

  /** Freezes every process of a running container. */
  async pause(id: string): Promise<void> {
    const dir = containerDir(this.root, id);
    validateContainerId(id);
    await withLock(dir, () => {
      const st = readState(this.root, id);
      const status = this.statusOf(st);
      if (status !== 'running') throw new StateError(status === 'paused' ? 'container already paused' : `container not running (${status})`);
      freeze(this.cgroupOf(st));
    });
  }

  async resume(id: string): Promise<void> {
    const dir = containerDir(this.root, id);
    validateContainerId(id);
    await withLock(dir, () => {
      const st = readState(this.root, id);
      if (this.statusOf(st) !== 'paused') throw new StateError('container not paused');
      thaw(this.cgroupOf(st));
    });
  }

  /** Changes a live container's resource limits and records them. */
  async update(id: string, patch: LinuxResources): Promise<void> {
    const dir = containerDir(this.root, id);
    validateContainerId(id);
    await withLock(dir, async () => {
      const st = readState(this.root, id);
      const status = this.statusOf(st);
      if (status === 'stopped' || status === 'creating') throw new StateError(`cannot update a ${status} container`);
      const merged = mergeResources(st.config.linux?.resources, patch);
      // As runc: the unit's properties first, then the files (which also hold what systemd has no property for).
      if (st.systemdUnit) await lazy.systemd().updateUnit(st.systemdUnit, this.cgroupLayout(), merged, this.warn);
      applyResources(this.cgroupOf(st), merged, { warn: this.warn, lenient: isLenient(st.config.annotations), update: true });
      st.config.linux = { ...(st.config.linux ?? {}), resources: merged };
      writeState(dir, st);
    });
  }

  /** Resource usage, in the shape `runc events --stats` prints. */
  stats(id: string): { stats: Stats; oomKills: number; status: Status } {
    const st = this.stored(id);
    const status = this.statusOf(st);
    if (status === 'stopped') throw new StateError('container not running');
    const cg = this.cgroupOf(st);
    return { stats: readStats(cg), oomKills: oomKillCount(cg), status };
  }

  private hookState(st: StoredState, status: ContainerStatus): State {
    return {
      ociVersion: OCI_VERSION,
      id: st.id,
      status,
      ...(status !== 'stopped' ? { pid: st.pid } : {}),
      bundle: st.bundle,
      annotations: st.annotations ?? {},
    };
  }
}

/** Modules most operations never need, loaded on first use: module start-up
 * is paid on every CLI call. */
const lazy = {
  /* eslint-disable @typescript-eslint/no-require-imports */
  network: () => require('../network/index') as typeof import('../network/index'),
  seccomp: () => require('../seccomp/compile') as typeof import('../seccomp/compile'),
  pty: () => require('./pty') as typeof import('./pty'),
  idmap: () => require('../rootfs/idmap-mount') as typeof import('../rootfs/idmap-mount'),
  slirp: () => require('../network/slirp') as typeof import('../network/slirp'),
  netDevices: () => require('../network/net-devices') as typeof import('../network/net-devices'),
  systemd: () => require('../cgroups/systemd-driver') as typeof import('../cgroups/systemd-driver'),
  /* eslint-enable @typescript-eslint/no-require-imports */
};

/** Resolves once `pid` no longer runs the native init's own protected copy
 * (a memfd, or an unlinked O_TMPFILE file): it has exec'd the user's
 * program, or exited. Polled, for at most 10 s; only for poststart hooks. */
async function execed(pid: number): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return;
    }
    if (!(exe === '/memfd:tsrun-init (deleted)' || /\/#\d+ \(deleted\)$/.test(exe)) || Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A cgroup that already existed: frozen, the init would hang in it (runc
 * refuses); with processes in it, it is shared with something else (runc warns). */
function checkPreexistingCgroup(cg: CgroupManager, warn: (msg: string) => void): void {
  if (isFrozen(cg)) throw new StateError(`container's cgroup unexpectedly frozen (${cg.path}); thaw it or choose another linux.cgroupsPath`);
  const n = cg.pids().length;
  if (n > 0) warn(`container's cgroup is not empty: ${n} process(es) found`);
}

/** The native init for a new process: the early one when it fits, else a
 * fresh one (the early one is then let go). */
function startInit(early: EarlyInit | undefined, o: SpawnOptions & { spawnsHelpers: boolean }): PendingInit {
  if (early?.usableFor({ ...o, extraFds: o.extraFds ?? [] })) return adoptInit(early, o.preserveFds);
  early?.release();
  return spawnInit(o);
}

/** Will the runtime start other programs while the init is being set up or
 * running in the foreground: hooks, networking helpers, newuidmap? */
function spawnsHelpers(spec: Spec, opts: CreateOptions, rootless: boolean): boolean {
  const h = spec.hooks ?? {};
  const hooks = [h.prestart, h.createRuntime, h.poststart, h.poststop].some((list) => (list?.length ?? 0) > 0);
  return hooks || wantsNetwork(spec, opts) || rootless;
}

/** Does this container ask for a network (flag or annotation)? */
function wantsNetwork(spec: Spec, opts: { network?: string; publish?: string[] }): boolean {
  const a = spec.annotations ?? {};
  return !!opts.network || (opts.publish?.length ?? 0) > 0 || 'io.github.tsrun.network' in a || 'io.github.tsrun.publish' in a;
}

/** Where network leases live (src/network/ipam.ts). */
function leaseDirPath(): string {
  return process.env.TSRUN_NET_STATE ?? '/run/tsrun-net';
}

/** The container's seccomp filter, compiled to BPF (undefined without a profile). */
function compileProfile(spec: Spec): { program: Buffer; flags: number; listenerPath?: string } | undefined {
  const profile = spec.linux?.seccomp;
  if (!profile) return undefined;
  const compiled = lazy.seccomp().compileSeccomp(profile);
  if (compiled.notify && !profile.listenerPath) {
    throw new ConfigError('config.json: linux.seccomp uses SCMP_ACT_NOTIFY but has no listenerPath for the seccomp agent');
  }
  return { program: compiled.program, flags: compiled.flags, listenerPath: compiled.notify ? resolve(profile.listenerPath!) : undefined };
}

/** What a seccomp agent receives with the listener fd (runtime-spec's
 * ContainerProcessState). */
function agentMessage(spec: Spec, pid: number, state: State): string | undefined {
  const profile = spec.linux?.seccomp;
  if (!profile?.listenerPath) return undefined;
  return JSON.stringify({ ociVersion: OCI_VERSION, fds: ['seccompFd'], pid, metadata: profile.listenerMetadata ?? '', state });
}

/** runc's default state root, or for an unprivileged user one of its own:
 * $XDG_RUNTIME_DIR/tsrun, else a per-user directory under /tmp. */
export function defaultRoot(): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) return DEFAULT_ROOT;
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg ? join(xdg, 'tsrun') : `/tmp/tsrun-${uid}`;
}

function loadBundle(bundle: string): Spec {
  let text: string;
  const file = join(bundle, 'config.json');
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(existsSync(bundle) ? `bundle ${bundle} has no config.json` : `bundle ${bundle} does not exist`);
    throw new ConfigError(`cannot read ${file}: ${code}`);
  }
  const spec = parseConfig(text, file);
  if (!spec.root?.path) throw new ConfigError(`${file}: root.path is required`);
  return spec;
}

/** Whether the container's user namespace still allows setgroups(2). */
function setgroupsOf(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() !== 'deny';
  } catch {
    return true;
  }
}

/** A process and all its descendants, from /proc (for containers without a cgroup). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = procStat(Number(name))?.ppid; // undefined: exited while we looked
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

function killQuietly(pid: number, sig: number): void {
  try {
    if (pid > 0) process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitDead(st: StoredState, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (initAlive(st)) {
    if (Date.now() > deadline) throw new TsrunError(`container init ${st.pid} did not die after SIGKILL`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Opens the exec fifo without blocking (a dead init must not hang us) and
 * waits for the init's byte: once read, the init is on its way to execve. */
async function releaseFifo(fifo: string, st: StoredState): Promise<void> {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    const tryRead = () => {
      try {
        return readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        return 0;
      }
    };
    for (let spins = 0; ; spins++) {
      if (tryRead() === 1) break;
      if (!initAlive(st)) {
        // It may have written, exec'd and exited since our read: look again.
        if (tryRead() === 1) break;
        throw new StateError('the container init exited before it was started');
      }
      // The init is opening its end: usually a matter of microseconds.
      await new Promise((r) => (spins < 100 ? setImmediate(r) : setTimeout(r, 1)));
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
}

function ownerName(uid: number): string {
  if (uid === 0) return 'root';
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (Number(f[2]) === uid && f[0]) return f[0];
    }
  } catch {
    // no passwd
  }
  return `#${uid}`;
}
