// The payload of `runc events --stats` (runc's types.Stats, same JSON names),
// read from whichever hierarchy serves each controller. Missing files read as
// zeros, as in runc. Use jsonStringifyU64 to print it: some values (unlimited
// limits) do not fit in a double exactly.
import { readdirSync } from 'node:fs';
import { findController, unifiedDir } from './controllers';
import { CgroupError, parseFlatKeyed, readOptional, readU64, U64_MAX } from './fsutil';
import type { CgroupManager } from './manager';

export interface PSIData {
  avg10: number;
  avg60: number;
  avg300: number;
  total: number;
}
export interface PSIStats {
  some: PSIData;
  full: PSIData;
}

export interface CpuUsage {
  /** nanoseconds */
  total: number;
  percpu?: number[];
  percpu_kernel?: number[];
  percpu_user?: number[];
  kernel: number;
  user: number;
}
export interface Throttling {
  periods: number;
  throttledPeriods: number;
  /** nanoseconds */
  throttledTime: number;
}
export interface CpuStats {
  usage: CpuUsage;
  throttling: Throttling;
  psi?: PSIStats;
}
export interface CPUSetStats {
  cpus?: number[];
  cpu_exclusive: number;
  mems?: number[];
  mem_hardwall: number;
  mem_exclusive: number;
  memory_migrate: number;
  memory_spread_page: number;
  memory_spread_slab: number;
  memory_pressure: number;
  sched_load_balance: number;
  sched_relax_domain_level: number;
}
export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}
export interface MemoryStats {
  cache: number;
  usage: MemoryEntry;
  swap: MemoryEntry;
  kernel: MemoryEntry;
  kernelTCP: MemoryEntry;
  raw: Record<string, number>;
  psi?: PSIStats;
}
export interface PidsStats {
  current: number;
  /** 0 when unlimited */
  limit: number;
}
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}
export interface BlkioStats {
  ioServiceBytesRecursive: BlkioEntry[];
  ioServicedRecursive: BlkioEntry[];
  ioQueueRecursive: BlkioEntry[];
  ioServiceTimeRecursive: BlkioEntry[];
  ioWaitTimeRecursive: BlkioEntry[];
  ioMergedRecursive: BlkioEntry[];
  ioTimeRecursive: BlkioEntry[];
  sectorsRecursive: BlkioEntry[];
  psi?: PSIStats;
}
export interface HugetlbStats {
  usage: number;
  max: number;
  failcnt: number;
}
export interface Stats {
  cpu: CpuStats;
  cpuset: CPUSetStats;
  memory: MemoryStats;
  pids: PidsStats;
  blkio: BlkioStats;
  hugetlb: Record<string, HugetlbStats>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

const CLOCK_TICKS = 100;
const NS = 1_000_000_000;

function emptyEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

export function emptyStats(): Stats {
  return {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
    cpuset: {
      cpu_exclusive: 0,
      mem_hardwall: 0,
      mem_exclusive: 0,
      memory_migrate: 0,
      memory_spread_page: 0,
      memory_spread_slab: 0,
      memory_pressure: 0,
      sched_load_balance: 0,
      sched_relax_domain_level: 0,
    },
    memory: { cache: 0, usage: emptyEntry(), swap: emptyEntry(), kernel: emptyEntry(), kernelTCP: emptyEntry(), raw: {} },
    pids: { current: 0, limit: 0 },
    blkio: {
      ioServiceBytesRecursive: [],
      ioServicedRecursive: [],
      ioQueueRecursive: [],
      ioServiceTimeRecursive: [],
      ioWaitTimeRecursive: [],
      ioMergedRecursive: [],
      ioTimeRecursive: [],
      sectorsRecursive: [],
    },
    hugetlb: {},
    intel_rdt: {},
    network_interfaces: null,
  };
}

export function readStats(mgr: CgroupManager): Stats {
  const s = emptyStats();
  cpuStats(mgr, s);
  cpusetStats(mgr, s);
  memoryStats(mgr, s);
  pidsStats(mgr, s);
  blkioStats(mgr, s);
  hugetlbStats(mgr, s);
  return s;
}

// ---- parsers (exported for tests) ----

/** "0-2,5" → [0,1,2,5] */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const item of text.trim().split(',')) {
    if (!item) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw new CgroupError(`cgroup: cannot parse cpu list ${JSON.stringify(text.trim())}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

/** cgroup v1 blkio files: "8:0 Read 1282048" lines, "Total N" skipped; "8:0 6792" has no op. */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(/[\s:]+/).filter(Boolean);
    if (f.length === 0 || (f.length === 2 && f[0] === 'Total')) continue;
    if (f.length < 3) throw new CgroupError(`cgroup: malformed blkio line ${JSON.stringify(line)}`);
    const [maj, min] = [Number(f[0]), Number(f[1])];
    const op = f.length >= 4 ? f[2]! : '';
    const value = Number(f.length >= 4 ? f[3] : f[2]);
    if (![maj, min, value].every(Number.isFinite)) throw new CgroupError(`cgroup: malformed blkio line ${JSON.stringify(line)}`);
    out.push({ major: maj, minor: min, op, value });
  }
  return out;
}

/** cgroup v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
export function parseIoStatV2(text: string): Pick<BlkioStats, 'ioServiceBytesRecursive' | 'ioServicedRecursive'> {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      const value = Number(v);
      if (!Number.isFinite(value)) continue;
      if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
    }
  }
  return { ioServiceBytesRecursive: bytes, ioServicedRecursive: ios };
}

/** cpu.pressure etc.: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0". */
export function parsePSI(text: string): PSIStats {
  const zero = (): PSIData => ({ avg10: 0, avg60: 0, avg300: 0, total: 0 });
  const psi: PSIStats = { some: zero(), full: zero() };
  for (const line of text.split('\n')) {
    const [kind, ...kvs] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      if (k === 'avg10' || k === 'avg60' || k === 'avg300' || k === 'total') psi[kind][k] = Number(v) || 0;
    }
  }
  return psi;
}

function readPSI(dir: string, file: string): PSIStats | undefined {
  const t = readOptional(dir, file);
  return t === undefined ? undefined : parsePSI(t);
}

// ---- cpu ----

function cpuStats(mgr: CgroupManager, s: Stats): void {
  const acct = findController(mgr, 'cpuacct');
  if (acct?.version === 1) {
    const d = acct.dir;
    s.cpu.usage.total = readU64(d, 'cpuacct.usage') ?? 0;
    const stat = parseFlatKeyed(readOptional(d, 'cpuacct.stat') ?? '');
    s.cpu.usage.user = ((stat.user ?? 0) * NS) / CLOCK_TICKS;
    s.cpu.usage.kernel = ((stat.system ?? 0) * NS) / CLOCK_TICKS;
    const percpu = readOptional(d, 'cpuacct.usage_percpu');
    if (percpu !== undefined) s.cpu.usage.percpu = percpu.trim().split(/\s+/).filter(Boolean).map(Number);
    const all = readOptional(d, 'cpuacct.usage_all');
    if (all !== undefined) {
      const lines = all.split('\n').slice(1).filter(Boolean);
      const rows = lines.map((l) => l.trim().split(/\s+/).map(Number));
      s.cpu.usage.percpu_user = rows.map((r) => r[1] ?? 0);
      s.cpu.usage.percpu_kernel = rows.map((r) => r[2] ?? 0);
    }
  }
  const cpu = findController(mgr, 'cpu');
  if (cpu?.version === 1) {
    const st = parseFlatKeyed(readOptional(cpu.dir, 'cpu.stat') ?? '');
    s.cpu.throttling = {
      periods: st.nr_periods ?? 0,
      throttledPeriods: st.nr_throttled ?? 0,
      throttledTime: st.throttled_time ?? 0,
    };
  }
  // cgroup v2: cpu.stat is always there (usage even without the cpu controller).
  const u = unifiedDir(mgr);
  if (u && acct?.version !== 1) {
    const st = parseFlatKeyed(readOptional(u, 'cpu.stat') ?? '');
    s.cpu.usage.total = (st.usage_usec ?? 0) * 1000;
    s.cpu.usage.user = (st.user_usec ?? 0) * 1000;
    s.cpu.usage.kernel = (st.system_usec ?? 0) * 1000;
    if (cpu?.version !== 1) {
      s.cpu.throttling = {
        periods: st.nr_periods ?? 0,
        throttledPeriods: st.nr_throttled ?? 0,
        throttledTime: (st.throttled_usec ?? 0) * 1000,
      };
    }
    s.cpu.psi = readPSI(u, 'cpu.pressure');
  }
}

// ---- cpuset ----

function cpusetStats(mgr: CgroupManager, s: Stats): void {
  const t = findController(mgr, 'cpuset');
  if (!t) return;
  const d = t.dir;
  if (t.version === 1) {
    const cpus = readOptional(d, 'cpuset.cpus');
    if (cpus?.trim()) s.cpuset.cpus = parseCpuList(cpus);
    const mems = readOptional(d, 'cpuset.mems');
    if (mems?.trim()) s.cpuset.mems = parseCpuList(mems);
    const num = (f: string) => readU64(d, `cpuset.${f}`) ?? 0;
    s.cpuset.cpu_exclusive = num('cpu_exclusive');
    s.cpuset.mem_hardwall = num('mem_hardwall');
    s.cpuset.mem_exclusive = num('mem_exclusive');
    s.cpuset.memory_migrate = num('memory_migrate');
    s.cpuset.memory_spread_page = num('memory_spread_page');
    s.cpuset.memory_spread_slab = num('memory_spread_slab');
    s.cpuset.memory_pressure = num('memory_pressure');
    s.cpuset.sched_load_balance = num('sched_load_balance');
    const lvl = (readOptional(d, 'cpuset.sched_relax_domain_level') ?? '0').trim();
    s.cpuset.sched_relax_domain_level = Number(lvl) || 0;
  } else {
    const cpus = readOptional(d, 'cpuset.cpus.effective');
    if (cpus?.trim()) s.cpuset.cpus = parseCpuList(cpus);
    const mems = readOptional(d, 'cpuset.mems.effective');
    if (mems?.trim()) s.cpuset.mems = parseCpuList(mems);
  }
}

// ---- memory ----

function memEntryV1(dir: string, prefix: string): MemoryEntry {
  const usage = readU64(dir, `${prefix}.usage_in_bytes`);
  if (usage === undefined) return emptyEntry();
  return {
    usage,
    max: readU64(dir, `${prefix}.max_usage_in_bytes`) ?? 0,
    failcnt: readU64(dir, `${prefix}.failcnt`) ?? 0,
    limit: readU64(dir, `${prefix}.limit_in_bytes`) ?? 0,
  };
}

function memEntryV2(dir: string, prefix: string): MemoryEntry {
  const usage = readU64(dir, `${prefix}.current`);
  if (usage === undefined) return emptyEntry();
  return { usage, limit: readU64(dir, `${prefix}.max`) ?? 0, max: readU64(dir, `${prefix}.peak`) ?? 0, failcnt: 0 };
}

function memoryStats(mgr: CgroupManager, s: Stats): void {
  const t = findController(mgr, 'memory');
  if (!t) return;
  const d = t.dir;
  const stat = readOptional(d, 'memory.stat');
  if (stat === undefined) return;
  s.memory.raw = parseFlatKeyed(stat);
  if (t.version === 1) {
    s.memory.cache = s.memory.raw.cache ?? 0;
    s.memory.usage = memEntryV1(d, 'memory');
    s.memory.swap = memEntryV1(d, 'memory.memsw');
    s.memory.kernel = memEntryV1(d, 'memory.kmem');
    s.memory.kernelTCP = memEntryV1(d, 'memory.kmem.tcp');
  } else {
    s.memory.cache = s.memory.raw.file ?? 0;
    s.memory.usage = memEntryV2(d, 'memory');
    const events = parseFlatKeyed(readOptional(d, 'memory.events') ?? '');
    s.memory.usage.failcnt = events.max ?? 0;
    // v1 reports swap as memory+swap; do the same.
    const swap = memEntryV2(d, 'memory.swap');
    swap.usage += s.memory.usage.usage;
    if (swap.limit < U64_MAX) swap.limit += s.memory.usage.limit;
    swap.max = 0;
    s.memory.swap = swap;
    s.memory.psi = readPSI(d, 'memory.pressure');
  }
}

// ---- pids ----

function pidsStats(mgr: CgroupManager, s: Stats): void {
  const t = findController(mgr, 'pids');
  if (t) {
    const current = readU64(t.dir, 'pids.current');
    if (current !== undefined) {
      const max = readU64(t.dir, 'pids.max') ?? 0;
      s.pids = { current, limit: max >= U64_MAX ? 0 : max };
      return;
    }
  }
  // No pids controller: count the processes.
  s.pids = { current: mgr.pids().length, limit: 0 };
}

// ---- blkio / io ----

const BLKIO_GROUPS: [string, keyof BlkioStats][][] = [
  [
    ['blkio.bfq.sectors_recursive', 'sectorsRecursive'],
    ['blkio.bfq.io_service_time_recursive', 'ioServiceTimeRecursive'],
    ['blkio.bfq.io_wait_time_recursive', 'ioWaitTimeRecursive'],
    ['blkio.bfq.io_merged_recursive', 'ioMergedRecursive'],
    ['blkio.bfq.io_queued_recursive', 'ioQueueRecursive'],
    ['blkio.bfq.time_recursive', 'ioTimeRecursive'],
    ['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'],
    ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ],
  [
    ['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'],
    ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ],
  [
    ['blkio.sectors_recursive', 'sectorsRecursive'],
    ['blkio.io_service_time_recursive', 'ioServiceTimeRecursive'],
    ['blkio.io_wait_time_recursive', 'ioWaitTimeRecursive'],
    ['blkio.io_merged_recursive', 'ioMergedRecursive'],
    ['blkio.io_queued_recursive', 'ioQueueRecursive'],
    ['blkio.time_recursive', 'ioTimeRecursive'],
    ['blkio.io_serviced_recursive', 'ioServicedRecursive'],
    ['blkio.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ],
  [
    ['blkio.throttle.io_serviced_recursive', 'ioServicedRecursive'],
    ['blkio.throttle.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ],
  [
    ['blkio.throttle.io_serviced', 'ioServicedRecursive'],
    ['blkio.throttle.io_service_bytes', 'ioServiceBytesRecursive'],
  ],
];

function blkioStats(mgr: CgroupManager, s: Stats): void {
  const t = findController(mgr, 'blkio');
  if (!t) return;
  if (t.version === 2) {
    const text = readOptional(t.dir, 'io.stat');
    if (text !== undefined) Object.assign(s.blkio, parseIoStatV2(text));
    s.blkio.psi = readPSI(t.dir, 'io.pressure');
    return;
  }
  // Like runc: the first group whose first file exists (and is non-empty) wins.
  for (const group of BLKIO_GROUPS) {
    const first = readOptional(t.dir, group[0]![0]);
    if (first === undefined || first.trim() === '') continue;
    for (const [file, key] of group) {
      const text = readOptional(t.dir, file);
      if (text !== undefined) (s.blkio[key] as BlkioEntry[]) = parseBlkioV1(text);
    }
    return;
  }
}

// ---- hugetlb ----

function hugetlbStats(mgr: CgroupManager, s: Stats): void {
  const t = findController(mgr, 'hugetlb');
  if (!t) return;
  let names: string[];
  try {
    names = readdirSync(t.dir);
  } catch {
    return;
  }
  const suffix = t.version === 1 ? '.limit_in_bytes' : '.max';
  const sizes = names
    .map((n) => /^hugetlb\.(\d+[KMGTP]B)(?:\.rsvd)?/.exec(n)?.[1])
    .filter((x, i, a): x is string => x !== undefined && a.indexOf(x) === i && names.includes(`hugetlb.${x}${suffix}`));
  for (const size of sizes) {
    const p = `hugetlb.${size}`;
    if (t.version === 1) {
      const rsvd = names.includes(`${p}.rsvd.usage_in_bytes`) ? `${p}.rsvd` : p;
      s.hugetlb[size] = {
        usage: readU64(t.dir, `${rsvd}.usage_in_bytes`) ?? 0,
        max: readU64(t.dir, `${rsvd}.max_usage_in_bytes`) ?? 0,
        failcnt: readU64(t.dir, `${rsvd}.failcnt`) ?? 0,
      };
    } else {
      const rsvd = names.includes(`${p}.rsvd.current`) ? `${p}.rsvd` : p;
      const events = parseFlatKeyed(readOptional(t.dir, `${p}.events`) ?? '');
      s.hugetlb[size] = { usage: readU64(t.dir, `${rsvd}.current`) ?? 0, max: 0, failcnt: events.max ?? 0 };
    }
  }
}
