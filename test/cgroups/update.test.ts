import { describe, expect, it } from 'vitest';
import { mergeResources } from '../../src/cgroups/update';
import type { LinuxResources } from '../../src/oci/types';

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
