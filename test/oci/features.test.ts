import { describe, expect, it } from 'vitest';
import { ALL_CAPABILITIES, MOUNT_OPTIONS, features } from '../../src/oci/features';
import { loadOracle } from './schema';
import pkg from '../../package.json';

const oracle = loadOracle();

describe('features', () => {
  it('is valid against features-schema.json', () => {
    const f = JSON.parse(JSON.stringify(features()));
    expect(oracle.features(f), oracle.errors(oracle.features)).toBe(true);
  });

  it('fails the schema when broken (the oracle works)', () => {
    const f = JSON.parse(JSON.stringify(features()));
    f.linux.namespaces.push('bogus');
    expect(oracle.features(f)).toBe(false);
    delete f.ociVersionMin;
    expect(oracle.features(f)).toBe(false);
  });

  it('describes tsrun', () => {
    const f = features();
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.3.0');
    expect(f.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(f.mountOptions).toEqual([...MOUNT_OPTIONS]);
    expect(f.mountOptions).toContain('tmpcopyup');
    expect(f.mountOptions).toHaveLength(57);
    expect(f.linux!.namespaces).toHaveLength(8);
    expect(f.linux!.capabilities).toHaveLength(41);
    expect(f.linux!.capabilities![0]).toBe('CAP_CHOWN');
    expect(f.linux!.capabilities![40]).toBe('CAP_CHECKPOINT_RESTORE');
    expect(f.linux!.cgroup).toEqual({ v1: true, v2: true, systemd: true, systemdUser: false });
    expect(f.linux!.seccomp!.archs).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64']);
    expect(f.linux!.seccomp!.supportedFlags).toHaveLength(4);
    expect(f.linux!.mountExtensions).toEqual({ idmap: { enabled: true } });
    expect(f.annotations).toEqual({ 'io.github.tsrun.version': pkg.version });
  });

  it('numbers capabilities 0..40 in order', () => {
    const entries = Object.entries(ALL_CAPABILITIES);
    expect(entries).toHaveLength(41);
    entries.forEach(([name, n], i) => {
      expect(n).toBe(i);
      expect(name).toMatch(/^CAP_[A-Z_]+$/);
    });
    expect(ALL_CAPABILITIES.CAP_SYS_ADMIN).toBe(21);
    expect(ALL_CAPABILITIES.CAP_AUDIT_WRITE).toBe(29);
    expect(ALL_CAPABILITIES.CAP_BPF).toBe(39);
    expect(Object.isFrozen(ALL_CAPABILITIES)).toBe(true);
  });

  it('returns fresh objects', () => {
    const a = features();
    a.hooks!.length = 0;
    expect(features().hooks).toHaveLength(6);
  });
});
