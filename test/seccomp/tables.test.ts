import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isKnownSyscallName, syscallName, syscallTable, TABLE_ARCHES, type TableArch } from '../../src/seccomp/syscalls';

function resolverAvailable(): boolean {
  try {
    execFileSync('scmp_sys_resolver', ['-a', 'x86_64', 'read'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const HAVE_RESOLVER = resolverAvailable();

/** Asks libseccomp (scmp_sys_resolver from Debian's "seccomp" package). */
function resolve(arch: TableArch, what: string | number): string {
  return execFileSync('scmp_sys_resolver', ['-a', arch, '--', String(what)], { encoding: 'utf8' }).trim();
}

describe('syscall tables', () => {
  it('have the well-known numbers', () => {
    const n = (arch: TableArch, name: string) => syscallTable(arch).byName.get(name);
    expect(n('x86_64', 'read')).toBe(0);
    expect(n('x86_64', 'openat')).toBe(257);
    expect(n('x86_64', 'clone3')).toBe(435);
    expect(n('x86', 'read')).toBe(3);
    expect(n('x86', 'socketcall')).toBe(102);
    expect(n('x86', 'socket')).toBe(359);
    expect(n('x32', 'read')).toBe(0x40000000);
    expect(n('x32', 'ioctl')).toBe(0x40000000 + 514);
    expect(n('x32', 'execve')).toBe(0x40000000 + 520);
    expect(n('aarch64', 'read')).toBe(63);
    expect(n('aarch64', 'open')).toBeUndefined();
    expect(n('x86_64', 'socketcall')).toBeUndefined();
    expect(syscallTable('x86').multiplexed.get('socket')).toEqual([102, 1]);
    expect(syscallTable('x86').multiplexed.get('shmget')).toEqual([117, 23]);
    expect(syscallTable('x86_64').multiplexed.size).toBe(0);
    expect(syscallName('x86_64', 257)).toBe('openat');
  });

  it('know which names libseccomp knows', () => {
    expect(isKnownSyscallName('read')).toBe(true);
    expect(isKnownSyscallName('sysmips')).toBe(true); // MIPS only
    expect(isKnownSyscallName('send')).toBe(true); // x86 socketcall only
    expect(isKnownSyscallName('no_such_syscall')).toBe(false);
    expect(isKnownSyscallName('read,write')).toBe(false);
    expect(isKnownSyscallName('')).toBe(false);
  });

  it.skipIf(!HAVE_RESOLVER)('match scmp_sys_resolver for a sample of names and numbers on every arch', () => {
    for (const arch of TABLE_ARCHES) {
      const table = [...syscallTable(arch).byName];
      expect(table.length).toBeGreaterThan(300);
      // every 9th entry plus the first and last, both directions
      const sample = table.filter((_, i) => i % 9 === 0 || i === table.length - 1);
      for (const [name, nr] of sample) {
        // On x86, libseccomp resolves the socketcall/ipc family by name to pseudo numbers.
        const mux = syscallTable(arch).multiplexed.get(name);
        const want = mux === undefined ? nr : mux[0] === 102 ? -100 - mux[1] : -200 - mux[1];
        expect(resolve(arch, name), `${arch} ${name}`).toBe(String(want));
        expect(resolve(arch, nr), `${arch} ${nr}`).toBe(name);
      }
      // names absent on this arch resolve to libseccomp's negative pseudo numbers
      for (const name of ['socketcall', 'open', 'arch_prctl', 'sysmips']) {
        const v = Number(resolve(arch, name));
        expect(syscallTable(arch).byName.has(name), `${arch} ${name}`).toBe(v >= 0);
        if (v >= 0) expect(syscallTable(arch).byName.get(name)).toBe(v);
      }
    }
    for (const [name, [muxNr, sub]] of syscallTable('x86').multiplexed) {
      const pseudo = Number(resolve('x86', name));
      expect(muxNr === 102 ? -100 - sub : -200 - sub, name).toBe(pseudo);
    }
    expect(resolve('x86_64', 'no_such_syscall')).toBe('-1');
  });
});
