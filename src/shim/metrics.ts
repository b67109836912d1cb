// Runtime.stats() (runc's `events --stats` shape) as containerd's cgroup v1
// Metrics message (io.containerd.cgroups.v1.Metrics), what `ctr task
// metrics` and CRI expect from a Linux shim.
import type { BlkioEntry, Stats } from '../cgroups/stats';
import { u64 } from './proto';

const MEMORY_STAT_FIELDS = [
  'cache',
  'rss',
  'rss_huge',
  'mapped_file',
  'dirty',
  'writeback',
  ['pg_pg_in', 'pgpgin'],
  ['pg_pg_out', 'pgpgout'],
  ['pg_fault', 'pgfault'],
  ['pg_maj_fault', 'pgmajfault'],
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
  'hierarchical_memory_limit',
  ['hierarchical_swap_limit', 'hierarchical_memsw_limit'],
] as const;

function entry(e: { limit: number; usage: number; max: number; failcnt: number }) {
  return { limit: u64(e.limit), usage: u64(e.usage), max: u64(e.max), failcnt: u64(e.failcnt) };
}

function blkio(list: BlkioEntry[]) {
  return list.map((e) => ({ op: e.op, device: '', major: u64(e.major), minor: u64(e.minor), value: u64(e.value) }));
}

export function statsToMetrics(s: Stats, oomKills = 0): Record<string, unknown> {
  const raw = s.memory.raw;
  const memory: Record<string, unknown> = {
    usage: entry(s.memory.usage),
    swap: entry(s.memory.swap),
    kernel: entry(s.memory.kernel),
    kernel_tcp: entry(s.memory.kernelTCP),
  };
  for (const f of MEMORY_STAT_FIELDS) {
    const [field, key] = typeof f === 'string' ? [f, f] : f;
    memory[field] = u64(raw[key]);
    memory[`total_${field}`] = u64(raw[`total_${key}`]);
  }
  delete memory.total_hierarchical_memory_limit;
  delete memory.total_hierarchical_swap_limit;
  memory.cache = u64(s.memory.cache || raw.cache);
  return {
    hugetlb: Object.entries(s.hugetlb).map(([pagesize, h]) => ({ usage: u64(h.usage), max: u64(h.max), failcnt: u64(h.failcnt), pagesize })),
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usage: {
        total: u64(s.cpu.usage.total),
        kernel: u64(s.cpu.usage.kernel),
        user: u64(s.cpu.usage.user),
        per_cpu: (s.cpu.usage.percpu ?? []).map(u64),
      },
      throttling: {
        periods: u64(s.cpu.throttling.periods),
        throttled_periods: u64(s.cpu.throttling.throttledPeriods),
        throttled_time: u64(s.cpu.throttling.throttledTime),
      },
    },
    memory,
    blkio: {
      io_service_bytes_recursive: blkio(s.blkio.ioServiceBytesRecursive),
      io_serviced_recursive: blkio(s.blkio.ioServicedRecursive),
      io_queued_recursive: blkio(s.blkio.ioQueueRecursive),
      io_service_time_recursive: blkio(s.blkio.ioServiceTimeRecursive),
      io_wait_time_recursive: blkio(s.blkio.ioWaitTimeRecursive),
      io_merged_recursive: blkio(s.blkio.ioMergedRecursive),
      io_time_recursive: blkio(s.blkio.ioTimeRecursive),
      sectors_recursive: blkio(s.blkio.sectorsRecursive),
    },
    memory_oom_control: { oom_kill: u64(oomKills) },
  };
}

const V2_MEMORY_FIELDS = [
  'anon',
  'file',
  'kernel_stack',
  'slab',
  'sock',
  'shmem',
  'file_mapped',
  'file_dirty',
  'file_writeback',
  'anon_thp',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
  'slab_reclaimable',
  'slab_unreclaimable',
  'pgfault',
  'pgmajfault',
  'workingset_refault',
  'workingset_activate',
  'workingset_nodereclaim',
  'pgrefill',
  'pgscan',
  'pgsteal',
  'pgactivate',
  'pgdeactivate',
  'pglazyfree',
  'pglazyfreed',
  'thp_fault_alloc',
  'thp_collapse_alloc',
] as const;

const U64_LIMIT = 2 ** 64;

/** The same for a cgroup v2 host: io.containerd.cgroups.v2.Metrics. (stats.ts
 * reports v2 swap as memory+swap, like v1; v2 metrics want swap alone.) */
export function statsToMetricsV2(s: Stats, oomKills = 0): Record<string, unknown> {
  const raw = s.memory.raw;
  const memory: Record<string, unknown> = {};
  for (const f of V2_MEMORY_FIELDS) memory[f] = u64(raw[f]);
  const usage = s.memory.usage;
  memory.usage = u64(usage.usage);
  memory.usage_limit = u64(usage.limit);
  memory.swap_usage = u64(Math.max(0, s.memory.swap.usage - usage.usage));
  memory.swap_limit = u64(s.memory.swap.limit >= U64_LIMIT || usage.limit >= U64_LIMIT ? s.memory.swap.limit : Math.max(0, s.memory.swap.limit - usage.limit));
  const io = new Map<string, { major: number; minor: number; rbytes: number; wbytes: number; rios: number; wios: number }>();
  const dev = (e: BlkioEntry) => {
    const k = `${e.major}:${e.minor}`;
    let d = io.get(k);
    if (!d) io.set(k, (d = { major: e.major, minor: e.minor, rbytes: 0, wbytes: 0, rios: 0, wios: 0 }));
    return d;
  };
  for (const e of s.blkio.ioServiceBytesRecursive) {
    if (/^read$/i.test(e.op)) dev(e).rbytes = e.value;
    else if (/^write$/i.test(e.op)) dev(e).wbytes = e.value;
  }
  for (const e of s.blkio.ioServicedRecursive) {
    if (/^read$/i.test(e.op)) dev(e).rios = e.value;
    else if (/^write$/i.test(e.op)) dev(e).wios = e.value;
  }
  return {
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usage_usec: u64(s.cpu.usage.total / 1000),
      user_usec: u64(s.cpu.usage.user / 1000),
      system_usec: u64(s.cpu.usage.kernel / 1000),
      nr_periods: u64(s.cpu.throttling.periods),
      nr_throttled: u64(s.cpu.throttling.throttledPeriods),
      throttled_usec: u64(s.cpu.throttling.throttledTime / 1000),
    },
    memory,
    io: { usage: [...io.values()].map((d) => ({ major: u64(d.major), minor: u64(d.minor), rbytes: u64(d.rbytes), wbytes: u64(d.wbytes), rios: u64(d.rios), wios: u64(d.wios) })) },
    hugetlb: Object.entries(s.hugetlb).map(([pagesize, h]) => ({ current: u64(h.usage), max: u64(h.max), pagesize })),
    memory_events: { max: u64(usage.failcnt), oom_kill: u64(oomKills) },
  };
}
