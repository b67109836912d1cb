import { describe, expect, it } from 'vitest';
import { capMask, capSets, execCandidates, ownBoundingSet } from '../../src/runtime/process';

describe('capabilities', () => {
  it('maps names to bits and rejects unknown names', () => {
    expect(capMask(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'], 40, 'x', () => {})).toBe(0x20000420n);
    expect(() => capMask(['CAP_NOPE'], 40, 'process.capabilities.bounding', () => {})).toThrow(/unknown capability "CAP_NOPE"/);
  });

  it('skips capabilities newer than the kernel with a warning', () => {
    const warnings: string[] = [];
    expect(capMask(['CAP_CHECKPOINT_RESTORE', 'CAP_KILL'], 39, 'x', (m) => warnings.push(m))).toBe(1n << 5n);
    expect(warnings[0]).toMatch(/CAP_CHECKPOINT_RESTORE is not supported by this kernel/);
  });

  it('drops what the runtime itself lacks, once, with one warning', () => {
    const warnings: string[] = [];
    const available = ownBoundingSet('Name:\tx\nCapBnd:\t000001fffeffffff\n');
    expect(available & (1n << 24n)).toBe(0n);
    const caps = { bounding: ['CAP_SYS_RESOURCE', 'CAP_KILL'], effective: ['CAP_SYS_RESOURCE'], permitted: ['CAP_SYS_RESOURCE', 'CAP_KILL'] };
    const sets = capSets(caps, 40, (m) => warnings.push(m), available);
    expect(sets.bounding).toBe(1n << 5n);
    expect(sets.effective).toBe(0n);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/CAP_SYS_RESOURCE not available/);
  });
});

describe('execCandidates', () => {
  it('uses args[0] as given when it has a slash', () => {
    expect(execCandidates({ args: ['./x'], cwd: '/', user: { uid: 0, gid: 0 } })).toEqual(['./x']);
  });
  it('searches the default PATH when the env has none', () => {
    expect(execCandidates({ args: ['ls'], cwd: '/', user: { uid: 0, gid: 0 } })[0]).toBe('/usr/local/sbin/ls');
  });
});
