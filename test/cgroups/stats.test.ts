import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonStringifyU64, U64_MAX } from '../../src/cgroups/fsutil';
import { oomKillCount, underOom } from '../../src/cgroups/oom';
import { parseBlkioV1, parseCpuList, parseIoStatV2, parsePSI, readStats } from '../../src/cgroups/stats';
import { fakeHost, type FakeHost } from './fakefs';

let host: FakeHost | undefined;
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

describe('parsers', () => {
  it('parses cpu lists', () => {
    expect(parseCpuList('0-2,5\n')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('\n')).toEqual([]);
  });

  it('parses v1 blkio files, skipping Total', () => {
    expect(parseBlkioV1('8:0 Read 1282048\n8:0 Write 2195456\nTotal 3477504\n')).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 1282048 },
      { major: 8, minor: 0, op: 'Write', value: 2195456 },
    ]);
    expect(parseBlkioV1('8:0 6792\n')).toEqual([{ major: 8, minor: 0, op: '', value: 6792 }]);
  });

  it('maps v2 io.stat onto the v1 tables', () => {
    expect(parseIoStatV2('254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n')).toEqual({
      ioServiceBytesRecursive: [
        { major: 254, minor: 0, op: 'Read', value: 10 },
        { major: 254, minor: 0, op: 'Write', value: 20 },
      ],
      ioServicedRecursive: [
        { major: 254, minor: 0, op: 'Read', value: 1 },
        { major: 254, minor: 0, op: 'Write', value: 2 },
      ],
    });
  });

  it('parses PSI', () => {
    expect(parsePSI('some avg10=1.50 avg60=0.00 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n')).toEqual({
      some: { avg10: 1.5, avg60: 0, avg300: 0, total: 123 },
      full: { avg10: 0, avg60: 0, avg300: 0, total: 7 },
    });
  });

  it('prints uint64 values exactly', () => {
    expect(jsonStringifyU64({ a: 9223372036854771712, b: U64_MAX, c: [1, 'x'], d: undefined, e: null })).toBe(
      '{"a":9223372036854771712,"b":18446744073709551615,"c":[1,"x"],"e":null}',
    );
  });
});

describe('readStats on cgroup v1', () => {
  it('reads cpu, memory, pids, blkio, cpuset and hugetlb like runc', () => {
    host = fakeHost(['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb']);
    host.write('cpuacct', 'cpuacct.usage', '5000000');
    host.write('cpuacct', 'cpuacct.stat', 'user 3\nsystem 2\n');
    host.write('cpuacct', 'cpuacct.usage_percpu', '3000000 2000000 \n');
    host.write('cpuacct', 'cpuacct.usage_all', 'cpu user system\n0 2000000 1000000\n1 1500000 500000\n');
    host.write('cpu', 'cpu.stat', 'nr_periods 10\nnr_throttled 3\nthrottled_time 999\nnr_bursts 0\nburst_time 0\n');
    host.write('cpuset', 'cpuset.cpus', '0-1\n');
    host.write('cpuset', 'cpuset.sched_load_balance', '1\n');
    host.write('memory', 'memory.stat', 'cache 4096\nrss 8192\ntotal_cache 4096\n');
    host.write('memory', 'memory.usage_in_bytes', '12288\n');
    host.write('memory', 'memory.max_usage_in_bytes', '20480\n');
    host.write('memory', 'memory.failcnt', '2\n');
    host.write('memory', 'memory.limit_in_bytes', '9223372036854771712\n');
    host.write('memory', 'memory.memsw.usage_in_bytes', '12288\n');
    host.write('memory', 'memory.memsw.max_usage_in_bytes', '20480\n');
    host.write('memory', 'memory.memsw.failcnt', '0\n');
    host.write('memory', 'memory.memsw.limit_in_bytes', '9223372036854771712\n');
    host.write('pids', 'pids.current', '3\n');
    host.write('pids', 'pids.max', 'max\n');
    host.write('blkio', 'blkio.throttle.io_service_bytes_recursive', '254:0 Read 4096\n254:0 Write 0\nTotal 4096\n');
    host.write('blkio', 'blkio.throttle.io_serviced_recursive', '254:0 Read 1\n254:0 Write 0\nTotal 1\n');
    host.write('hugetlb', 'hugetlb.2MB.limit_in_bytes', '9223372036854771712\n');
    host.write('hugetlb', 'hugetlb.2MB.usage_in_bytes', '2097152\n');
    host.write('hugetlb', 'hugetlb.2MB.max_usage_in_bytes', '4194304\n');
    host.write('hugetlb', 'hugetlb.2MB.failcnt', '1\n');

    const s = readStats(host.mgr);
    expect(s.cpu.usage).toEqual({
      total: 5000000,
      user: 30000000,
      kernel: 20000000,
      percpu: [3000000, 2000000],
      percpu_user: [2000000, 1500000],
      percpu_kernel: [1000000, 500000],
    });
    expect(s.cpu.throttling).toEqual({ periods: 10, throttledPeriods: 3, throttledTime: 999 });
    expect(s.cpuset.cpus).toEqual([0, 1]);
    expect(s.cpuset.mems).toEqual([0]);
    expect(s.cpuset.sched_load_balance).toBe(1);
    expect(s.memory.cache).toBe(4096);
    expect(s.memory.raw).toEqual({ cache: 4096, rss: 8192, total_cache: 4096 });
    expect(s.memory.usage).toEqual({ usage: 12288, max: 20480, failcnt: 2, limit: 9223372036854771712 });
    expect(s.memory.swap.usage).toBe(12288);
    expect(s.memory.kernel).toEqual({ limit: 0, usage: 0, max: 0, failcnt: 0 });
    expect(s.pids).toEqual({ current: 3, limit: 0 });
    expect(s.blkio.ioServiceBytesRecursive).toEqual([
      { major: 254, minor: 0, op: 'Read', value: 4096 },
      { major: 254, minor: 0, op: 'Write', value: 0 },
    ]);
    expect(s.blkio.ioServicedRecursive).toHaveLength(2);
    expect(s.hugetlb).toEqual({ '2MB': { usage: 2097152, max: 4194304, failcnt: 1 } });
    expect(s.intel_rdt).toEqual({});
    expect(s.network_interfaces).toBeNull();
    const json = jsonStringifyU64(s);
    expect(json).toContain('"limit":9223372036854771712');
    expect(json).toContain('"throttledPeriods":3');
  });

  it('counts processes when there is no pids controller', () => {
    host = fakeHost(['memory']);
    host.write('memory', 'cgroup.procs', '10\n11\n');
    expect(readStats(host.mgr).pids).toEqual({ current: 2, limit: 0 });
  });
});

describe('readStats on cgroup v2', () => {
  it('reads cpu.stat, memory, io.stat, pids, hugetlb and PSI', () => {
    host = fakeHost([], {
      controllers: ['cpu', 'memory', 'io', 'pids', 'hugetlb', 'cpuset'],
      files: {
        'cpu.stat': 'usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n',
        'cpu.pressure': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=9\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4\n',
        'memory.stat': 'anon 8192\nfile 4096\n',
        'memory.current': '12288\n',
        'memory.max': 'max\n',
        'memory.peak': '16384\n',
        'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
        'memory.swap.current': '100\n',
        'memory.swap.max': 'max\n',
        'io.stat': '8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n',
        'pids.current': '2\n',
        'pids.max': '50\n',
        'cpuset.cpus.effective': '0-3\n',
        'cpuset.mems.effective': '0\n',
        'hugetlb.2MB.current': '0\n',
        'hugetlb.2MB.max': 'max\n',
        'hugetlb.2MB.events': 'max 2\n',
      },
    });
    const s = readStats(host.mgr);
    expect(s.cpu.usage).toEqual({ total: 100000, user: 60000, kernel: 40000 });
    expect(s.cpu.throttling).toEqual({ periods: 5, throttledPeriods: 1, throttledTime: 7000 });
    expect(s.cpu.psi?.some.total).toBe(9);
    expect(s.memory.cache).toBe(4096);
    expect(s.memory.usage).toEqual({ usage: 12288, limit: U64_MAX, max: 16384, failcnt: 3 });
    expect(s.memory.swap).toEqual({ usage: 12388, limit: U64_MAX, max: 0, failcnt: 0 });
    expect(s.pids).toEqual({ current: 2, limit: 50 });
    expect(s.cpuset.cpus).toEqual([0, 1, 2, 3]);
    expect(s.blkio.ioServiceBytesRecursive).toHaveLength(2);
    expect(s.hugetlb).toEqual({ '2MB': { usage: 0, max: 0, failcnt: 2 } });
    expect(jsonStringifyU64(s.memory.usage)).toBe('{"usage":12288,"limit":18446744073709551615,"max":16384,"failcnt":3}');
  });
});

describe('oomKillCount', () => {
  it('reads oom_kill from memory.oom_control on v1', () => {
    host = fakeHost(['memory']);
    host.write('memory', 'memory.oom_control', 'oom_kill_disable 0\nunder_oom 1\noom_kill 4\n');
    expect(oomKillCount(host.mgr)).toBe(4);
    expect(underOom(host.mgr)).toBe(true);
  });

  it('reads oom_kill from memory.events on v2', () => {
    host = fakeHost([], { controllers: ['memory'], files: { 'memory.events': 'low 0\nhigh 0\nmax 0\noom 2\noom_kill 2\noom_group_kill 0\n' } });
    expect(oomKillCount(host.mgr)).toBe(2);
  });

  it('is 0 without a memory controller or once the cgroup is gone', () => {
    host = fakeHost(['pids']);
    expect(oomKillCount(host.mgr)).toBe(0);
    host.cleanup();
    host = fakeHost(['memory']);
    rmSync(host.dir('memory'), { recursive: true });
    expect(oomKillCount(host.mgr)).toBe(0);
  });
});
