import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  applyResources,
  blkioWeightToIOWeight,
  DEFAULT_DEVICE_RULES,
  defaultDeviceRules,
  deviceRuleLine,
  deviceWrites,
  ioMaxLines,
  memorySwapToV2,
  sharesToWeight,
  v1MemoryOrder,
} from '../../src/cgroups/resources';
import { ConfigError } from '../../src/errors';
import { CG, fakeHost, type FakeHost, V2_ALL, V2_FILES } from './fakefs';

// The fake cgroup2 trees are plain directories: no eBPF program can be
// attached there (devices-bpf.test.ts checks what gets compiled).
vi.mock('../../src/cgroups/devices-bpf', async (orig) => {
  const real = await orig<typeof import('../../src/cgroups/devices-bpf')>();
  return { ...real, applyDevicesV2: vi.fn() };
});

let host: FakeHost | undefined;
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

/** Options that collect warnings; lenient (the opt-in annotation's mode),
 * so that settings the fake host lacks are warned about, not refused. */
function collect(): { warn: (m: string) => void; warnings: string[]; lenient: boolean } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings, lenient: true };
}

const ALL_V1 = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'blkio', 'devices', 'freezer'];

describe('conversions', () => {
  it('converts cpu shares to cpu.weight', () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(10 ** 6)).toBe(10000);
  });

  it('converts blkio weight to io.weight', () => {
    expect(blkioWeightToIOWeight(0)).toBe(0);
    expect(blkioWeightToIOWeight(10)).toBe(1);
    expect(blkioWeightToIOWeight(500)).toBe(4950);
    expect(blkioWeightToIOWeight(1000)).toBe(10000);
  });

  it('converts memory+swap to the v2 swap limit', () => {
    expect(memorySwapToV2(0, -1)).toBe(-1);
    expect(memorySwapToV2(-1, 100)).toBe(-1);
    expect(memorySwapToV2(0, 100)).toBe(0);
    expect(memorySwapToV2(300, 100)).toBe(200);
    expect(memorySwapToV2(100, 100)).toBe(0);
    expect(memorySwapToV2(300, -1)).toBe(300);
    expect(() => memorySwapToV2(300, 0)).toThrow(/without memory limit/);
    expect(() => memorySwapToV2(50, 100)).toThrow(/must be >= memory limit/);
  });

  it('orders v1 memory and memsw writes for the kernel', () => {
    expect(v1MemoryOrder(100, 200, 400)).toEqual(['swap', 'memory']); // raising
    expect(v1MemoryOrder(1000, 200, 400)).toEqual(['memory', 'swap']); // lowering
    expect(v1MemoryOrder(1000, 200, -1)).toEqual(['swap', 'memory']);
    expect(v1MemoryOrder(1000, 200, undefined)).toEqual(['memory']);
    expect(v1MemoryOrder(1000, undefined, 400)).toEqual(['swap']);
  });

  it('formats device rules like devices.allow wants them', () => {
    expect(deviceRuleLine({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' })).toBe('c 1:3 rwm');
    expect(deviceRuleLine({ allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' })).toBe('c 136:* rwm');
    expect(deviceRuleLine({ allow: true, type: 'b', access: 'm' })).toBe('b *:* m');
    expect(deviceRuleLine({ allow: false, access: 'rwm' })).toBe('a *:* rwm');
    const w = deviceWrites([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
    expect(w[0]).toEqual({ file: 'devices.deny', line: 'a' });
    expect(w[1]).toEqual({ file: 'devices.deny', line: 'a *:* rwm' });
    expect(w[2]).toEqual({ file: 'devices.allow', line: 'c 10:229 rw' });
    const lines = w.map((x) => x.line);
    for (const std of ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c *:* m', 'b *:* m']) {
      expect(lines).toContain(std);
    }
  });

  it('merges throttles per device into io.max lines', () => {
    expect(
      ioMaxLines({
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [
          { major: 8, minor: 0, rate: 100 },
          { major: 8, minor: 16, rate: 0 },
        ],
      }),
    ).toEqual(['8:0 rbps=1048576 wiops=100', '8:16 wiops=max']);
  });
});

describe('applyResources on cgroup v1', () => {
  it('writes memory, cpu, cpuset, pids and blkio files', () => {
    host = fakeHost(ALL_V1);
    const { warn, warnings } = collect();
    applyResources(
      host.mgr,
      {
        memory: { limit: 1 << 26, reservation: 1 << 25, swap: 1 << 27, swappiness: 10, disableOOMKiller: true },
        cpu: { shares: 512, quota: 50000, period: 20000, burst: 1000, idle: 1, cpus: '0', mems: '0', realtimePeriod: 500000 },
        pids: { limit: 0 },
        blockIO: { weight: 300, leafWeight: 300, throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 4096 }] },
      },
      { warn, lenient: true },
    );
    expect(host.read('memory', 'memory.limit_in_bytes')).toBe(String(1 << 26));
    expect(host.read('memory', 'memory.soft_limit_in_bytes')).toBe(String(1 << 25));
    expect(host.read('memory', 'memory.memsw.limit_in_bytes')).toBe(String(1 << 27));
    expect(host.read('memory', 'memory.swappiness')).toBe('10');
    expect(host.read('memory', 'memory.oom_control')).toBe('1');
    expect(host.read('cpu', 'cpu.shares')).toBe('512');
    expect(host.read('cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(host.read('cpu', 'cpu.cfs_period_us')).toBe('20000');
    expect(host.read('cpu', 'cpu.cfs_burst_us')).toBe('1000');
    expect(host.read('cpu', 'cpu.idle')).toBe('1');
    expect(host.read('cpu', 'cpu.rt_period_us')).toBe('500000');
    expect(host.read('cpuset', 'cpuset.cpus')).toBe('0');
    expect(host.read('cpuset', 'cpuset.mems')).toBe('0');
    expect(host.read('pids', 'pids.max')).toBe('0');
    expect(host.read('blkio', 'blkio.bfq.weight')).toBe('300'); // no blkio.weight: BFQ's file
    expect(host.read('blkio', 'blkio.throttle.write_bps_device')).toBe('8:0 4096');
    expect(warnings).toEqual(['linux.resources.blockIO.leafWeight ignored: blkio.leaf_weight is not available']);
    // devices: deny all, then the defaults, a rule a write (a line each here)
    expect(host.read('devices', 'devices.allow').split('\n').filter(Boolean).pop()).toBe('c 10:200 rwm');
    expect(host.read('devices', 'devices.deny')).toBe('a\n');
  });

  it('prefers blkio.weight when the kernel has it', () => {
    host = fakeHost(['blkio', 'devices']);
    host.write('blkio', 'blkio.weight', '500');
    host.write('blkio', 'blkio.weight_device', '');
    applyResources(host.mgr, { blockIO: { weight: 700, weightDevice: [{ major: 8, minor: 0, weight: 200 }] } }, collect());
    expect(host.read('blkio', 'blkio.weight')).toBe('700');
    expect(host.read('blkio', 'blkio.weight_device')).toBe('8:0 200');
    expect(host.read('blkio', 'blkio.bfq.weight')).toBe('default 100');
  });

  it('writes pids limits as numbers, 0 included (runtime-spec 1.3, runc 1.4), and negative ones as max', () => {
    host = fakeHost(['pids', 'devices']);
    applyResources(host.mgr, { pids: { limit: 42 } }, collect());
    expect(host.read('pids', 'pids.max')).toBe('42');
    applyResources(host.mgr, { pids: { limit: -1 } }, collect());
    expect(host.read('pids', 'pids.max')).toBe('max');
    applyResources(host.mgr, { pids: { limit: 0 } }, collect());
    expect(host.read('pids', 'pids.max')).toBe('0');
  });

  it('makes unlimited memory unlimited memory+swap, and skips swap without memsw', () => {
    host = fakeHost(['memory', 'devices']);
    host.write('memory', 'memory.memsw.limit_in_bytes', '1000');
    applyResources(host.mgr, { memory: { limit: -1 } }, collect());
    expect(host.read('memory', 'memory.limit_in_bytes')).toBe('-1');
    expect(host.read('memory', 'memory.memsw.limit_in_bytes')).toBe('-1');
  });

  it('warns about swap without swap accounting and about kernel memory', () => {
    host = fakeHost(['memory', 'devices']);
    rmSync(join(host.dir('memory'), 'memory.memsw.limit_in_bytes'));
    const { warn, warnings } = collect();
    applyResources(host.mgr, { memory: { limit: 100 << 20, swap: 200 << 20, kernel: 1, kernelTCP: 2 } }, { warn, lenient: true });
    expect(host.read('memory', 'memory.limit_in_bytes')).toBe(String(100 << 20));
    expect(warnings).toEqual([
      'Kernel memory settings are ignored and will be removed',
      'linux.resources.memory.swap ignored: swap accounting is not enabled on this host (no memory.memsw.limit_in_bytes)',
    ]);
  });

  it('refuses what the host cannot apply unless the config opts in (the spec\'s MUST, as runc)', () => {
    host = fakeHost(['memory', 'devices']);
    rmSync(join(host.dir('memory'), 'memory.memsw.limit_in_bytes'));
    const warnings: string[] = [];
    const strict = { warn: (m: string) => warnings.push(m) };
    expect(() => applyResources(host!.mgr, { memory: { limit: 100 << 20, swap: 200 << 20 } }, strict)).toThrow(
      /^linux\.resources\.memory\.swap cannot be applied: swap accounting is not enabled on this host .*io\.github\.tsrun\.ignore-unsupported=true/,
    );
    expect(() => applyResources(host!.mgr, { network: { classID: 1 } }, strict)).toThrow(/network\.classID cannot be applied: no cgroup controller "net_cls"/);
    // Kernel memory is deprecated: runc warns and goes on, and so do we.
    applyResources(host.mgr, { memory: { kernel: 1 } }, strict);
    expect(warnings).toEqual(['Kernel memory settings are ignored and will be removed']);
  });

  it('turns a write failure into a ConfigError naming the file and value', () => {
    host = fakeHost(['memory', 'devices']);
    const f = join(host.dir('memory'), 'memory.limit_in_bytes');
    rmSync(f);
    mkdirSync(f); // writing a directory fails with EISDIR
    const err = (() => {
      try {
        applyResources(host.mgr, { memory: { limit: 12 } }, collect());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('cgroup: cannot set memory.limit_in_bytes to 12: Is a directory');
  });

  it('skips devices on update and rootless; fails when no devices hierarchy could enforce them', () => {
    host = fakeHost(['devices', 'pids']);
    applyResources(host.mgr, { pids: { limit: 5 } }, { ...collect(), update: true });
    expect(host.read('devices', 'devices.deny')).toBe('');
    applyResources(host.mgr, { pids: { limit: 5 } }, { ...collect(), skipDevices: true });
    expect(host.read('devices', 'devices.deny')).toBe('');
    host.cleanup();
    host = fakeHost(['pids']);
    const rules = { devices: [{ allow: false, access: 'rwm' }] };
    expect(() => applyResources(host!.mgr, rules, collect())).toThrow(/neither a v1 devices hierarchy nor a cgroup2 mount: the container's device rules cannot be enforced/);
    expect(() => applyResources(host!.mgr, rules, { ...collect(), skipDevices: true })).not.toThrow();
  });

  it('leaves out the default rule of a node linux.devices redefines, and allows nothing for linux.devices itself (as runc)', () => {
    host = fakeHost(['devices']);
    applyResources(host.mgr, { devices: [{ allow: false, access: 'rwm' }] }, { ...collect(), devicePaths: ['/dev/full', '/dev/fuse'] });
    const allowed = host.read('devices', 'devices.allow').split('\n').filter(Boolean);
    expect(allowed).toContain('c 1:3 rwm');
    expect(allowed).not.toContain('c 1:7 rwm');
    expect(allowed.some((l) => l.startsWith('c 10:229'))).toBe(false);
    expect(defaultDeviceRules(['/dev/full'])).toEqual(DEFAULT_DEVICE_RULES.filter((r) => !(r.major === 1 && r.minor === 7)));
  });

  it('applies device rules even when resources are absent', () => {
    host = fakeHost(['devices']);
    applyResources(host.mgr, undefined, collect());
    expect(host.read('devices', 'devices.deny')).toBe('a\n');
    const allowed = host.read('devices', 'devices.allow').split('\n').filter(Boolean);
    expect(allowed[0]).toBe('c *:* m');
    expect(allowed.pop()).toBe('c 10:200 rwm');
  });

  it('warns (and does not fail) for controllers the host lacks', () => {
    host = fakeHost(['memory', 'devices']);
    const { warn, warnings } = collect();
    applyResources(
      host.mgr,
      { pids: { limit: 10 }, cpu: { shares: 100, cpus: '0' }, network: { classID: 1, priorities: [{ name: 'eth0', priority: 1 }] }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] },
      { warn, lenient: true },
    );
    expect(warnings).toEqual([
      'linux.resources.cpu.cpus/mems ignored: no cgroup controller "cpuset" on this host',
      'linux.resources.cpu ignored: no cgroup controller "cpu" on this host',
      'linux.resources.pids ignored: no cgroup controller "pids" on this host',
      'linux.resources.hugepageLimits ignored: no cgroup controller "hugetlb" on this host',
      'linux.resources.network.classID ignored: no cgroup controller "net_cls" on this host',
      'linux.resources.network.priorities ignored: no cgroup controller "net_prio" on this host',
    ]);
  });

  it('writes net_cls and net_prio when mounted', () => {
    host = fakeHost(['net_cls', 'net_prio', 'devices']);
    host.write('net_cls', 'net_cls.classid', '0');
    host.write('net_prio', 'net_prio.ifpriomap', '');
    applyResources(host.mgr, { network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] } }, collect());
    expect(host.read('net_cls', 'net_cls.classid')).toBe(String(0x100001));
    expect(host.read('net_prio', 'net_prio.ifpriomap')).toBe('eth0 5');
  });

  it('rejects invalid values before writing anything', () => {
    host = fakeHost(ALL_V1);
    const bad: [unknown, RegExp][] = [
      [{ memory: { limit: -2 } }, /memory\.limit: must be >= -1/],
      [{ memory: { limit: 200, swap: 100 } }, /memory\+swap limit \(100\) must be >= memory\.limit \(200\)/],
      [{ memory: { swappiness: 101 } }, /memory\.swappiness: must be <= 100/],
      [{ cpu: { cpus: '0-1,3' , mems: '1-0' } }, /cpu\.mems: invalid list "1-0"/],
      [{ cpu: { cpus: 'all' } }, /cpu\.cpus: invalid list "all"/],
      [{ cpu: { shares: -5 } }, /cpu\.shares: must be >= 0/],
      [{ cpu: { period: 1.5 } }, /cpu\.period: must be an integer/],
      [{ blockIO: { weight: 5 } }, /blockIO\.weight: must be between 10 and 1000/],
      [{ blockIO: { weight: 2000 } }, /blockIO\.weight: must be <= 1000/],
      [{ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, /pageSize: invalid page size "2M"/],
      [{ devices: [{ allow: true, type: 'x', access: 'r' }] }, /devices\[0\]\.type/],
      [{ devices: [{ allow: true, type: 'c', access: 'r-x' }] }, /devices\[0\]\.access/],
      [{ unified: { '../memory.max': '1' } }, /unified: key "\.\.\/memory\.max" must be a plain file name/],
      [{ pids: { limit: '5' } }, /pids\.limit: must be an integer/],
    ];
    for (const [res, msg] of bad) {
      expect(() => applyResources(host!.mgr, res as never, collect()), JSON.stringify(res)).toThrow(msg);
    }
    expect(host.read('memory', 'memory.limit_in_bytes')).toBe('9223372036854771712');
    expect(host.read('cpuset', 'cpuset.cpus')).toBe('0-1');
    expect(host.read('devices', 'devices.deny')).toBe('');
  });

  it('accepts cpu lists with ranges and strides', () => {
    host = fakeHost(['cpuset', 'devices']);
    applyResources(host.mgr, { cpu: { cpus: '0-1,3,8-15:2/4' } }, collect());
    expect(host.read('cpuset', 'cpuset.cpus')).toBe('0-1,3,8-15:2/4');
  });
});

describe('applyResources on cgroup v2', () => {
  function v2Host(controllers = V2_ALL): FakeHost {
    return fakeHost([], { controllers, files: V2_FILES });
  }

  it('converts and writes memory, cpu, io, pids, cpuset and hugetlb', () => {
    host = v2Host();
    const { warn, warnings } = collect();
    applyResources(
      host.mgr,
      {
        memory: { limit: 100 << 20, reservation: 50 << 20, swap: 300 << 20, swappiness: 5 },
        cpu: { shares: 1024, quota: 20000, period: 50000, burst: 100, idle: 0, cpus: '1', mems: '0' },
        pids: { limit: 7 },
        blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }], throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 10 }] },
        hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }],
      },
      { warn, lenient: true },
    );
    expect(host.read('unified', 'memory.max')).toBe(String(100 << 20));
    expect(host.read('unified', 'memory.low')).toBe(String(50 << 20));
    expect(host.read('unified', 'memory.swap.max')).toBe(String(200 << 20));
    expect(host.read('unified', 'cpu.weight')).toBe('39');
    expect(host.read('unified', 'cpu.max')).toBe('20000 50000');
    expect(host.read('unified', 'cpu.max.burst')).toBe('100');
    expect(host.read('unified', 'cpuset.cpus')).toBe('1');
    expect(host.read('unified', 'pids.max')).toBe('7');
    expect(host.read('unified', 'io.weight')).toBe('4950');
    expect(host.read('unified', 'io.max')).toBe('8:0 rbps=1000 riops=10');
    expect(host.read('unified', 'hugetlb.2MB.max')).toBe('2097152');
    expect(warnings).toEqual(['linux.resources.memory.swappiness ignored: not supported by cgroup v2']);
  });

  it('enables controllers in every ancestor from the mount root down', () => {
    host = v2Host();
    applyResources(host.mgr, { pids: { limit: 3 } }, collect());
    const mnt = join(host.root, 'unified');
    expect(readFileSync(join(mnt, 'cgroup.subtree_control'), 'utf8')).toBe('+pids');
    expect(readFileSync(join(mnt, 'tsrun-test', 'cgroup.subtree_control'), 'utf8')).toBe('+pids');
  });

  it('leaves already enabled controllers alone', () => {
    host = v2Host();
    const mnt = join(host.root, 'unified');
    writeFileSync(join(mnt, 'cgroup.subtree_control'), 'cpu pids\n');
    writeFileSync(join(mnt, 'tsrun-test', 'cgroup.subtree_control'), 'pids\n');
    applyResources(host.mgr, { pids: { limit: 3 } }, collect());
    expect(readFileSync(join(mnt, 'cgroup.subtree_control'), 'utf8')).toBe('cpu pids\n');
    expect(readFileSync(join(mnt, 'tsrun-test', 'cgroup.subtree_control'), 'utf8')).toBe('pids\n');
  });

  it('writes "max" for unlimited values and keeps the other half of cpu.max', () => {
    host = v2Host();
    host.write('unified', 'cpu.max', '30000 200000');
    applyResources(host.mgr, { memory: { limit: -1 }, cpu: { period: 100000 } }, { ...collect(), update: true });
    expect(host.read('unified', 'memory.max')).toBe('max');
    expect(host.read('unified', 'memory.swap.max')).toBe('max');
    expect(host.read('unified', 'cpu.max')).toBe('30000 100000');
    applyResources(host.mgr, { cpu: { quota: -1 } }, { ...collect(), update: true });
    expect(host.read('unified', 'cpu.max')).toBe('max 100000');
  });

  it('uses the current memory.max for a swap-only update', () => {
    host = v2Host();
    host.write('unified', 'memory.max', String(100 << 20));
    applyResources(host.mgr, { memory: { swap: 150 << 20 } }, { ...collect(), update: true });
    expect(host.read('unified', 'memory.swap.max')).toBe(String(50 << 20));
    applyResources(host.mgr, { memory: { swap: 100 << 20, limit: 100 << 20 } }, { ...collect(), update: true });
    expect(host.read('unified', 'memory.swap.max')).toBe('0');
  });

  it('refuses a limit below current usage when checkBeforeUpdate is set', () => {
    host = v2Host();
    host.write('unified', 'memory.current', '5000000');
    expect(() => applyResources(host!.mgr, { memory: { limit: 4096, checkBeforeUpdate: true } }, { ...collect(), update: true })).toThrow(
      'cgroup: cannot set memory.max to 4096: the new limit is below the current usage (5000000)',
    );
  });

  it('uses io.bfq.weight unconverted when BFQ is there', () => {
    host = v2Host();
    host.write('unified', 'io.bfq.weight', 'default 100');
    applyResources(host.mgr, { blockIO: { weight: 250 } }, collect());
    expect(host.read('unified', 'io.bfq.weight')).toBe('250');
    expect(host.read('unified', 'io.weight')).toBe('default 100');
  });

  it('rejects a hugepage size the host does not have', () => {
    host = v2Host();
    expect(() => applyResources(host!.mgr, { hugepageLimits: [{ pageSize: '64KB', limit: 0 }] }, collect())).toThrow(
      /page size "64KB" is not supported on this host \(no hugetlb\.64KB\.max\)/,
    );
  });

  it('writes unified keys as-is, line by line, and rejects missing files', () => {
    host = v2Host();
    host.write('unified', 'memory.high', 'max');
    applyResources(host.mgr, { unified: { 'memory.high': '12345' } }, collect());
    expect(host.read('unified', 'memory.high')).toBe('12345');
    expect(() => applyResources(host!.mgr, { unified: { 'memory.nonexistent': '1' } }, collect())).toThrow(
      /invalid configuration: linux\.resources\.unified cannot set memory\.nonexistent: no such file/
    );
    expect(() => applyResources(host!.mgr, { unified: { 'foo.bar': '1' } }, collect())).toThrow(/controller "foo" is not available/);
    expect(() => applyResources(host!.mgr, { unified: { 'a/b': '1' } }, collect())).toThrow(/must be a plain file name/);
  });

  it('fails unified keys on a host without cgroup2', () => {
    host = fakeHost(['memory', 'devices']);
    expect(() => applyResources(host!.mgr, { unified: { 'memory.high': '1' } }, collect())).toThrow(/requires cgroup v2/);
  });
});

describe('controller routing on a hybrid host', () => {
  it('sends v1 controllers to v1 and the rest to the cgroup2 tree', () => {
    host = fakeHost(['memory', 'cpu', 'pids', 'devices'], { controllers: ['hugetlb'], files: { 'hugetlb.2MB.max': 'max', 'memory.max': 'max' } });
    const { warn, warnings } = collect();
    applyResources(host.mgr, { memory: { limit: 4096 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }], blockIO: { weight: 100 } }, { warn, lenient: true });
    expect(host.read('memory', 'memory.limit_in_bytes')).toBe('4096');
    expect(host.read('unified', 'memory.max')).toBe('max');
    expect(host.read('unified', 'hugetlb.2MB.max')).toBe('0');
    expect(readFileSync(join(host.root, 'unified', 'cgroup.subtree_control'), 'utf8')).toBe('+hugetlb');
    expect(warnings).toEqual(['linux.resources.blockIO ignored: no cgroup controller "blkio" on this host']);
    expect(host.mgr.path).toBe(CG);
  });
});
