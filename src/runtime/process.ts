// config.json's process section turned into the last plan steps: limits,
// identity, capabilities, working directory and the program to execute.
import { ConfigError } from '../errors';
import { LENIENT_ANNOTATION } from '../oci/annotations';
import { ALL_CAPABILITIES } from '../oci/features';
import { u64ToBigInt } from '../oci/validate';
import type { LinuxCapabilities, Process } from '../oci/types';
import { type Plan } from '../init/plan';

export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Capability names to a bit mask; unknown names are a config error, names
 * newer than the host kernel (above cap_last_cap) are skipped with a warning. */
export function capMask(names: string[] | undefined, lastCap: number, field: string, warn: (msg: string) => void): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = (ALL_CAPABILITIES as Record<string, number>)[name];
    if (bit === undefined) throw new ConfigError(`config.json: ${field}: unknown capability "${name}"`);
    if (bit > lastCap) {
      warn(`${field}: capability ${name} is not supported by this kernel, skipped`);
      continue;
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

export interface CapSets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

/** The capability sets to apply. Capabilities outside `available` (the
 * runtime's own bounding set: a container cannot get what tsrun lacks) fail
 * the container, as with runc, or with `lenient` are dropped with a warning. */
export function capSets(
  caps: LinuxCapabilities | undefined,
  lastCap: number,
  warn: (msg: string) => void,
  available: bigint = ~0n,
  lenient = true,
): CapSets {
  let missing = 0n;
  const f = (k: keyof LinuxCapabilities) => {
    const mask = capMask(caps?.[k], lastCap, `process.capabilities.${k}`, warn);
    missing |= mask & ~available;
    return mask & available;
  };
  const sets = { bounding: f('bounding'), effective: f('effective'), permitted: f('permitted'), inheritable: f('inheritable'), ambient: f('ambient') };
  // The kernel raises an ambient capability only if it is permitted and
  // inheritable; runc drops the others (`runc spec` lists ambient without
  // inheritable), so a runc bundle runs unchanged.
  sets.ambient &= sets.permitted & sets.inheritable;
  if (missing) {
    const names = Object.entries(ALL_CAPABILITIES)
      .filter(([, bit]) => missing & (1n << BigInt(bit)))
      .map(([name]) => name);
    const why = `${names.join(', ')} not available to tsrun on this host (not in its bounding set)`;
    if (!lenient) throw new ConfigError(`process.capabilities cannot be applied: ${why} (annotation ${LENIENT_ANNOTATION}=true runs the container without them)`);
    warn(`process.capabilities: ${why}, skipped`);
  }
  return sets;
}

/** The calling process's bounding set (CapBnd in /proc/self/status). */
export function ownBoundingSet(statusText: string): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt('0x' + m[1]) : ~0n;
}

/** Where execve will look for args[0]: the container's PATH, like execvp. */
export function execCandidates(proc: Process): string[] {
  const arg0 = proc.args?.[0];
  if (!arg0) throw new ConfigError('config.json: process.args must not be empty');
  if (arg0.includes('/')) return [arg0];
  const pathVar = (proc.env ?? []).find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  return pathVar.split(':').map((dir) => (dir ? `${dir.replace(/\/+$/, '')}/${arg0}` : arg0));
}

export function addRlimitSteps(plan: Plan, proc: Process): void {
  for (const rl of proc.rlimits ?? []) {
    const res = RLIMITS[rl.type];
    if (res === undefined) throw new ConfigError(`config.json: process.rlimits: unknown rlimit "${rl.type}"`);
    if (rl.soft > rl.hard) throw new ConfigError(`config.json: process.rlimits: ${rl.type} soft limit ${rl.soft} is above its hard limit ${rl.hard}`);
    plan.add('rlimit', `set ${rl.type} to ${rl.soft}:${rl.hard}`, { resource: res, soft: u64ToBigInt(rl.soft), hard: u64ToBigInt(rl.hard) });
  }
}

export function addIdentitySteps(plan: Plan, proc: Process, caps: CapSets, lastCap: number, setgroupsAllowed: boolean): void {
  const user = proc.user;
  plan.add('capbsetDrop', 'drop capabilities from the bounding set', { keep: caps.bounding, last: lastCap });
  const groups = user.additionalGids ?? [];
  plan.add('user', `switch to uid ${user.uid} gid ${user.gid}${groups.length ? ` groups ${groups.join(',')}` : ''}`, {
    uid: user.uid,
    gid: user.gid,
    groups,
    setGroups: setgroupsAllowed ? 1 : 0,
  });
  plan.add('capset', 'set the capability sets', { effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable, ambient: caps.ambient });
}

/** The working directory, as runc does it: first while still privileged (a
 * directory only root can reach works), and where that is refused, again
 * as the process's user (a volume chowned to it that root cannot enter). */
export function addChdirSteps(plan: Plan, proc: Process, when: 'before identity' | 'after identity'): void {
  plan.add('chdir', `change to the working directory ${proc.cwd}`, { path: proc.cwd, mode: when === 'before identity' ? 1 : 2 });
}

/** stdio handed to a non-root process's user (runc's fixStdioPermissions). */
export function addStdioOwnerStep(plan: Plan, proc: Process): void {
  if (proc.user.uid !== 0) plan.add('fixStdio', `give stdio to uid ${proc.user.uid}`, { uid: proc.user.uid });
}

export function addExecCheckStep(plan: Plan, proc: Process): void {
  const arg0 = proc.args?.[0] ?? '';
  plan.add('execCheck', `exec: "${arg0}"`, { candidates: execCandidates(proc) });
}

export function addFinalExecStep(plan: Plan, proc: Process): void {
  plan.add('exec', `execute ${JSON.stringify(proc.args)}`, { args: proc.args ?? [], env: proc.env ?? [] });
}
