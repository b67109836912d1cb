import { describe, expect, it } from 'vitest';
import { emptyStats } from '../../src/cgroups/stats';
import { statsToMetrics, statsToMetricsV2 } from '../../src/shim/metrics';
import { decode, encode, messageType, T } from '../../src/shim/proto';

function sample() {
  const s = emptyStats();
  s.cpu.usage = { total: 5_000_000, kernel: 1_000_000, user: 3_000_000, percpu: [2_000_000, 3_000_000] };
  s.cpu.throttling = { periods: 10, throttledPeriods: 2, throttledTime: 7000 };
  s.memory.cache = 4096;
  s.memory.usage = { usage: 1 << 20, limit: 64 << 20, max: 2 << 20, failcnt: 3 };
  s.memory.swap = { usage: (1 << 20) + 8192, limit: 2 ** 64, max: 0, failcnt: 0 };
  s.memory.raw = { cache: 4096, rss: 8192, pgpgin: 11, total_rss: 8192, hierarchical_memory_limit: 64 << 20, hierarchical_memsw_limit: 9223372036854771712, anon: 8192, file: 4096, pgfault: 5 };
  s.pids = { current: 2, limit: 100 };
  s.blkio.ioServiceBytesRecursive = [
    { major: 8, minor: 0, op: 'Read', value: 100 },
    { major: 8, minor: 0, op: 'Write', value: 200 },
    { major: 8, minor: 0, op: 'Total', value: 300 },
  ];
  s.blkio.ioServicedRecursive = [{ major: 8, minor: 0, op: 'Read', value: 1 }];
  s.hugetlb = { '2MB': { usage: 0, max: 0, failcnt: 1 } };
  return s;
}

describe('stats to containerd metrics', () => {
  it('v1: the fields ctr task metrics prints, exact 64-bit limits', () => {
    const m = decode<Record<string, any>>(T.Metrics, encode(T.Metrics, statsToMetrics(sample(), 4)));
    expect(m.memory.usage).toEqual({ usage: 1 << 20, limit: 64 << 20, max: 2 << 20, failcnt: 3 });
    expect(m.memory.total_cache).toBe(0);
    expect(m.memory.cache).toBe(4096);
    expect(m.memory.rss).toBe(8192);
    expect(m.memory.total_rss).toBe(8192);
    expect(m.memory.pg_pg_in).toBe(11);
    expect(BigInt(m.memory.hierarchical_swap_limit)).toBe(9223372036854771712n);
    expect(m.cpu.usage).toEqual({ total: 5_000_000, kernel: 1_000_000, user: 3_000_000, per_cpu: [2_000_000, 3_000_000] });
    expect(m.cpu.throttling).toEqual({ periods: 10, throttled_periods: 2, throttled_time: 7000 });
    expect(m.pids).toEqual({ current: 2, limit: 100 });
    expect(m.blkio.io_service_bytes_recursive).toHaveLength(3);
    expect(m.blkio.io_service_bytes_recursive[0]).toEqual({ op: 'Read', device: '', major: 8, minor: 0, value: 100 });
    expect(m.hugetlb).toEqual([{ usage: 0, max: 0, failcnt: 1, pagesize: '2MB' }]);
    expect(m.memory_oom_control.oom_kill).toBe(4);
    // swap limit 2^64 ("max") is written as the u64 maximum.
    const t = messageType(T.Metrics);
    const exact = t.toObject(t.decode(encode(T.Metrics, statsToMetrics(sample()))), { longs: String }) as { memory: { swap: { limit: string } } };
    expect(exact.memory.swap.limit).toBe('18446744073709551615');
  });

  it('v2: usec units, swap without memory, io per device', () => {
    const m = decode<Record<string, any>>(T.MetricsV2, encode(T.MetricsV2, statsToMetricsV2(sample(), 1)));
    expect(m.cpu).toEqual({ usage_usec: 5000, user_usec: 3000, system_usec: 1000, nr_periods: 10, nr_throttled: 2, throttled_usec: 7 });
    expect(m.memory.usage).toBe(1 << 20);
    expect(m.memory.usage_limit).toBe(64 << 20);
    expect(m.memory.swap_usage).toBe(8192);
    expect(m.memory.anon).toBe(8192);
    expect(m.memory.pgfault).toBe(5);
    expect(m.io.usage).toEqual([{ major: 8, minor: 0, rbytes: 100, wbytes: 200, rios: 1, wios: 0 }]);
    expect(m.memory_events).toMatchObject({ max: 3, oom_kill: 1 });
    expect(m.hugetlb).toEqual([{ current: 0, max: 0, pagesize: '2MB' }]);
  });
});
