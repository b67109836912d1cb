import { describe, expect, it } from 'vitest';
import { parseUpdateArgs, type UpdateIO } from '../../cmd/update-flags';
import { UsageError } from '../../cmd/usage-error';
import { ConfigError } from '../../src/errors';
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
    expect(() => parseUpdateArgs(['--bogus', '1', 'c'], io())).toThrow(UsageError);
    expect(() => parseUpdateArgs(['--memory'], io())).toThrow(/needs an argument/);
    expect(() => parseUpdateArgs(['--cpu-period', '-5', 'c'], io())).toThrow(/cpu-period/);
    expect(() => parseUpdateArgs(['--pids-limit', 'x', 'c'], io())).toThrow(UsageError);
    expect(() => parseUpdateArgs(['--memory', 'lots', 'c'], io())).toThrow(/invalid value for --memory/);
    expect(() => parseUpdateArgs(['--cpuset-cpus', '0-', 'c'], io())).toThrow(ConfigError);
    expect(() => parseUpdateArgs(['--blkio-weight', '5', 'c'], io())).toThrow(/between 10 and 1000/);
    expect(() => parseUpdateArgs(['-r', '-', 'c'], io({}, '{nope'))).toThrow(/invalid JSON/);
    expect(() => parseUpdateArgs(['-r', '-', 'c'], io({}, '{"memory":{"limit":"1g"}}'))).toThrow(/memory\.limit: must be an integer/);
    expect(() => parseUpdateArgs(['--l3-cache-schema', 'L3:0=f', 'c'], io())).toThrow(/Intel RDT/);
  });
});
