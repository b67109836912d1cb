// The systemd cgroup driver's pure parts (--systemd-cgroup), as runc 1.1 has
// them: linux.cgroupsPath in systemd's "slice:prefix:name" form, slice
// expansion, the unit's name, and linux.resources as systemd unit properties
// (StartTransientUnit / SetUnitProperties). The D-Bus side is
// systemd-dbus.ts; what systemd does not cover is still written to the
// cgroup files by resources.ts, on the unit's cgroup.
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors';
import type { LinuxDeviceCgroup, LinuxResources } from '../oci/types';
import { deviceAccess } from './devices-bpf';
import { blkioWeightToIOWeight, memorySwapToV2, sharesToWeight } from './resources';

/** systemd's USEC_INFINITY / "infinity" for the uint64 properties. */
export const SD_INFINITY = 2n ** 64n - 1n;
/** The kernel's default CFS period (µs), for a quota given without one. */
const DEFAULT_CPU_PERIOD = 100000;

/** sd_booted(3): systemd is the init when /run/systemd/system is a directory. */
export function isRunningSystemd(): boolean {
  try {
    return lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

/** The one line for a host without systemd as init. */
export const NO_SYSTEMD =
  '--systemd-cgroup: the systemd cgroup driver needs systemd running as init (no /run/systemd/system on this host); omit the flag to use the cgroupfs driver';

export interface SystemdCgroup {
  /** The unit's parent slice as systemd names it ("system.slice"; "-.slice" for the root). */
  slice: string;
  /** The unit: "prefix-name.scope", or a slice when the name ends in ".slice". */
  unit: string;
  unitType: 'Scope' | 'Slice';
  /** The cgroup path, relative to the hierarchy's root: "/system.slice/tsrun-abc.scope". */
  path: string;
}

/** linux.cgroupsPath for the systemd driver ("slice:prefix:name", as runc
 * parses it). Empty: runc's default (its own name as the prefix, the
 * container id as the name, in system.slice, or user.slice rootless), here
 * `system.slice:tsrun:<id>`. */
export function parseSystemdCgroupsPath(cgroupsPath: string | undefined, id: string, rootless = false): SystemdCgroup {
  let slice = '';
  let prefix = 'tsrun';
  let name = id;
  if (cgroupsPath) {
    const parts = cgroupsPath.split(':');
    if (parts.length !== 3) {
      throw new ConfigError(
        `config.json: linux.cgroupsPath "${cgroupsPath}" must be "slice:prefix:name" for the systemd cgroup driver (e.g. "system.slice:tsrun:${id}")`,
      );
    }
    [slice, prefix, name] = parts as [string, string, string];
  }
  if (!name) throw new ConfigError(`config.json: linux.cgroupsPath "${cgroupsPath}": the name part (after the second ":") is empty`);
  checkUnitPart(cgroupsPath ?? '', 'prefix', prefix);
  checkUnitPart(cgroupsPath ?? '', 'name', name);
  const isSlice = name.endsWith('.slice');
  const unit = isSlice ? name : `${prefix}-${name}.scope`;
  if (isSlice) expandSlice(unit, cgroupsPath ?? '');
  if (!slice) slice = rootless ? 'user.slice' : 'system.slice';
  const parent = expandSlice(slice, cgroupsPath ?? '');
  return { slice, unit, unitType: isSlice ? 'Slice' : 'Scope', path: isSlice ? expandSlice(unit, cgroupsPath ?? '') : join2(parent, unit) };
}

function join2(parent: string, unit: string): string {
  return parent === '/' ? `/${unit}` : `${parent}/${unit}`;
}

/** Characters systemd accepts in a unit name (unit_name_is_valid: [A-Za-z0-9:_.\-@]). */
function checkUnitPart(cgroupsPath: string, what: string, s: string): void {
  if (!/^[A-Za-z0-9:_.\\@-]*$/.test(s) || s === '.' || s === '..') {
    throw new ConfigError(`config.json: linux.cgroupsPath "${cgroupsPath}": the ${what} "${s}" is not valid in a systemd unit name`);
  }
}

/** A slice as a cgroup path: "a-b.slice" → "/a.slice/a-b.slice", "-.slice" → "/". */
export function expandSlice(slice: string, cgroupsPath = slice): string {
  const bad = () => new ConfigError(`config.json: linux.cgroupsPath "${cgroupsPath}": invalid slice name "${slice}" (it must end in ".slice", e.g. "system.slice" or "a-b.slice")`);
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length || slice.includes('/')) throw bad();
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  let path = '';
  let prefix = '';
  for (const part of base.split('-')) {
    if (!part) throw bad();
    path += `/${prefix}${part}.slice`;
    prefix += `${part}-`;
  }
  return path;
}

// ---- properties ----

/** One unit property with its D-Bus signature: "t" values are bigint, "ay" a Buffer. */
export interface UnitProperty {
  name: string;
  sig: string;
  value: unknown;
}

const prop = (name: string, sig: string, value: unknown): UnitProperty => ({ name, sig, value });
const u64 = (n: number): bigint => (n < 0 ? SD_INFINITY : BigInt(n));

/** The properties a new scope (or slice) starts with, resources aside. */
export function unitBaseProperties(cg: SystemdCgroup, opts: { pid: number; version: 1 | 2; description: string }): UnitProperty[] {
  const out = [prop('Description', 's', opts.description)];
  if (cg.unitType === 'Slice') out.push(prop('Wants', 'as', [cg.slice]));
  else out.push(prop('Slice', 's', cg.slice), prop('Delegate', 'b', true));
  // A slice holds no processes of its own: they join its cgroup by themselves.
  if (opts.pid > 0 && cg.unitType === 'Scope') out.push(prop('PIDs', 'au', [opts.pid]));
  out.push(
    prop('MemoryAccounting', 'b', true),
    prop('CPUAccounting', 'b', true),
    prop(opts.version === 2 ? 'IOAccounting' : 'BlockIOAccounting', 'b', true),
    prop('TasksAccounting', 'b', true),
    prop('DefaultDependencies', 'b', false),
  );
  return out;
}

/** cpuset list text ("0-3,8") as systemd's AllowedCPUs/AllowedMemoryNodes
 * byte array: bit i of byte i/8 for cpu i (little-endian, as systemd reads
 * it; runc 1.1.5 sent the bytes reversed, fixed in later runc). */
export function rangeToBits(list: string): Buffer {
  const bits: number[] = [];
  for (const raw of list.split(',')) {
    const r = raw.trim();
    if (!r) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(r);
    if (!m) throw new ConfigError(`invalid cpu/memory node list "${list}": "${r}" is not a number or a range`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start > end) throw new ConfigError(`invalid cpu/memory node list "${list}": range ${r} is reversed`);
    if (end > 65535) throw new ConfigError(`invalid cpu/memory node list "${list}": ${end} is too large`);
    for (let i = start; i <= end; i++) bits.push(i);
  }
  if (bits.length === 0) throw new ConfigError(`invalid cpu/memory node list "${list}": empty`);
  const buf = Buffer.alloc((Math.max(...bits) >> 3) + 1);
  for (const i of bits) buf[i >> 3]! |= 1 << (i & 7);
  return buf;
}

/** CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) from a CFS quota and period, as
 * runc: the per-second quota rounded up to whole percents (systemd keeps a
 * percentage), so that the cgroup file can hold the exact quota after it. */
export function cpuQuotaProperties(quota: number | undefined, period: number | undefined, systemdVersion: number): UnitProperty[] {
  const q = quota ?? 0;
  const p = period ?? 0;
  const out: UnitProperty[] = [];
  if (p !== 0 && systemdVersion >= 242) out.push(prop('CPUQuotaPeriodUSec', 't', BigInt(p)));
  if (q !== 0 || p !== 0) {
    let perSec = SD_INFINITY;
    if (q > 0) {
      const usec = Math.floor((q * 1000000) / (p || DEFAULT_CPU_PERIOD));
      perSec = BigInt(usec % 10000 === 0 ? usec : (Math.floor(usec / 10000) + 1) * 10000);
    }
    out.push(prop('CPUQuotaPerSecUSec', 't', perSec));
  }
  return out;
}

function cpusetProperties(cpus: string | undefined, mems: string | undefined, systemdVersion: number): UnitProperty[] {
  // AllowedCPUs/AllowedMemoryNodes exist since systemd 244; older ones get the files only.
  if (systemdVersion < 244) return [];
  const out: UnitProperty[] = [];
  if (cpus) out.push(prop('AllowedCPUs', 'ay', rangeToBits(cpus)));
  if (mems) out.push(prop('AllowedMemoryNodes', 'ay', rangeToBits(mems)));
  return out;
}

export interface PropertyOptions {
  version: 1 | 2;
  /** The manager's Version (e.g. 252); properties newer than it are left to the files. */
  systemdVersion: number;
  /** Device rules: the spec's then the defaults (undefined: leave devices alone, as on update). */
  deviceRules?: readonly LinuxDeviceCgroup[];
  warn: (m: string) => void;
  /** /proc/devices text (for "major:*" rules) and a check that a device node exists; for tests. */
  procDevices?: string;
  deviceExists?: (path: string) => boolean;
}

/** linux.resources as systemd unit properties (runc's genV1/genV2ResourcesProperties). */
export function resourceProperties(res: LinuxResources | undefined, o: PropertyOptions): UnitProperty[] {
  const r = res ?? {};
  const out: UnitProperty[] = [];
  if (o.deviceRules) out.push(...deviceProperties(o.deviceRules, o));
  const mem = r.memory ?? {};
  const cpu = r.cpu ?? {};
  if (o.version === 2) {
    if (mem.limit) out.push(prop('MemoryMax', 't', u64(mem.limit)));
    if (mem.reservation) out.push(prop('MemoryLow', 't', u64(mem.reservation)));
    const swap = memorySwapToV2(mem.swap ?? 0, mem.limit ?? 0);
    if (swap !== 0) out.push(prop('MemorySwapMax', 't', u64(swap)));
    const weight = sharesToWeight(cpu.shares ?? 0);
    if (weight) out.push(prop('CPUWeight', 't', BigInt(weight)));
  } else {
    if (mem.limit) out.push(prop('MemoryLimit', 't', u64(mem.limit)));
    if (cpu.shares) out.push(prop('CPUShares', 't', BigInt(cpu.shares)));
  }
  out.push(...cpuQuotaProperties(cpu.quota, cpu.period, o.systemdVersion));
  const bw = r.blockIO?.weight ?? 0;
  if (bw) out.push(o.version === 2 ? prop('IOWeight', 't', BigInt(blkioWeightToIOWeight(bw))) : prop('BlockIOWeight', 't', BigInt(bw)));
  const pids = r.pids?.limit ?? 0;
  if (pids > 0 || pids === -1) out.push(prop('TasksMax', 't', u64(pids)));
  out.push(...cpusetProperties(cpu.cpus, cpu.mems, o.systemdVersion));
  if (o.version === 2 && r.unified) out.push(...unifiedProperties(r.unified, o.systemdVersion));
  return out;
}

/** linux.resources.unified keys systemd has properties for; the others go to the files only. */
export function unifiedProperties(unified: Record<string, string>, systemdVersion: number): UnitProperty[] {
  const out: UnitProperty[] = [];
  const num = (k: string, v: string): bigint => {
    if (v === 'max') return SD_INFINITY;
    if (!/^\d+$/.test(v)) throw new ConfigError(`linux.resources.unified["${k}"]: "${v}" is not a number or "max"`);
    return BigInt(v);
  };
  const memory: Record<string, string> = {
    'memory.high': 'MemoryHigh',
    'memory.low': 'MemoryLow',
    'memory.min': 'MemoryMin',
    'memory.max': 'MemoryMax',
    'memory.swap.max': 'MemorySwapMax',
  };
  for (const [k, raw] of Object.entries(unified)) {
    const v = raw.trim();
    if (k === 'cpu.max') {
      const f = v.split(/\s+/);
      if (f.length < 1 || f.length > 2) throw new ConfigError(`linux.resources.unified["cpu.max"]: "${v}" is not "quota [period]"`);
      const quota = f[0] === 'max' ? 0 : Number(num(k, f[0]!));
      const period = f[1] === undefined ? DEFAULT_CPU_PERIOD : Number(num(k, f[1]));
      out.push(...cpuQuotaProperties(quota, period, systemdVersion));
    } else if (k === 'cpu.weight') out.push(prop('CPUWeight', 't', num(k, v)));
    else if (k === 'cpuset.cpus') out.push(...cpusetProperties(v, undefined, systemdVersion));
    else if (k === 'cpuset.mems') out.push(...cpusetProperties(undefined, v, systemdVersion));
    else if (memory[k]) out.push(prop(memory[k], 't', num(k, v)));
    else if (k === 'pids.max') out.push(prop('TasksMax', 't', num(k, v)));
  }
  return out;
}

// ---- devices ----

type DevType = 'c' | 'b';
interface DevEntry {
  type: DevType;
  major: number; // -1: any
  minor: number;
  perms: Set<string>;
}

/** The device rules reduced to what they allow, as runc's devices emulator
 * does: "a" rules reset to allow-all or deny-all, later rules add or take
 * away permissions. Returns allowAll with the exceptions when the result
 * is a deny list. */
export function reduceDeviceRules(rules: readonly LinuxDeviceCgroup[]): { defaultAllow: boolean; entries: DevEntry[] } {
  let defaultAllow = false;
  let entries: DevEntry[] = [];
  for (const rule of rules) {
    const type = rule.type ?? 'a';
    const perms = deviceAccess(rule.access).split('');
    if (type === 'a') {
      defaultAllow = rule.allow;
      entries = [];
      continue;
    }
    if (type !== 'c' && type !== 'b') continue;
    const major = rule.major === undefined || rule.major < 0 ? -1 : rule.major;
    const minor = rule.minor === undefined || rule.minor < 0 ? -1 : rule.minor;
    const same = entries.find((e) => e.type === type && e.major === major && e.minor === minor);
    if (rule.allow !== defaultAllow) {
      // An exception to the default: recorded (merged with an equal one).
      if (same) for (const p of perms) same.perms.add(p);
      else entries.push({ type, major, minor, perms: new Set(perms) });
    } else if (same) {
      // Back to the default for these permissions.
      for (const p of perms) same.perms.delete(p);
      if (same.perms.size === 0) entries = entries.filter((e) => e !== same);
    }
  }
  return { defaultAllow, entries };
}

/** DevicePolicy and DeviceAllow for the rules, as runc's
 * generateDeviceProperties: strict with an allow list; "major:*" through the
 * device group in /proc/devices; "*:minor" is not expressible (skipped with
 * a warning: the cgroup's own device program still enforces the rules). */
export function deviceProperties(rules: readonly LinuxDeviceCgroup[], o: Pick<PropertyOptions, 'warn' | 'procDevices' | 'deviceExists'>): UnitProperty[] {
  const { defaultAllow, entries } = reduceDeviceRules(rules);
  if (defaultAllow) {
    if (entries.length === 0) return [prop('DevicePolicy', 's', 'auto'), prop('DeviceAllow', 'a(ss)', [])];
    o.warn('systemd does not support deny-list device rules: the unit gets a deny-all device policy (the cgroup\'s own rules still apply)');
    return [prop('DevicePolicy', 's', 'strict'), prop('DeviceAllow', 'a(ss)', [])];
  }
  const exists = o.deviceExists ?? ((p: string) => pathExists(p) || pathExists(`/sys${p}`));
  let procDevices = o.procDevices;
  const allow: [string, string][] = [];
  for (const e of entries) {
    const perms = ['r', 'w', 'm'].filter((p) => e.perms.has(p)).join('');
    const kind = e.type === 'c' ? 'char' : 'block';
    if (e.major === -1) {
      if (e.minor !== -1) {
        o.warn(`systemd has no form for the device rule "${e.type} *:${e.minor} ${perms}": left to the cgroup's own rules`);
        continue;
      }
      allow.push([`${kind}-*`, perms]);
    } else if (e.minor === -1) {
      procDevices ??= readProcDevices();
      const group = deviceGroup(procDevices, e.type, e.major);
      if (!group) {
        o.warn(`no device group for ${kind} major ${e.major} in /proc/devices: the rule "${e.type} ${e.major}:* ${perms}" is left to the cgroup's own rules`);
        continue;
      }
      allow.push([`${kind}-${group}`, perms]);
    } else {
      const path = `/dev/${kind}/${e.major}:${e.minor}`;
      if (!exists(path)) {
        o.warn(`skipping device ${path} for systemd: no such device`);
        continue;
      }
      allow.push([path, perms]);
    }
  }
  return [prop('DevicePolicy', 's', 'strict'), prop('DeviceAllow', 'a(ss)', allow)];
}

/** The name /proc/devices gives a major number of that type ("pts" for c 136). */
export function deviceGroup(procDevices: string, type: DevType, major: number): string | undefined {
  let section: DevType | undefined;
  for (const raw of procDevices.split('\n')) {
    const line = raw.trim();
    if (line === 'Character devices:') section = 'c';
    else if (line === 'Block devices:') section = 'b';
    else if (section === type) {
      const m = /^(\d+)\s+(\S+)$/.exec(line);
      if (m && Number(m[1]) === major) return m[2];
    }
  }
  return undefined;
}

function readProcDevices(): string {
  try {
    return readFileSync('/proc/devices', 'utf8');
  } catch {
    return '';
  }
}

function pathExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** "v252.39-1~deb12u2", "252", "245.4-1.fc32" → 252. */
export function parseSystemdVersion(s: string): number {
  const m = /v?(\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}
