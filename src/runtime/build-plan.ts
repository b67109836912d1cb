// config.json -> the ordered steps of the native init. Every decision about
// what the container gets is made here; the native side only executes.
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError } from '../errors';
import { isLenient } from '../oci/annotations';
import type { Process, Spec } from '../oci/types';
import type { CgroupLayout } from '../cgroups/hierarchy';
import { CLONE, JOIN_ORDER, NS_FLAG, checkNamespaceConfig, mapToHost, planNamespaces, timeOffsetsText, type NamespacePlan } from '../namespaces';
import { addHostSourceClones, addRootfsFinishSteps, addRootfsSteps, type ReadonlyLater } from '../rootfs/mounts';
import { addHookSteps } from './hooks';
import type { IdmapSource } from '../rootfs/idmap-mount';
import { addFinalAffinityStep, addLsmSteps, addMemoryPolicyStep, addProcWrite, addSchedulingSteps, checkLsm, checkSysctls } from './attributes';
import { Plan, Slot, T } from '../init/plan';
import { addCgroupOpens, type CgroupTargets } from './cgroup-steps';
import { addChdirSteps, addStdioOwnerStep, addExecCheckStep, addFinalExecStep, addIdentitySteps, addRlimitSteps, capSets, ownBoundingSet } from './process';

export interface PlanInput {
  spec: Spec;
  bundle: string;
  rootfs: string;
  /** The exec fifo that `start` opens; absent for a process started right away. */
  fifo?: string;
  consoleSocket?: string;
  /** An inherited fd (number inside the init) to send the terminal to, instead of a socket path. */
  consoleFd?: number;
  preserveFds: number;
  noPivot: boolean;
  noNewKeyring: boolean;
  /** Stage 0 waits for the init and exits with its status (`run` in the foreground). */
  relay: boolean;
  id: string;
  cgroups: CgroupLayout;
  cgroupPath: string;
  /** The cgroup the init joins (absent: none, e.g. rootless without one). */
  cgroupTargets?: CgroupTargets;
  warn: (msg: string) => void;
  /** The runtime runs as root (maps are written without help). */
  privileged?: boolean;
  /** false when the user namespace denies setgroups (unprivileged direct mapping). */
  setgroupsAllowed?: boolean;
  /** Seccomp program compiled elsewhere (src/seccomp). */
  seccomp?: { program: Buffer; flags: number; listenerPath?: string };
}

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
/** Signals the relay (stage 0 waiting for the container, `run` in the
 * foreground) ignores: tsrun forwards them to the container's init itself,
 * and a terminal's ^C must not end the relay before the init is done. */
const RELAY_IGNORES = [1, 2, 3, 10, 12, 13, 15, 20, 21, 22].reduce((m, sig) => m + 2 ** sig, 0); // HUP INT QUIT USR1 USR2 PIPE TERM TSTP TTIN TTOU

const PER_LINUX = 0x0000;
const PER_LINUX32 = 0x0008;

// Read every time, not cached: a cache would end up in the startup
// snapshot, built on another boot (maybe of another kernel).
function lastCap(): number {
  return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
}

export function buildInitPlan(input: PlanInput): { plan: Plan; ns: NamespacePlan; idmapSources: IdmapSource[] } {
  const { spec } = input;
  const proc = spec.process;
  if (!proc) throw new ConfigError('config.json: process is required to create a container');
  if (!proc.args || proc.args.length === 0) throw new ConfigError('config.json: process.args must not be empty');
  const hasConsole = input.consoleSocket !== undefined || input.consoleFd !== undefined;
  if (proc.terminal && !hasConsole) {
    throw new ConfigError('cannot allocate a terminal for a detached container without --console-socket');
  }
  if (!proc.terminal && input.consoleSocket) {
    throw new ConfigError('--console-socket is only used when process.terminal is true');
  }
  const ns = planNamespaces(spec);
  checkNamespaceConfig(spec, ns);
  checkSysctls(spec, ns);
  checkLsm(spec, proc);
  const linux = spec.linux ?? {};
  const userns = ns.isNew('user');
  const plan = new Plan();

  // ---- stage 0: host side ----
  if (input.fifo) {
    // Owned by the container user's host ids (the fifo is 0622 anyway); an
    // unprivileged runtime cannot give files away: -1 keeps its own.
    const keep = 0xffffffff;
    const hostUid = input.privileged === false ? keep : (mapToHost(linux.uidMappings, proc.user.uid) ?? 0);
    const hostGid = input.privileged === false ? keep : (mapToHost(linux.gidMappings, proc.user.gid) ?? 0);
    plan.add('mkfifo', `create the exec fifo ${input.fifo}`, { path: input.fifo, mode: 0o622, uid: hostUid, gid: hostGid });
  }
  // Host paths are opened before joining namespaces (a joined mount
  // namespace may not have them); the init inherits these fds.
  if (input.fifo) plan.add('openPath', 'open the state directory', { path: dirname(input.fifo), slot: Slot.FIFO, flags: O_PATH | O_DIRECTORY });
  addConsoleSource(plan, input);
  addAgentConnect(plan, input.seccomp);
  const cgroup = addCgroupOpens(plan, input.cgroupTargets, !ns.joins.some((j) => j.type === 'cgroup'));
  // Bind sources a new user namespace's root may not reach are opened now, by us.
  const sourceSlots = userns && input.privileged !== false && ns.has('mount') && !ns.joins.some((j) => j.type === 'mount') ? addHostSourceClones(plan, spec, input.bundle) : undefined;
  for (const j of ns.joins) plan.add('setns', `join the ${j.type} namespace ${j.path}`, { path: j.path, nstype: j.flag });
  if (ns.newTimens) {
    plan.add('unshare', 'create a time namespace', { flags: CLONE.NEWTIME });
    const text = timeOffsetsText(spec);
    if (text) addProcWrite(plan, 'set the time namespace offsets', '/proc/self/timens_offsets', text);
  }
  // An unprivileged runtime (or newuidmap on its behalf) may write the maps
  // only of a dumpable process: dumpable just for that, as runc does.
  const unprivilegedMaps = userns && input.privileged === false;
  if (unprivilegedMaps) plan.add('setDumpable', 'let the runtime write the id maps', { value: 1 });
  plan.add('clone', 'create the container init with its namespaces', { flags: ns.cloneFlags, relay: input.relay ? 1 : 0, cgroupSlot: cgroup.cloneSlot, relayIgnore: RELAY_IGNORES });

  // ---- the init: joins its cgroups, waits for the runtime to map ids and run hooks ----
  cgroup.addJoins(plan);
  plan.add('waitGo', 'wait for the runtime');
  if (unprivilegedMaps) plan.add('setDumpable', 'become undumpable again', { value: 0 });
  if (userns) {
    const rootUid = mapToHost(linux.uidMappings, 0);
    const rootGid = mapToHost(linux.gidMappings, 0);
    if (rootUid !== undefined && rootGid !== undefined) plan.add('setid', 'become root in the user namespace', { uid: 0, gid: 0 });
  } else if (joinedUsernsMapsRoot(ns.joins.find((j) => j.type === 'user')?.path)) {
    // Entering a user namespace leaves our host ids, unmapped there: become its root.
    plan.add('setid', 'become root in the joined user namespace', { uid: 0, gid: 0 });
  }
  // A new network namespace starts with loopback down; runc brings it up.
  if (ns.isNew('network')) plan.add('linkUp', 'bring up the loopback interface', { name: 'lo' });
  if (ns.newCgroupns) plan.add('unshare', 'create a cgroup namespace', { flags: CLONE.NEWCGROUP });
  if (!input.noNewKeyring) plan.add('keyring', 'join a new session keyring', { name: input.id });
  if (!proc.terminal) plan.add('setsid', 'start a new session');

  const idmapSources: IdmapSource[] = [];
  const readonlyLater: ReadonlyLater[] = [];
  const beforePivot = (p: Plan) => {
    p.add('mkdir', `create the working directory ${proc.cwd}`, { path: proc.cwd, tflags: T.FOLLOW_DANGLING });
    addHookSteps(p, 'createContainer', spec.hooks?.createContainer);
  };
  if (!ns.has('mount')) {
    // No mount namespace of its own: mounting would change the host's, so
    // the container only gets a chroot into its rootfs, as with runc.
    if (spec.mounts?.length) input.warn('no mount namespace in linux.namespaces: config.json mounts are not applied');
    plan.add('setRoot', `open the rootfs ${input.rootfs}`, { path: input.rootfs });
    beforePivot(plan);
    plan.add('chroot', `chroot into ${input.rootfs}`, { root: input.rootfs });
  } else addRootfsSteps(
    plan,
    {
      spec,
      bundle: input.bundle,
      rootfs: input.rootfs,
      userns: ns.has('user'), // new or joined: device nodes must be bind mounts
      noPivot: input.noPivot,
      cgroups: input.cgroups,
      cgroupPath: input.cgroupPath,
      newCgroupns: ns.newCgroupns,
      idmapSources,
      readonlyLater,
      sourceSlots,
    },
    beforePivot,
  );
  if (spec.hostname !== undefined) plan.add('sethostname', `set the hostname to "${spec.hostname}"`, { name: spec.hostname });
  if (spec.domainname !== undefined) plan.add('setdomainname', `set the domainname to "${spec.domainname}"`, { name: spec.domainname });
  // Sysctls go in before readonlyPaths (usually /proc/sys) turn read-only.
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    addProcWrite(plan, `set sysctl ${key}=${value}`, `/proc/sys/${key.replace(/\./g, '/')}`, value);
  }
  // With a mount namespace the terminal is also the container's /dev/console
  // (the spec's MUST), bound before the root may turn read-only.
  if (hasConsole) addConsoleStep(plan, ns.has('mount') ? '/dev' : '', proc.consoleSize);
  if (ns.has('mount')) addRootfsFinishSteps(plan, spec, readonlyLater);
  if (proc.oomScoreAdj !== undefined) {
    addProcWrite(plan, `set oom_score_adj to ${proc.oomScoreAdj}`, '/proc/self/oom_score_adj', String(proc.oomScoreAdj));
  }

  if (linux.personality) {
    const domain = linux.personality.domain === 'LINUX32' ? PER_LINUX32 : PER_LINUX;
    plan.add('personality', `set the personality to ${linux.personality.domain}`, { persona: domain });
  }
  addMemoryPolicyStep(plan, linux.memoryPolicy);
  addProcessSteps(plan, proc, {
    lenient: isLenient(spec.annotations),
    seccomp: input.seccomp,
    warn: input.warn,
    preserveFds: input.preserveFds,
    setgroupsAllowed: input.setgroupsAllowed ?? true,
    afterReady: (p) => {
      if (input.fifo) p.add('fifo', 'wait for start', { slot: Slot.FIFO, name: basename(input.fifo) });
    },
    beforeExec: (p) => addHookSteps(p, 'startContainer', spec.hooks?.startContainer),
  });
  return { plan, ns, idmapSources };
}

/** Does the user namespace at this path (/proc/<pid>/ns/user) map id 0? */
function joinedUsernsMapsRoot(path: string | undefined): boolean {
  const pid = path && /^\/proc\/(\d+)\/ns\/user$/.exec(path)?.[1];
  if (!pid) return false;
  try {
    const has0 = (file: string) =>
      readFileSync(`/proc/${pid}/${file}`, 'utf8')
        .trim()
        .split('\n')
        .some((l) => {
          const [inside, , size] = l.trim().split(/\s+/).map(Number);
          return inside! <= 0 && 0 < inside! + size!;
        });
    return has0('uid_map') && has0('gid_map');
  } catch {
    return false;
  }
}

/** The steps every container process goes through, the init and exec'd
 * ones alike: limits, privileges, identity, then execve. */
function addProcessSteps(
  plan: Plan,
  proc: Process,
  o: {
    seccomp?: { program: Buffer; flags: number; listenerPath?: string };
    warn: (msg: string) => void;
    preserveFds: number;
    setgroupsAllowed?: boolean;
    /** Capabilities tsrun lacks are skipped with a warning instead of failing. */
    lenient?: boolean;
    afterReady?: (plan: Plan) => void;
    beforeExec?: (plan: Plan) => void;
  },
): void {
  plan.add('umask', 'set the umask', { mask: proc.user.umask ?? 0o022 });
  addRlimitSteps(plan, proc);
  addSchedulingSteps(plan, proc);
  addLsmSteps(plan, proc);
  // Before any seccomp filter (a profile may not allow close_range). Only
  // marks close-on-exec: fds the init still uses stay open until execve.
  plan.add('closeFds', 'close file descriptors not meant for the container', { from: 3 + o.preserveFds });
  if (proc.noNewPrivileges) plan.add('noNewPrivs', 'set no_new_privs');
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have it.
  if (o.seccomp && !proc.noNewPrivileges) addSeccompStep(plan, o.seccomp);
  const caps = capSets(proc.capabilities, lastCap(), o.warn, ownBoundingSet(readFileSync('/proc/self/status', 'utf8')), o.lenient);
  if (o.setgroupsAllowed === false && (proc.user.additionalGids?.length ?? 0) > 0) {
    throw new ConfigError('process.user.additionalGids cannot be set: the user namespace denies setgroups (an unprivileged user mapping only its own gid; use newgidmap ranges)');
  }
  addChdirSteps(plan, proc, 'before identity');
  addStdioOwnerStep(plan, proc);
  addIdentitySteps(plan, proc, caps, lastCap(), o.setgroupsAllowed ?? true);
  addChdirSteps(plan, proc, 'after identity');
  addExecCheckStep(plan, proc);
  plan.add('ready', 'report ready');
  o.afterReady?.(plan);
  addFinalAffinityStep(plan, proc);
  // With no_new_privs the filter can be loaded last: only execve (and the
  // startContainer hooks, as with runc) run under it before the program.
  if (o.seccomp && proc.noNewPrivileges) addSeccompStep(plan, o.seccomp);
  o.beforeExec?.(plan);
  addFinalExecStep(plan, proc);
}

export interface ExecPlanInput {
  /** The process to start, complete (defaults from the container already merged). */
  process: Process;
  /** Host pid of the container's init, whose namespaces are joined. */
  initPid: number;
  /** Its start time (field 22 of /proc/<pid>/stat, StoredState.pidStartTime):
   * the init checks it, so a reused pid is never joined. */
  initStartTime: number;
  /** The container's namespaces (from its config), to know which to join. */
  spec: Spec;
  consoleSocket?: string;
  consoleFd?: number;
  preserveFds: number;
  relay: boolean;
  /** The container's cgroup, which the process joins. */
  cgroupTargets?: CgroupTargets;
  setgroupsAllowed?: boolean;
  warn: (msg: string) => void;
  seccomp?: { program: Buffer; flags: number; listenerPath?: string };
}

/** A pty from the container's /dev/ptmx, checked to be the ptmx device (5:2):
 * the container controls its /dev, and the master goes to the host. */
function addConsoleStep(plan: Plan, consoleDir: string, size: { height: number; width: number } | undefined): void {
  plan.add('console', 'create the terminal and send it to the console socket', { slot: Slot.CONSOLE, ptmx: '/dev/ptmx', ptmxMajor: 5, ptmxMinor: 2, consoleDir, rows: size?.height ?? 0, cols: size?.width ?? 0 });
  plan.explain(6 /* ENXIO */, "the container's /dev/ptmx is not the pty multiplexer (5:2)");
  if (consoleDir) plan.explain(17 /* EEXIST */, `${consoleDir}/console exists and is neither a file nor a device`).explain(18 /* EXDEV */, `${consoleDir} resolves to a path inside /proc`);
}

/** Where the terminal goes: a console socket path, or an inherited fd. */
function addConsoleSource(plan: Plan, input: { consoleSocket?: string; consoleFd?: number }): void {
  if (input.consoleSocket) plan.add('connect', `connect to the console socket ${input.consoleSocket}`, { path: input.consoleSocket, slot: Slot.CONSOLE });
  else if (input.consoleFd !== undefined) plan.add('adoptFd', 'take the console socket', { slot: Slot.CONSOLE, fd: input.consoleFd });
}

/** A process joining a running container: its namespaces (user first), its
 * cgroup, then the usual process steps. Everything is reached through a
 * pidfd of the init, checked against its start time, never by a pid path
 * that a new process could own by then. The cgroup namespace is entered
 * after the clone, once the process is in the container's cgroup. Without a
 * mount namespace to join, the process chroots into the init's root, as the
 * init itself did. */
export function buildExecPlan(input: ExecPlanInput): Plan {
  const proc = input.process;
  if (!proc.args || proc.args.length === 0) throw new ConfigError('exec: no command given');
  const hasConsole = input.consoleSocket !== undefined || input.consoleFd !== undefined;
  if (proc.terminal && !hasConsole) throw new ConfigError('exec: cannot allocate a terminal for a detached process without --console-socket');
  checkLsm(input.spec, proc);
  const plan = new Plan();
  addConsoleSource(plan, input);
  addAgentConnect(plan, input.seccomp);
  const cgroup = addCgroupOpens(plan, input.cgroupTargets, true);
  const pid = input.initPid;
  plan.add('pidfdOpen', `open the container's init (pid ${pid})`, { pid, startTime: input.initStartTime, slot: Slot.INIT });
  const types = new Set((input.spec.linux?.namespaces ?? []).map((n) => n.type));
  const chroot = !types.has('mount');
  if (chroot) {
    // Opened on the host side, before any namespace is joined; the init
    // still alive afterwards means the path was still its own.
    plan.add('openPath', `open the container's root /proc/${pid}/root`, { path: `/proc/${pid}/root`, slot: Slot.ROOT, flags: O_PATH | O_DIRECTORY });
    plan.add('pidfdAlive', `check that the container's init (pid ${pid}) still runs`, { slot: Slot.INIT });
  }
  for (const type of JOIN_ORDER) {
    if (!types.has(type) || type === 'cgroup') continue;
    // Entering the user namespace we are already in is refused by the kernel.
    if (type === 'user' && sameNamespace(`/proc/${pid}/ns/user`, '/proc/self/ns/user')) continue;
    plan.add('setnsPidfd', `join the container's ${type} namespace`, { slot: Slot.INIT, nstype: NS_FLAG[type] });
  }
  plan.add('clone', 'create the process in the container', { flags: 0, relay: input.relay ? 1 : 0, cgroupSlot: cgroup.cloneSlot, relayIgnore: RELAY_IGNORES });
  cgroup.addJoins(plan);
  if (types.has('cgroup')) plan.add('setnsPidfd', "join the container's cgroup namespace", { slot: Slot.INIT, nstype: NS_FLAG.cgroup });
  if (chroot) plan.add('chrootSlot', "chroot into the container's root", { slot: Slot.ROOT });
  plan.add('waitGo', 'wait for the runtime');
  if (!proc.terminal) plan.add('setsid', 'start a new session');
  if (hasConsole) addConsoleStep(plan, '', proc.consoleSize);
  addMemoryPolicyStep(plan, input.spec.linux?.memoryPolicy);
  addProcessSteps(plan, proc, { seccomp: input.seccomp, warn: input.warn, preserveFds: input.preserveFds, setgroupsAllowed: input.setgroupsAllowed, lenient: isLenient(input.spec.annotations) });
  return plan;
}

function sameNamespace(a: string, b: string): boolean {
  try {
    return readlinkSync(a) === readlinkSync(b);
  } catch {
    return false;
  }
}

function addSeccompStep(plan: Plan, s: { program: Buffer; flags: number; listenerPath?: string }): void {
  plan.add('seccomp', 'load the seccomp filter', { program: s.program, flags: s.flags });
  if (s.listenerPath) plan.add('sendListener', `send the seccomp listener to the agent at ${s.listenerPath}`, { socketSlot: Slot.AGENT });
}

/** The seccomp agent's socket is connected from the host, before any setns. */
function addAgentConnect(plan: Plan, s: { listenerPath?: string } | undefined): void {
  if (s?.listenerPath) plan.add('connect', `connect to the seccomp agent at ${s.listenerPath}`, { path: s.listenerPath, slot: Slot.AGENT });
}
