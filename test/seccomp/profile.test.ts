import { describe, expect, it } from 'vitest';
import { compileSeccomp } from '../../src/seccomp';
import { syscallTable } from '../../src/seccomp/syscalls';
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, decode, run, verify } from './bpf-interp';
import { ALLOWED, dockerLikeProfile } from './profiles';

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;

describe('a docker-like profile', () => {
  const spec = dockerLikeProfile();
  const out = compileSeccomp(spec, { hostArch: 'x64' });
  const insns = decode(out.program);
  const x64 = syscallTable('x86_64').byName;
  const i386 = syscallTable('x86').byName;
  const x32 = syscallTable('x32').byName;

  it('compiles well under the 4096-instruction limit, into a valid program', () => {
    expect(ALLOWED.length).toBeGreaterThan(300);
    verify(out.program);
    expect(insns.length).toBeLessThan(1500);
    expect(out.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(out.unknownSyscalls).toEqual([]);
    expect(out.flags).toBe(4);
    expect(out.notify).toBe(false);
  });

  it('allows names at the beginning, middle and end of the list on every arch', () => {
    const picks = [0, 1, Math.floor(ALLOWED.length / 2), ALLOWED.length - 2, ALLOWED.length - 1].map((i) => ALLOWED[i]!);
    expect(picks[0]).toBe('accept');
    expect(picks[4]).toBe('modify_ldt');
    for (const name of picks) {
      const a = x64.get(name);
      if (a !== undefined) expect(run(insns, { arch: AUDIT_ARCH_X86_64, nr: a }), `x86_64 ${name}`).toBe(ALLOW);
      const b = x32.get(name);
      if (b !== undefined) expect(run(insns, { arch: AUDIT_ARCH_X86_64, nr: b }), `x32 ${name}`).toBe(ALLOW);
      const c = i386.get(name);
      if (c !== undefined) expect(run(insns, { arch: AUDIT_ARCH_I386, nr: c }), `x86 ${name}`).toBe(ALLOW);
    }
    // every listed name that exists on x86_64 is allowed there
    for (const name of ALLOWED) {
      const nr = x64.get(name);
      if (nr !== undefined) expect(run(insns, { arch: AUDIT_ARCH_X86_64, nr }), name).toBe(ALLOW);
    }
  });

  it('denies what is not listed, and applies the argument rules', () => {
    const sys = (name: string, args: (number | bigint)[] = []) =>
      run(insns, { arch: AUDIT_ARCH_X86_64, nr: x64.get(name)!, args });
    for (const name of ['mount', 'umount2', 'reboot', 'kexec_load', 'bpf', 'ptrace_not_here', 'unshare', 'setns']) {
      if (x64.has(name)) expect(sys(name), name).toBe(EPERM);
    }
    expect(sys('process_vm_readv')).toBe(ALLOW);
    expect(sys('socket', [2 /* AF_INET */])).toBe(ALLOW);
    expect(sys('socket', [40 /* AF_VSOCK */])).toBe(EPERM);
    expect(sys('socket', [0x1_0000_0028n])).toBe(ALLOW);
    expect(sys('personality', [0])).toBe(ALLOW);
    expect(sys('personality', [0xffffffff])).toBe(ALLOW);
    expect(sys('personality', [0x0400000 /* READ_IMPLIES_EXEC */])).toBe(EPERM);
    expect(sys('clone', [0x01200011])).toBe(ALLOW);
    expect(sys('clone', [0x10000000 /* CLONE_NEWUSER */])).toBe(EPERM);
    expect(sys('clone3')).toBe(ENOSYS);
    // newer than anything in the profile: -ENOSYS (runc's stub)
    const largest = Math.max(...ALLOWED.map((n) => x64.get(n) ?? 0), x64.get('clone3')!);
    expect(run(insns, { arch: AUDIT_ARCH_X86_64, nr: largest + 1 })).toBe(ENOSYS);
    expect(run(insns, { arch: AUDIT_ARCH_X86_64, nr: largest })).not.toBe(ENOSYS);
  });
});
