// Writes linux.resources into the container's cgroup, hierarchy by hierarchy.
// On a hybrid host each controller goes where the layout says (see
// controllers.ts); values are validated first, then written one file at a time
// with errors that name the file and the value.
import { ConfigError } from '../errors';
import { LENIENT_ANNOTATION } from '../oci/annotations';
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxDeviceCgroup,
  LinuxHugepageLimit,
  LinuxMemory,
  LinuxNetwork,
  LinuxRdma,
  LinuxResources,
  LinuxThrottleDevice,
} from '../oci/types';
import {
  type Controller,
  type ControllerTarget,
  enableV2Controllers,
  findController,
  unifiedHierarchy,
  unifiedDir,
  v2Available,
  v2ControllerName,
} from './controllers';
import { applyDevicesV2, deviceAccess } from './devices-bpf'; // devices-bpf
import { CgroupError, errnoCode, fileExists, readOptional, readU64, strerror, U64_MAX, writeRaw, writeValue, writeValues } from './fsutil';
import type { CgroupManager } from './manager';
import { validateResources } from './validate';

export interface ApplyOptions {
  /** Receives one line per setting the host cannot apply when `lenient`, and other warnings. */
  warn: (m: string) => void;
  /** A setting the host cannot apply is warned about and skipped instead of
   * failing the operation (the opt-in LENIENT_ANNOTATION). */
  lenient?: boolean;
  /** `runc update`: leave device rules alone (like runc), honour
   * memory.checkBeforeUpdate, and fill a missing half of cpu.max from the current value. */
  update?: boolean;
  /** Rootless: the device controller is not ours to program (a BPF program
   * needs privilege over the host; v1 device rules likewise), as with runc. */
  skipDevices?: boolean;
  /** The paths of linux.devices: defaults for the same nodes are left out. */
  devicePaths?: readonly string[];
}

interface Ctx {
  mgr: CgroupManager;
  warn: (m: string) => void;
  lenient: boolean;
  update: boolean;
  /** v2 controllers already enabled during this call. */
  enabled: Set<string>;
}

// ---- conversions (v1 values in the OCI spec → v2 files) ----

/** cpu.shares [2..262144] → cpu.weight [1..10000]: 1 + ((shares-2)*9999)/262142. 0 means unset. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio.weight [10..1000] → io.weight [1..10000]: 1 + (weight-10)*9999/990. 0 means unset. */
export function blkioWeightToIOWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** OCI memory.swap is memory+swap; cgroup v2 memory.swap.max is swap alone.
 * Returns -1 for unlimited, 0 for "leave alone" (when swap was 0/unset). */
export function memorySwapToV2(memorySwap: number, memory: number): number {
  if (memory === -1 && memorySwap === 0) return -1;
  if (memorySwap === -1 || memorySwap === 0) return memorySwap;
  if (memory === -1) return memorySwap;
  if (memory === 0) throw new ConfigError('linux.resources.memory.swap: unable to set swap limit without memory limit');
  if (memory < 0) throw new ConfigError(`linux.resources.memory.limit: invalid memory value ${memory}`);
  if (memorySwap < memory) {
    throw new ConfigError(`linux.resources.memory.swap: memory+swap limit (${memorySwap}) must be >= memory limit (${memory})`);
  }
  return memorySwap - memory;
}

/** The devices runc allows after the spec's own rules (runc 1.1.5
 * specconv.AllowedDevices): mknod of any device, and the standard character
 * devices; `path` is the node a rule stands for. */
const DEFAULT_ALLOWED_DEVICES: readonly { path?: string; rule: LinuxDeviceCgroup }[] = [
  { rule: { allow: true, type: 'c', major: -1, minor: -1, access: 'm' } },
  { rule: { allow: true, type: 'b', major: -1, minor: -1, access: 'm' } },
  { path: '/dev/null', rule: { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' } },
  { path: '/dev/random', rule: { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' } },
  { path: '/dev/full', rule: { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' } },
  { path: '/dev/tty', rule: { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' } },
  { path: '/dev/zero', rule: { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' } },
  { path: '/dev/urandom', rule: { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' } },
  { rule: { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' } }, // /dev/pts/*
  { rule: { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' } }, // /dev/ptmx
  { rule: { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' } }, // /dev/net/tun
];

/** The default rules appended after the spec's. A default whose node the
 * config redefines in linux.devices gives way to it, as in runc: the config's
 * device is then usable only as far as linux.resources.devices allows. */
export function defaultDeviceRules(configDevicePaths: readonly string[] = []): LinuxDeviceCgroup[] {
  const taken = new Set(configDevicePaths);
  return DEFAULT_ALLOWED_DEVICES.filter((d) => d.path === undefined || !taken.has(d.path)).map((d) => ({ ...d.rule }));
}

/** The default rules when the config defines no device of its own. */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = defaultDeviceRules();

/** A device rule as the v1 devices.allow/deny files take it: "c 1:3 rwm", "a". */
export function deviceRuleLine(r: LinuxDeviceCgroup): string {
  const type = r.type ?? 'a';
  if (type === 'a') return 'a *:* rwm';
  const num = (n: number | undefined) => (n === undefined || n < 0 ? '*' : String(n));
  return `${type} ${num(r.major)}:${num(r.minor)} ${deviceAccess(r.access)}`;
}

/** Every write for the v1 devices controller, in order: deny all, the spec's rules, the defaults. */
export function deviceWrites(
  rules: readonly LinuxDeviceCgroup[] | undefined,
  defaults: readonly LinuxDeviceCgroup[] = DEFAULT_DEVICE_RULES,
): { file: string; line: string }[] {
  const out: { file: string; line: string }[] = [{ file: 'devices.deny', line: 'a' }];
  for (const r of [...(rules ?? []), ...defaults]) {
    out.push({ file: r.allow ? 'devices.allow' : 'devices.deny', line: deviceRuleLine(r) });
  }
  return out;
}

// ---- entry point ----

export function applyResources(mgr: CgroupManager, res: LinuxResources | undefined, opts: ApplyOptions): void {
  validateResources(res);
  const r: LinuxResources = res ?? {};
  const ctx: Ctx = { mgr, warn: opts.warn, lenient: opts.lenient ?? false, update: opts.update ?? false, enabled: new Set() };

  if (r.cpu && (nonEmpty(r.cpu.cpus) || nonEmpty(r.cpu.mems))) {
    const t = target(ctx, 'cpuset', 'cpu.cpus/mems');
    if (t) applyCpuset(t, r.cpu);
  }
  if (!ctx.update && !opts.skipDevices) applyDevices(ctx, r.devices, defaultDeviceRules(opts.devicePaths));
  if (r.memory) applyMemory(ctx, r.memory);
  if (r.cpu && cpuSet(r.cpu)) {
    const t = target(ctx, 'cpu', 'cpu');
    if (t) (t.version === 1 ? applyCpuV1 : applyCpuV2)(ctx, t.dir, r.cpu);
  }
  if (r.pids) {
    const t = target(ctx, 'pids', 'pids');
    // 0 is a limit (runtime-spec 1.3; runc 1.4 too), negative is none.
    if (t) writeValue(t.dir, 'pids.max', r.pids.limit >= 0 ? String(r.pids.limit) : 'max');
  }
  if (r.blockIO && blockIOSet(r.blockIO)) {
    const t = target(ctx, 'blkio', 'blockIO');
    if (t) (t.version === 1 ? applyBlkioV1 : applyIoV2)(ctx, t.dir, r.blockIO);
  }
  if (r.hugepageLimits && r.hugepageLimits.length > 0) {
    const t = target(ctx, 'hugetlb', 'hugepageLimits');
    if (t) applyHugetlb(t, r.hugepageLimits);
  }
  if (r.network) applyNetwork(ctx, r.network);
  if (r.rdma && Object.keys(r.rdma).length > 0) {
    const t = target(ctx, 'rdma', 'rdma');
    if (t) applyRdma(t, r.rdma);
  }
  if (r.unified && Object.keys(r.unified).length > 0) applyUnified(ctx, r.unified);
}

function nonEmpty(s: string | undefined): s is string {
  return s !== undefined && s !== '';
}

/** A setting this host cannot apply: refused, unless the config opted in. */
function unapplied(ctx: Ctx, setting: string, why: string): void {
  if (ctx.lenient) {
    ctx.warn(`${setting} ignored: ${why}`);
    return;
  }
  throw new ConfigError(`${setting} cannot be applied: ${why} (annotation ${LENIENT_ANNOTATION}=true runs the container without it)`);
}

/** 0 means "unset" for most OCI numbers (as in runc). */
function nz(n: number | undefined): number | undefined {
  return n === undefined || n === 0 ? undefined : n;
}

function target(ctx: Ctx, c: Controller, what: string): ControllerTarget | undefined {
  const t = findController(ctx.mgr, c);
  if (!t) {
    unapplied(ctx, `linux.resources.${what}`, `no cgroup controller "${c}" on this host`);
    return undefined;
  }
  if (t.version === 2) ensureV2(ctx, t, v2ControllerName(c)!);
  return t;
}

function ensureV2(ctx: Ctx, t: ControllerTarget, name: string): void {
  if (ctx.enabled.has(name)) return;
  enableV2Controllers(t.hierarchy, ctx.mgr.path, [name]);
  ctx.enabled.add(name);
}

// ---- cpuset ----

function applyCpuset(t: ControllerTarget, cpu: LinuxCPU): void {
  if (nonEmpty(cpu.cpus)) writeValue(t.dir, 'cpuset.cpus', cpu.cpus);
  if (nonEmpty(cpu.mems)) writeValue(t.dir, 'cpuset.mems', cpu.mems);
}

// ---- devices (v1: devices.allow/deny; cgroup v2: an eBPF program, see devices-bpf.ts) ----

/** Device rules are a security boundary: a host where they cannot be
 * enforced fails the container (as runc treats a missing devices
 * subsystem), and so does any error attaching them. */
function applyDevices(ctx: Ctx, rules: LinuxDeviceCgroup[] | undefined, defaults: readonly LinuxDeviceCgroup[]): void {
  const t = findController(ctx.mgr, 'devices');
  // >>> devices-bpf: no v1 devices hierarchy (pure cgroup v2): the same rules as an eBPF program on the cgroup2 directory.
  if (!t) {
    const dir = unifiedDir(ctx.mgr);
    if (!dir) throw new CgroupError('cgroup: this host has neither a v1 devices hierarchy nor a cgroup2 mount: the container\'s device rules cannot be enforced');
    applyDevicesV2(dir, [...(rules ?? []), ...defaults]);
    return;
  }
  // <<< devices-bpf
  // Runs of rules for the same file go through one open (order kept).
  const writes = deviceWrites(rules, defaults);
  for (let i = 0; i < writes.length; ) {
    let j = i;
    while (j < writes.length && writes[j]!.file === writes[i]!.file) j++;
    writeValues(t.dir, writes[i]!.file, writes.slice(i, j).map((w) => w.line));
    i = j;
  }
}

// ---- memory ----

const MEMSW = 'memory.memsw.limit_in_bytes';

function applyMemory(ctx: Ctx, m: LinuxMemory): void {
  if (m.kernel !== undefined || m.kernelTCP !== undefined) {
    // As runc 1.1: kernel memory limits are deprecated in the spec.
    ctx.warn('Kernel memory settings are ignored and will be removed');
  }
  const set =
    nz(m.limit) !== undefined ||
    nz(m.reservation) !== undefined ||
    nz(m.swap) !== undefined ||
    (m.swappiness !== undefined && m.swappiness !== -1) ||
    m.disableOOMKiller === true ||
    (ctx.update && m.disableOOMKiller !== undefined);
  if (!set) return;
  const t = target(ctx, 'memory', 'memory');
  if (!t) return;
  if (t.version === 1) applyMemoryV1(ctx, t.dir, m);
  else applyMemoryV2(ctx, t.dir, m);
}

function memLimitBusy(dir: string, file: string): (e: unknown) => string | undefined {
  return (e) => {
    if (errnoCode(e) !== 'EBUSY') return undefined;
    const cur = readU64(dir, file === 'memory.max' ? 'memory.current' : 'memory.usage_in_bytes');
    const peak = readU64(dir, file === 'memory.max' ? 'memory.peak' : 'memory.max_usage_in_bytes');
    return `current usage: ${cur ?? '?'}, peak usage: ${peak ?? '?'}`;
  };
}

/** The order of the v1 memory and memory+swap writes: the kernel wants
 * memsw >= memory at every step, so raise swap first when it is not below the
 * current memory limit, otherwise lower memory first. */
export function v1MemoryOrder(currentLimit: number, limit: number | undefined, swap: number | undefined): ('memory' | 'swap')[] {
  if (limit === undefined) return swap === undefined ? [] : ['swap'];
  if (swap === undefined) return ['memory'];
  return swap === -1 || currentLimit <= swap ? ['swap', 'memory'] : ['memory', 'swap'];
}

function applyMemoryV1(ctx: Ctx, dir: string, m: LinuxMemory): void {
  const limit = nz(m.limit);
  let swap = nz(m.swap);
  const hasMemsw = fileExists(dir, MEMSW);
  // Unlimited memory with no word on swap means unlimited memory+swap too.
  if (limit === -1 && swap === undefined && hasMemsw) swap = -1;
  if (swap !== undefined && !hasMemsw) {
    if (swap !== -1) unapplied(ctx, `linux.resources.memory.swap`, `swap accounting is not enabled on this host (no ${MEMSW})`);
    swap = undefined;
  }
  const setMem = (v: number) => writeValue(dir, 'memory.limit_in_bytes', String(v), memLimitBusy(dir, 'memory.limit_in_bytes'));
  const setSwap = (v: number) =>
    writeValue(dir, MEMSW, String(v), (e) => {
      if (errnoCode(e) !== 'EINVAL') return memLimitBusy(dir, MEMSW)(e);
      const cur = readU64(dir, 'memory.limit_in_bytes');
      return `memory+swap must be >= the memory limit${cur !== undefined ? ` (${cur})` : ''}`;
    });

  const cur = limit !== undefined && swap !== undefined ? (readU64(dir, 'memory.limit_in_bytes') ?? 0) : 0;
  for (const step of v1MemoryOrder(cur, limit, swap)) {
    if (step === 'memory') setMem(limit!);
    else setSwap(swap!);
  }

  const reservation = nz(m.reservation);
  if (reservation !== undefined) writeValue(dir, 'memory.soft_limit_in_bytes', String(reservation));
  if (m.swappiness !== undefined && m.swappiness !== -1) writeValue(dir, 'memory.swappiness', String(m.swappiness));
  if (m.disableOOMKiller === true) writeValue(dir, 'memory.oom_control', '1');
  else if (m.disableOOMKiller === false && ctx.update) writeValue(dir, 'memory.oom_control', '0');
}

function v2Num(n: number): string {
  return n === -1 ? 'max' : String(n);
}

function applyMemoryV2(ctx: Ctx, dir: string, m: LinuxMemory): void {
  const limit = nz(m.limit);
  const swap = nz(m.swap);
  if (m.swappiness !== undefined && m.swappiness !== -1) unapplied(ctx, 'linux.resources.memory.swappiness', 'not supported by cgroup v2');
  if (m.disableOOMKiller === true) unapplied(ctx, 'linux.resources.memory.disableOOMKiller', 'not supported by cgroup v2');

  if (ctx.update && m.checkBeforeUpdate && limit !== undefined && limit > 0) {
    const cur = readU64(dir, 'memory.current');
    if (cur !== undefined && limit < cur) {
      throw new ConfigError(`cgroup: cannot set memory.max to ${limit}: the new limit is below the current usage (${cur})`);
    }
  }

  if (swap !== undefined || limit === -1) {
    let mem = limit;
    if (mem === undefined && ctx.update) {
      const cur = readU64(dir, 'memory.max');
      if (cur !== undefined) mem = cur >= U64_MAX ? -1 : cur;
    }
    const v2 = memorySwapToV2(swap ?? 0, mem ?? 0);
    let str = v2 === 0 ? '' : v2Num(v2);
    if (v2 === 0 && swap !== undefined && swap > 0) str = '0'; // memory == memory+swap: no swap
    if (str !== '') {
      if (fileExists(dir, 'memory.swap.max')) writeValue(dir, 'memory.swap.max', str);
      else if (str !== 'max' && str !== '0') {
        unapplied(ctx, 'linux.resources.memory.swap', 'swap accounting is not enabled on this host (no memory.swap.max)');
      }
    }
  }
  if (limit !== undefined) writeValue(dir, 'memory.max', v2Num(limit), memLimitBusy(dir, 'memory.max'));
  const reservation = nz(m.reservation);
  if (reservation !== undefined) writeValue(dir, 'memory.low', v2Num(reservation));
}

// ---- cpu ----

function cpuSet(c: LinuxCPU): boolean {
  return (
    nz(c.shares) !== undefined ||
    nz(c.quota) !== undefined ||
    nz(c.period) !== undefined ||
    c.burst !== undefined ||
    c.idle !== undefined ||
    nz(c.realtimePeriod) !== undefined ||
    nz(c.realtimeRuntime) !== undefined
  );
}

/** Tries a write that the kernel may reject with EINVAL until a later write
 * lands; returns true if it must be retried afterwards. */
function tryDeferred(dir: string, file: string, value: string, canDefer: boolean): boolean {
  try {
    writeRaw(dir, file, value);
    return false;
  } catch (e) {
    if (errnoCode(e) === 'EINVAL' && canDefer) return true;
    throw new ConfigError(`cgroup: cannot set ${file} to ${value}: ${strerror(e)}`, { cause: e });
  }
}

function applyCpuV1(ctx: Ctx, dir: string, c: LinuxCPU): void {
  const shares = nz(c.shares);
  if (shares !== undefined) {
    writeValue(dir, 'cpu.shares', String(shares));
    const got = readU64(dir, 'cpu.shares');
    if (got !== undefined && got !== shares) {
      throw new ConfigError(
        `cgroup: cannot set cpu.shares to ${shares}: the ${shares > got ? 'maximum' : 'minimum'} allowed cpu-shares is ${got}`,
      );
    }
  }
  const quota = nz(c.quota);
  const period = nz(c.period);
  // Period first; if the kernel refuses it against the old quota, retry after the quota.
  const retryPeriod = period !== undefined && tryDeferred(dir, 'cpu.cfs_period_us', String(period), quota !== undefined);
  let retryBurst = false;
  if (c.burst !== undefined) {
    if (!fileExists(dir, 'cpu.cfs_burst_us')) unapplied(ctx, 'linux.resources.cpu.burst', 'cpu.cfs_burst_us is not available');
    else retryBurst = tryDeferred(dir, 'cpu.cfs_burst_us', String(c.burst), quota !== undefined);
  }
  if (quota !== undefined) {
    writeValue(dir, 'cpu.cfs_quota_us', quota < 0 ? '-1' : String(quota));
    if (retryPeriod) writeValue(dir, 'cpu.cfs_period_us', String(period));
    if (retryBurst) writeValue(dir, 'cpu.cfs_burst_us', String(c.burst));
  }
  if (c.idle !== undefined) {
    if (fileExists(dir, 'cpu.idle')) writeValue(dir, 'cpu.idle', String(c.idle));
    else unapplied(ctx, 'linux.resources.cpu.idle', 'cpu.idle is not available');
  }
  const rtPeriod = nz(c.realtimePeriod);
  const rtRuntime = nz(c.realtimeRuntime);
  if (rtPeriod !== undefined || rtRuntime !== undefined) {
    if (!fileExists(dir, 'cpu.rt_period_us')) {
      unapplied(ctx, 'linux.resources.cpu.realtimePeriod/realtimeRuntime', 'realtime group scheduling is not available');
      return;
    }
    const retry = rtPeriod !== undefined && tryDeferred(dir, 'cpu.rt_period_us', String(rtPeriod), rtRuntime !== undefined);
    if (rtRuntime !== undefined) {
      writeValue(dir, 'cpu.rt_runtime_us', String(rtRuntime));
      if (retry) writeValue(dir, 'cpu.rt_period_us', String(rtPeriod));
    }
  }
}

function applyCpuV2(ctx: Ctx, dir: string, c: LinuxCPU): void {
  if (c.idle !== undefined) writeValue(dir, 'cpu.idle', String(c.idle));
  const shares = nz(c.shares);
  if (shares !== undefined) writeValue(dir, 'cpu.weight', String(sharesToWeight(shares)));
  const quota = nz(c.quota);
  const period = nz(c.period);
  const haveMax = quota !== undefined || period !== undefined;
  const retryBurst = c.burst !== undefined && tryDeferred(dir, 'cpu.max.burst', String(c.burst), haveMax);
  if (haveMax) {
    // cpu.max holds both halves; keep the current one that is not being changed.
    const [curQuota, curPeriod] = (readOptional(dir, 'cpu.max') ?? '').trim().split(/\s+/);
    const q = quota === undefined ? curQuota || 'max' : quota > 0 ? String(quota) : 'max';
    const p = period ?? (curPeriod && /^\d+$/.test(curPeriod) ? curPeriod : '100000');
    writeValue(dir, 'cpu.max', `${q} ${p}`);
    if (retryBurst) writeValue(dir, 'cpu.max.burst', String(c.burst));
  }
  if (nz(c.realtimePeriod) !== undefined || nz(c.realtimeRuntime) !== undefined) {
    unapplied(ctx, 'linux.resources.cpu.realtimePeriod/realtimeRuntime', 'not supported by cgroup v2');
  }
}

// ---- block I/O ----

const THROTTLES: { key: keyof LinuxBlockIO; v1: string; v2: string }[] = [
  { key: 'throttleReadBpsDevice', v1: 'blkio.throttle.read_bps_device', v2: 'rbps' },
  { key: 'throttleWriteBpsDevice', v1: 'blkio.throttle.write_bps_device', v2: 'wbps' },
  { key: 'throttleReadIOPSDevice', v1: 'blkio.throttle.read_iops_device', v2: 'riops' },
  { key: 'throttleWriteIOPSDevice', v1: 'blkio.throttle.write_iops_device', v2: 'wiops' },
];

function blockIOSet(b: LinuxBlockIO): boolean {
  return (
    nz(b.weight) !== undefined ||
    nz(b.leafWeight) !== undefined ||
    (b.weightDevice?.length ?? 0) > 0 ||
    THROTTLES.some((t) => ((b[t.key] as LinuxThrottleDevice[] | undefined)?.length ?? 0) > 0)
  );
}

function applyBlkioV1(ctx: Ctx, dir: string, b: LinuxBlockIO): void {
  const [weightFile, weightDeviceFile] = fileExists(dir, 'blkio.weight')
    ? ['blkio.weight', 'blkio.weight_device']
    : fileExists(dir, 'blkio.bfq.weight')
      ? ['blkio.bfq.weight', 'blkio.bfq.weight_device']
      : [undefined, undefined];
  const weight = nz(b.weight);
  if (weight !== undefined) {
    if (weightFile) writeValue(dir, weightFile, String(weight));
    else unapplied(ctx, 'linux.resources.blockIO.weight', 'no blkio.weight or blkio.bfq.weight (no proportional I/O scheduler)');
  }
  const leaf = nz(b.leafWeight);
  if (leaf !== undefined) {
    if (fileExists(dir, 'blkio.leaf_weight')) writeValue(dir, 'blkio.leaf_weight', String(leaf));
    else unapplied(ctx, 'linux.resources.blockIO.leafWeight', 'blkio.leaf_weight is not available');
  }
  for (const wd of b.weightDevice ?? []) {
    const dev = `${wd.major}:${wd.minor}`;
    if (nz(wd.weight) !== undefined) {
      if (weightDeviceFile && fileExists(dir, weightDeviceFile)) writeValue(dir, weightDeviceFile, `${dev} ${wd.weight}`);
      else unapplied(ctx, `linux.resources.blockIO.weightDevice (${dev}) weight`, `no per-device weight file`);
    }
    if (nz(wd.leafWeight) !== undefined) {
      if (fileExists(dir, 'blkio.leaf_weight_device')) writeValue(dir, 'blkio.leaf_weight_device', `${dev} ${wd.leafWeight}`);
      else unapplied(ctx, `linux.resources.blockIO.weightDevice (${dev}) leafWeight`, `blkio.leaf_weight_device is not available`);
    }
  }
  for (const t of THROTTLES) {
    for (const td of (b[t.key] as LinuxThrottleDevice[] | undefined) ?? []) {
      writeValue(dir, t.v1, `${td.major}:${td.minor} ${td.rate ?? 0}`);
    }
  }
}

/** io.max lines, one per device with every limit given for it: "8:0 rbps=1048576 wiops=100". */
export function ioMaxLines(b: LinuxBlockIO): string[] {
  const byDev = new Map<string, string[]>();
  for (const t of THROTTLES) {
    for (const td of (b[t.key] as LinuxThrottleDevice[] | undefined) ?? []) {
      const dev = `${td.major}:${td.minor}`;
      const rate = td.rate ?? 0;
      const list = byDev.get(dev) ?? [];
      // v1 took 0 as "no limit"; v2 spells it "max".
      const kv = `${t.v2}=${rate === 0 ? 'max' : rate}`;
      const i = list.findIndex((x) => x.startsWith(`${t.v2}=`));
      if (i >= 0) list[i] = kv;
      else list.push(kv);
      byDev.set(dev, list);
    }
  }
  return [...byDev].map(([dev, kvs]) => `${dev} ${kvs.join(' ')}`);
}

function applyIoV2(ctx: Ctx, dir: string, b: LinuxBlockIO): void {
  // With BFQ the weight keeps the v1 scale; io.weight needs the conversion.
  const bfq = fileExists(dir, 'io.bfq.weight');
  const weight = nz(b.weight);
  if (weight !== undefined) {
    if (bfq) writeValue(dir, 'io.bfq.weight', String(weight));
    else writeValue(dir, 'io.weight', String(blkioWeightToIOWeight(weight)));
  }
  if (nz(b.leafWeight) !== undefined) unapplied(ctx, 'linux.resources.blockIO.leafWeight', 'not supported by cgroup v2');
  for (const wd of b.weightDevice ?? []) {
    const dev = `${wd.major}:${wd.minor}`;
    if (nz(wd.weight) !== undefined) {
      if (bfq) writeValue(dir, 'io.bfq.weight', `${dev} ${wd.weight}`);
      else writeValue(dir, 'io.weight', `${dev} ${blkioWeightToIOWeight(wd.weight!)}`);
    }
    if (nz(wd.leafWeight) !== undefined) unapplied(ctx, `linux.resources.blockIO.weightDevice (${dev}) leafWeight`, `not supported by cgroup v2`);
  }
  for (const line of ioMaxLines(b)) writeValue(dir, 'io.max', line);
}

// ---- hugetlb ----

function applyHugetlb(t: ControllerTarget, limits: LinuxHugepageLimit[]): void {
  const suffix = t.version === 1 ? 'limit_in_bytes' : 'max';
  for (const h of limits) {
    const file = `hugetlb.${h.pageSize}.${suffix}`;
    if (!fileExists(t.dir, file)) {
      throw new ConfigError(`linux.resources.hugepageLimits: page size "${h.pageSize}" is not supported on this host (no ${file})`);
    }
    writeValue(t.dir, file, String(h.limit));
    const rsvd = `hugetlb.${h.pageSize}.rsvd.${suffix}`;
    if (fileExists(t.dir, rsvd)) writeValue(t.dir, rsvd, String(h.limit));
  }
}

// ---- net_cls / net_prio (v1 only) ----

function applyNetwork(ctx: Ctx, n: LinuxNetwork): void {
  if (n.classID !== undefined) {
    const t = findController(ctx.mgr, 'net_cls');
    if (t) writeValue(t.dir, 'net_cls.classid', String(n.classID));
    else unapplied(ctx, 'linux.resources.network.classID', 'no cgroup controller "net_cls" on this host');
  }
  if (n.priorities && n.priorities.length > 0) {
    const t = findController(ctx.mgr, 'net_prio');
    if (!t) {
      unapplied(ctx, 'linux.resources.network.priorities', 'no cgroup controller "net_prio" on this host');
      return;
    }
    for (const p of n.priorities) writeValue(t.dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
  }
}

// ---- rdma ----

function applyRdma(t: ControllerTarget, rdma: Record<string, LinuxRdma>): void {
  for (const [dev, lim] of Object.entries(rdma)) {
    const parts: string[] = [];
    if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
    if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
    if (parts.length > 0) writeValue(t.dir, 'rdma.max', `${dev} ${parts.join(' ')}`);
  }
}

// ---- unified (raw cgroup v2 key/values) ----

function applyUnified(ctx: Ctx, unified: Record<string, string>): void {
  const h = unifiedHierarchy(ctx.mgr);
  const dir = unifiedDir(ctx.mgr);
  if (!h || !dir) throw new ConfigError('invalid configuration: linux.resources.unified requires cgroup v2, and this host has no cgroup2 hierarchy');
  const avail = new Set(v2Available(h.mountpoint));
  for (const [key, value] of Object.entries(unified)) {
    const ctl = key.split('.')[0] ?? '';
    if (ctl !== 'cgroup' && avail.has(ctl) && !ctx.enabled.has(ctl)) {
      enableV2Controllers(h, ctx.mgr.path, [ctl]);
      ctx.enabled.add(ctl);
    }
    if (!fileExists(dir, key)) {
      const why = ctl !== 'cgroup' && !avail.has(ctl) ? `controller "${ctl}" is not available on the cgroup2 hierarchy` : 'no such file';
      throw new ConfigError(`invalid configuration: linux.resources.unified cannot set ${key}: ${why} (${dir})`);
    }
    // Multi-line values go one line per write, as the kernel parses them.
    const lines = value.split('\n').filter((l) => l !== '');
    if (lines.length === 0) writeValue(dir, key, value);
    for (const line of lines) writeValue(dir, key, line);
  }
}
