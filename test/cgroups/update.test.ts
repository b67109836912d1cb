import { describe, expect, it } from 'vitest';
import { mergeResources, parseMemoryBytes, parseUpdateArgs, type UpdateIO } from '../../src/cgroups/update';
import { ConfigError, InvalidArgumentError } from '../../src/errors';
import type { LinuxResources } from '../../src/oci/types';

function io(files: Record<string, string> = {}, stdin = ''): UpdateIO & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    readFile: (p) => {
      if (!(p in files)) throw new Error(`ENOENT: ${p}`);
      return files[p]!;
    },
    readStdin: () => stdin,
    warn: (m) => warnings.push(m),
  };
}

describe('parseMemoryBytes', () => {
  it('accepts runc units (binary multiples)', () => {
    expect(parseMemoryBytes('1024')).toBe(1024);
    expect(parseMemoryBytes('512m')).toBe(512 * 1024 ** 2);
    expect(parseMemoryBytes('512M')).toBe(512 * 1024 ** 2);
    expect(parseMemoryBytes('1g')).toBe(1024 ** 3);
    expect(parseMemoryBytes('1GiB')).toBe(1024 ** 3);
    expect(parseMemoryBytes('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseMemoryBytes('100kb')).toBe(102400);
    expect(parseMemoryBytes('64 MB')).toBe(64 * 1024 ** 2);
    expect(parseMemoryBytes('10b')).toBe(10);
    expect(parseMemoryBytes('-1')).toBe(-1);
  });

  it('rejects garbage', () => {
    for (const s of ['', 'abc', '-2', '1x', '1.2.3g', 'm']) expect(() => parseMemoryBytes(s), s).toThrow(InvalidArgumentError);
  });
});

describe('parseUpdateArgs', () => {
  it('turns flags into a resources patch', () => {
    const r = parseUpdateArgs(
      [
        '--memory', '512m',
        '--memory-reservation=256m',
        '--memory-swap', '1g',
        '--cpu-quota', '-1',
        '--cpu-period', '100000',
        '--cpu-shares', '512',
        '--cpu-rt-period', '1000000',
        '--cpu-rt-runtime', '950000',
        '--cpuset-cpus', '0-1',
        '--cpuset-mems', '0',
        '--pids-limit', '100',
        '--blkio-weight', '300',
        'ctr1',
      ],
      io(),
    );
    expect(r.args).toEqual(['ctr1']);
    expect(r.resources).toEqual({
      memory: { limit: 512 << 20, reservation: 256 << 20, swap: 1 << 30 },
      cpu: { quota: -1, period: 100000, shares: 512, realtimePeriod: 1000000, realtimeRuntime: 950000, cpus: '0-1', mems: '0' },
      pids: { limit: 100 },
      blockIO: { weight: 300 },
    } satisfies LinuxResources);
  });

  it('accepts runc spellings (--cpu-share, single dash) and warns about kernel memory', () => {
    const i = io();
    const r = parseUpdateArgs(['-cpu-share', '2', '--kernel-memory', '10m', 'c'], i);
    expect(r.resources).toEqual({ cpu: { shares: 2 } });
    expect(i.warnings).toEqual(['Kernel memory settings are ignored and will be removed']);
  });

  it('reads --resources from a file or stdin and ignores the other flags', () => {
    const json = JSON.stringify({ memory: { limit: 1000 }, cpu: { cpus: '0' } });
    const i = io({ '/tmp/r.json': json });
    expect(parseUpdateArgs(['-r', '/tmp/r.json', '--memory', '5m', 'c'], i).resources).toEqual({ memory: { limit: 1000 }, cpu: { cpus: '0' } });
    expect(i.warnings).toEqual(['update: --resources given; ignoring --memory']);
    expect(parseUpdateArgs(['--resources', '-', 'c'], io({}, json)).resources.memory).toEqual({ limit: 1000 });
  });

  it('rejects bad input', () => {
    expect(() => parseUpdateArgs(['--bogus', '1', 'c'], io())).toThrow(InvalidArgumentError);
    expect(() => parseUpdateArgs(['--memory'], io())).toThrow(/needs an argument/);
    expect(() => parseUpdateArgs(['--cpu-period', '-5', 'c'], io())).toThrow(/cpu-period/);
    expect(() => parseUpdateArgs(['--pids-limit', 'x', 'c'], io())).toThrow(InvalidArgumentError);
    expect(() => parseUpdateArgs(['--memory', 'lots', 'c'], io())).toThrow(/invalid value for --memory/);
    expect(() => parseUpdateArgs(['--cpuset-cpus', '0-', 'c'], io())).toThrow(ConfigError);
    expect(() => parseUpdateArgs(['--blkio-weight', '5', 'c'], io())).toThrow(/between 10 and 1000/);
    expect(() => parseUpdateArgs(['-r', '-', 'c'], io({}, '{nope'))).toThrow(/invalid JSON/);
    expect(() => parseUpdateArgs(['-r', '-', 'c'], io({}, '{"memory":{"limit":"1g"}}'))).toThrow(/memory\.limit: must be an integer/);
    expect(() => parseUpdateArgs(['--l3-cache-schema', 'L3:0=f', 'c'], io())).toThrow(/Intel RDT/);
  });
});

describe('mergeResources', () => {
  const base: LinuxResources = {
    devices: [{ allow: false, access: 'rwm' }],
    memory: { limit: 100, swap: 200, swappiness: 10 },
    cpu: { quota: 50000, period: 100000, shares: 1024, cpus: '0-1' },
    pids: { limit: 10 },
    blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 10 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
    unified: { 'memory.high': '1000' },
  };

  it('overrides what the patch sets and keeps the rest', () => {
    const m = mergeResources(base, {
      memory: { limit: 150, reservation: 0 },
      cpu: { period: 20000, quota: 0, cpus: '' },
      pids: { limit: 20 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 99 }, { major: 8, minor: 16, rate: 5 }] },
      hugepageLimits: [{ pageSize: '1GB', limit: 1 << 30 }],
      unified: { 'memory.low': '5' },
      devices: [{ allow: true, access: 'rwm' }],
    });
    expect(m.memory).toEqual({ limit: 150, swap: 200, swappiness: 10 });
    expect(m.cpu).toEqual({ quota: 50000, period: 20000, shares: 1024, cpus: '0-1' });
    expect(m.pids).toEqual({ limit: 20 });
    expect(m.blockIO).toEqual({
      weight: 100,
      throttleReadBpsDevice: [
        { major: 8, minor: 0, rate: 99 },
        { major: 8, minor: 16, rate: 5 },
      ],
    });
    expect(m.hugepageLimits).toEqual([
      { pageSize: '2MB', limit: 0 },
      { pageSize: '1GB', limit: 1 << 30 },
    ]);
    expect(m.unified).toEqual({ 'memory.high': '1000', 'memory.low': '5' });
    expect(m.devices).toEqual([{ allow: false, access: 'rwm' }]);
  });

  it('does not modify its arguments', () => {
    const snapshot = structuredClone(base);
    const patch: LinuxResources = { memory: { limit: 1 } };
    mergeResources(base, patch);
    expect(base).toEqual(snapshot);
    expect(patch).toEqual({ memory: { limit: 1 } });
  });

  it('works without a base', () => {
    expect(mergeResources(undefined, { pids: { limit: 3 } })).toEqual({ pids: { limit: 3 } });
  });
});
