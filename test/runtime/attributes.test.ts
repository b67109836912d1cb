import { describe, expect, it } from 'vitest';
import { checkLsm, checkSysctls, cpuMask } from '../../src/runtime/attributes';
import { planNamespaces } from '../../src/namespaces';
import { defaultSpec } from '../../src/oci/defaults';

describe('checkSysctls', () => {
  const spec = defaultSpec();
  const ns = planNamespaces(spec);
  it('allows sysctls of the container\'s own namespaces', () => {
    spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '10', 'kernel.domainname': 'x' };
    expect(() => checkSysctls(spec, ns)).not.toThrow();
  });
  it('refuses host-wide sysctls', () => {
    spec.linux!.sysctl = { 'kernel.panic': '1' };
    expect(() => checkSysctls(spec, ns)).toThrow(/kernel.panic is not namespaced/);
  });
  it('refuses net.* without a network namespace', () => {
    const s = defaultSpec();
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
    expect(() => checkSysctls(s, planNamespaces(s))).toThrow(/needs a network namespace/);
  });
});

describe('checkLsm', () => {
  it('refuses labels the host cannot apply', () => {
    const spec = defaultSpec();
    const proc = { ...spec.process!, apparmorProfile: 'docker-default' };
    expect(() => checkLsm(spec, proc, { apparmor: false, selinux: false })).toThrow(/AppArmor is not enabled/);
    expect(() => checkLsm(spec, proc, { apparmor: true, selinux: false })).not.toThrow();
    expect(() => checkLsm(spec, { ...spec.process!, selinuxLabel: 'system_u:system_r:container_t:s0' }, { apparmor: false, selinux: false })).toThrow(/SELinux/);
  });
});

describe('cpuMask', () => {
  it('sets the bits of a cpu list', () => {
    const m = cpuMask('0-2,9', 'x');
    expect(m[0]).toBe(0b111);
    expect(m[1]).toBe(0b10);
  });
  it('rejects malformed lists', () => {
    expect(() => cpuMask('3-1', 'process.execCPUAffinity.final')).toThrow(/invalid cpu range/);
    expect(() => cpuMask('a', 'process.execCPUAffinity.final')).toThrow(/invalid cpu list "a"/);
  });
});
