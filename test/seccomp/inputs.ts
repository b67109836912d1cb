// Test inputs: every syscall number of every table (and the one after it), the numbers around
// the x32 bit and the u32 ends, on every supported arch and one unsupported one, with argument
// values drawn from a pool of 32/64-bit boundary values (deterministically).

import { syscallTable } from '../../src/seccomp/syscalls';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, type SeccompInput } from './bpf-interp';

export const ARG_POOL: readonly bigint[] = [
  0n,
  1n,
  3n,
  8n,
  9n,
  40n,
  0xffffffffn,
  0x1_0000_0000n,
  0x1_0000_0009n,
  1n << 63n,
  (1n << 64n) - 1n,
];

export function boundaryInputs(seed = 12345): SeccompInput[] {
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = () => ARG_POOL[rnd(ARG_POOL.length)]!;
  const nrs = new Set<number>([
    0, 1, 2, 3, 63, 102, 117, 359, 500, 0x3fffffff, 0x40000000, 0x40000202, 0x7fffffff, 0x80000000, 0xfffffffe,
    0xffffffff,
  ]);
  for (const arch of ['x86_64', 'x86', 'x32', 'aarch64'] as const) {
    for (const v of syscallTable(arch).byName.values()) nrs.add(v).add(v + 1);
  }
  const inputs: SeccompInput[] = [];
  for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0x40000028]) {
    for (const nr of nrs) {
      inputs.push({ arch, nr, args: Array.from({ length: 6 }, pick) });
      inputs.push({ arch, nr, args: [pick(), 9n, 3n] });
    }
  }
  for (const sub of [0, 1, 2, 3, 9, 10, 21, 23]) {
    inputs.push({ arch: AUDIT_ARCH_I386, nr: 102, args: [sub, 9] }, { arch: AUDIT_ARCH_I386, nr: 117, args: [sub] });
    inputs.push({ arch: AUDIT_ARCH_I386, nr: 102, args: [sub, 0x1_0000_0009n] }, { arch: AUDIT_ARCH_I386, nr: 102, args: [sub, 8] });
    inputs.push({ arch: AUDIT_ARCH_I386, nr: 117, args: [sub, 9] }, { arch: AUDIT_ARCH_I386, nr: 117, args: [sub, 0x2_0000_0008n] });
  }
  return inputs;
}
