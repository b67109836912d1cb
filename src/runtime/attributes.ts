// Process attributes beyond identity and capabilities: LSM labels, sysctls,
// scheduler, I/O priority, CPU affinity. Each is checked against what the
// host offers, so a request is applied or refused, never silently dropped.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import type { LinuxMemoryPolicy, Process, Spec } from '../oci/types';
import type { NamespacePlan } from '../namespaces';
import { type Plan, PROC_SUPER_MAGIC } from '../init/plan';

export function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

export function selinuxEnabled(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}

/** Refuses labels the host cannot apply (runc's behaviour for AppArmor; for
 * SELinux we refuse too, instead of ignoring the label). */
export function checkLsm(spec: Spec, proc: Process, host = { apparmor: apparmorEnabled(), selinux: selinuxEnabled() }): void {
  if (proc.apparmorProfile && !host.apparmor) {
    throw new ConfigError(`process.apparmorProfile "${proc.apparmorProfile}" was requested but AppArmor is not enabled on this host`);
  }
  if (proc.selinuxLabel && !host.selinux) {
    throw new ConfigError(`process.selinuxLabel "${proc.selinuxLabel}" was requested but SELinux is not enabled on this host`);
  }
  if (spec.linux?.mountLabel && !host.selinux) {
    throw new ConfigError(`linux.mountLabel "${spec.linux.mountLabel}" was requested but SELinux is not enabled on this host`);
  }
  if (spec.linux?.intelRdt) throw new ConfigError('linux.intelRdt (closID, schemata, enableMonitoring) is not supported by tsrun: the container would run without its cache and memory-bandwidth allocation');
}

/** A write to a procfs file, refused unless the file really is on procfs:
 * after pivot_root, /proc is the container's, and an image could have put a
 * decoy there (CVE-2019-16884 class). */
export function addProcWrite(plan: Plan, what: string, path: string, text: string): void {
  plan.add('writeFile', what, { path, data: text, fsMagic: PROC_SUPER_MAGIC });
  plan.explain(18 /* EXDEV */, `${path} is not on procfs (the container's /proc is not the procfs tsrun mounted)`);
}

/** LSM labels take effect at execve: written just before it. */
export function addLsmSteps(plan: Plan, proc: Process): void {
  if (proc.apparmorProfile) {
    const attr = existsSync('/proc/self/attr/apparmor/exec') ? '/proc/self/attr/apparmor/exec' : '/proc/self/attr/exec';
    addProcWrite(plan, `apply the AppArmor profile "${proc.apparmorProfile}"`, attr, `exec ${proc.apparmorProfile}`);
  }
  if (proc.selinuxLabel) {
    addProcWrite(plan, `apply the SELinux label "${proc.selinuxLabel}"`, '/proc/self/attr/exec', proc.selinuxLabel);
  }
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** Only sysctls that belong to one of the container's own namespaces may be
 * set: anything else would change the host. */
export function checkSysctls(spec: Spec, ns: NamespacePlan): void {
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const name = key.replace(/\//g, '.');
    if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) {
      if (!ns.has('ipc')) throw new ConfigError(`linux.sysctl: ${key} needs an ipc namespace in linux.namespaces`);
    } else if (name.startsWith('net.')) {
      if (!ns.has('network')) throw new ConfigError(`linux.sysctl: ${key} needs a network namespace in linux.namespaces`);
    } else if (name === 'kernel.hostname' || name === 'kernel.domainname') {
      if (!ns.has('uts')) throw new ConfigError(`linux.sysctl: ${key} needs a uts namespace in linux.namespaces`);
    } else {
      throw new ConfigError(`linux.sysctl: ${key} is not namespaced: setting it would change the host`);
    }
  }
}

const SCHED_POLICY: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAG: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASS: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** Parses a cpu list ("0-3,7") into a sched_setaffinity mask. */
/** A kernel bit mask (1024 bits) from a list like "0-3,7". */
export function cpuMask(list: string, field: string, unit = 'cpu'): Buffer {
  const mask = Buffer.alloc(128);
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new ConfigError(`${field}: invalid ${unit} list "${list}"`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi >= mask.length * 8) throw new ConfigError(`${field}: invalid ${unit} range "${part.trim()}"`);
    for (let c = lo; c <= hi; c++) mask[c >> 3]! |= 1 << (c & 7);
  }
  return mask;
}

export function addSchedulingSteps(plan: Plan, proc: Process): void {
  const s = proc.scheduler;
  if (s) {
    const policy = SCHED_POLICY[s.policy];
    if (policy === undefined) throw new ConfigError(`process.scheduler.policy: unknown policy "${s.policy}"`);
    let flags = 0;
    for (const f of s.flags ?? []) {
      const bit = SCHED_FLAG[f];
      if (bit === undefined) throw new ConfigError(`process.scheduler.flags: unknown flag "${f}"`);
      flags |= bit;
    }
    if ((s.nice ?? 0) < -20 || (s.nice ?? 0) > 19) throw new ConfigError('process.scheduler.nice must be between -20 and 19');
    plan.add('sched', `set the scheduler to ${s.policy}`, { policy, flags, nice: BigInt.asUintN(64, BigInt(s.nice ?? 0)), priority: s.priority ?? 0, runtime: s.runtime ?? 0, deadline: s.deadline ?? 0, period: s.period ?? 0 });
  }
  const io = proc.ioPriority;
  if (io) {
    const cls = IOPRIO_CLASS[io.class];
    if (cls === undefined) throw new ConfigError(`process.ioPriority.class: unknown class "${io.class}"`);
    const prio = io.priority ?? 0;
    if (prio < 0 || prio > 7) throw new ConfigError('process.ioPriority.priority must be between 0 and 7');
    plan.add('ioprio', `set the I/O priority to ${io.class}/${prio}`, { value: (cls << 13) | prio });
  }
  if (proc.execCPUAffinity?.initial) {
    plan.add('affinity', `set the CPU affinity to ${proc.execCPUAffinity.initial}`, { mask: cpuMask(proc.execCPUAffinity.initial, 'process.execCPUAffinity.initial') });
  }
}

/** The affinity the program itself runs with, applied right before execve. */
export function addFinalAffinityStep(plan: Plan, proc: Process): void {
  const final = proc.execCPUAffinity?.final;
  if (final) plan.add('affinity', `set the CPU affinity to ${final}`, { mask: cpuMask(final, 'process.execCPUAffinity.final') });
}

const MPOL_MODE: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
const MPOL_FLAG: Record<string, number> = { MPOL_F_STATIC_NODES: 1 << 15, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_NUMA_BALANCING: 1 << 13 };
const MPOL_NO_NODES = new Set(['MPOL_DEFAULT', 'MPOL_LOCAL']);
const MPOL_SOME_NODES = new Set(['MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_PREFERRED_MANY', 'MPOL_WEIGHTED_INTERLEAVE']);

/** linux.memoryPolicy: set_mempolicy(2) in the init (and in exec'd
 * processes, as runc does), before the seccomp filter. */
export function addMemoryPolicyStep(plan: Plan, mp: LinuxMemoryPolicy | undefined): void {
  if (!mp) return;
  const field = 'linux.memoryPolicy';
  const name = mp.mode;
  if (name === undefined) throw new ConfigError(`${field}.mode is required`);
  const mode = MPOL_MODE[name];
  if (mode === undefined) throw new ConfigError(`${field}.mode: unknown mode "${name}"`);
  let flags = 0;
  for (const f of mp.flags ?? []) {
    const bit = MPOL_FLAG[f];
    if (bit === undefined) throw new ConfigError(`${field}.flags: unknown flag "${f}"`);
    flags |= bit;
  }
  const nodes = mp.nodes?.trim() ? cpuMask(mp.nodes, `${field}.nodes`, 'node') : undefined;
  if (nodes && MPOL_NO_NODES.has(name)) throw new ConfigError(`${field}: mode ${name} takes no nodes (got "${mp.nodes}")`);
  if (!nodes && MPOL_SOME_NODES.has(name)) throw new ConfigError(`${field}: mode ${name} needs at least one node in "nodes"`);
  plan.add('setMempolicy', `set the memory policy ${name}${mp.nodes ? ` on nodes ${mp.nodes}` : ''}${flags ? ` (${mp.flags!.join(', ')})` : ''}`, {
    mode: mode | flags,
    nodes: nodes ?? Buffer.alloc(0),
  });
  plan.explain(22 /* EINVAL */, 'the kernel refused this memory policy (a node that does not exist or is not allowed, or flags the mode does not take)');
}
