// A direct, unoptimised model of what the compiled filter must return (runc + libseccomp
// semantics as documented in src/seccomp/compile.ts), used to cross-check the BPF program on
// many inputs. It shares only the syscall tables with the compiler.

import type { LinuxSeccomp } from '../../src/oci/types';
import { syscallTable, type SyscallTable, type TableArch } from '../../src/seccomp/syscalls';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, type SeccompInput } from './bpf-interp';

const ALL64 = (1n << 64n) - 1n;
const KILL_THREAD = 0;
const ENOSYS_RET = 0x00050026;

const BASE: Record<string, number> = {
  SCMP_ACT_KILL: 0,
  SCMP_ACT_KILL_THREAD: 0,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_NOTIFY: 0x7fc00000,
};

function act(action: string, errnoRet: number | undefined): number {
  const data = action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE' ? (errnoRet ?? 1) : 0;
  return (BASE[action]! | data) >>> 0;
}

const HOST: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', ia32: 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64' };
const TABLE: Record<string, TableArch> = {
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_AARCH64: 'aarch64',
};

const TABLES = new Map<TableArch, SyscallTable>();
function table(arch: TableArch): SyscallTable {
  let t = TABLES.get(arch);
  if (t === undefined) TABLES.set(arch, (t = syscallTable(arch)));
  return t;
}

function toBig(v: number | bigint | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  return v >= 2 ** 64 - 2048 ? ALL64 : BigInt(v);
}

interface MCond {
  index: number;
  op: string;
  value: bigint;
  valueTwo: bigint;
}

/** Whether the condition can be dropped on this ABI (a MASKED_EQ with an empty mask). */
function trivial(c: MCond, bits32: boolean): boolean {
  if (c.op !== 'SCMP_CMP_MASKED_EQ') return false;
  const mask = bits32 ? c.value & 0xffffffffn : c.value;
  return mask === 0n;
}

function holds(c: MCond, arg: bigint, bits32: boolean): boolean {
  let a = BigInt.asUintN(64, arg);
  let v = c.value;
  let mask = ALL64;
  if (c.op === 'SCMP_CMP_MASKED_EQ') {
    mask = c.value;
    v = c.valueTwo & mask;
  }
  if (bits32) {
    a &= 0xffffffffn;
    v &= 0xffffffffn;
    mask &= 0xffffffffn;
  }
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      return a === v;
    case 'SCMP_CMP_NE':
      return a !== v;
    case 'SCMP_CMP_LT':
      return a < v;
    case 'SCMP_CMP_LE':
      return a <= v;
    case 'SCMP_CMP_GT':
      return a > v;
    case 'SCMP_CMP_GE':
      return a >= v;
    case 'SCMP_CMP_MASKED_EQ':
      return (a & mask) === v;
  }
  throw new Error(`bad op ${c.op}`);
}

export function model(
  spec: LinuxSeccomp,
  input: SeccompInput,
  opts: { hostArch?: string; enosysStub?: boolean } = {},
): number {
  const defaultRet = act(spec.defaultAction, spec.defaultErrnoRet);
  const host = HOST[opts.hostArch ?? 'x64'] ?? opts.hostArch!;
  const archs = new Set<string>([host, ...(spec.architectures ?? []).filter((a) => a in TABLE)]);
  const tables = new Map<string, SyscallTable>([...archs].map((a) => [a, table(TABLE[a]!)]));
  const nr = input.nr >>> 0;
  const args = [0, 1, 2, 3, 4, 5].map((i) => toBig(input.args?.[i]));

  const stubOn =
    opts.enosysStub !== false &&
    !['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(spec.defaultAction);
  const largest = (arch: string): number | undefined => {
    const t = tables.get(arch);
    if (!stubOn || t === undefined) return undefined;
    let max = 0;
    for (const r of spec.syscalls ?? [])
      for (const n of r.names) {
        if (t.multiplexed.has(n)) continue;
        const v = t.byName.get(n);
        if (v !== undefined && v > max) max = v;
      }
    return max === 0 ? undefined : max;
  };

  let arch: string;
  if (input.arch >>> 0 === AUDIT_ARCH_X86_64) {
    const has64 = archs.has('SCMP_ARCH_X86_64');
    const has32 = archs.has('SCMP_ARCH_X32');
    if (!has64 && !has32) return KILL_THREAD;
    const bit = (nr & 0x40000000) !== 0;
    const m = bit ? (has32 ? largest('SCMP_ARCH_X32') : undefined) : has64 ? largest('SCMP_ARCH_X86_64') : undefined;
    if (m !== undefined && nr > m) return ENOSYS_RET;
    if (has64 && !has32) {
      if (nr >= 0x40000000 && nr !== 0xffffffff) return KILL_THREAD;
      arch = 'SCMP_ARCH_X86_64';
    } else if (has32 && !has64) {
      if (nr < 0x40000000) return KILL_THREAD;
      arch = 'SCMP_ARCH_X32';
    } else {
      arch = nr >= 0x40000000 ? 'SCMP_ARCH_X32' : 'SCMP_ARCH_X86_64';
    }
  } else if (input.arch >>> 0 === AUDIT_ARCH_I386 && archs.has('SCMP_ARCH_X86')) {
    arch = 'SCMP_ARCH_X86';
    const m = largest(arch);
    if (m !== undefined && nr > m) return ENOSYS_RET;
  } else if (input.arch >>> 0 === AUDIT_ARCH_AARCH64 && archs.has('SCMP_ARCH_AARCH64')) {
    arch = 'SCMP_ARCH_AARCH64';
    const m = largest(arch);
    if (m !== undefined && nr > m) return ENOSYS_RET;
  } else {
    return KILL_THREAD;
  }

  const t = tables.get(arch)!;
  const bits32 = arch === 'SCMP_ARCH_X86' || arch === 'SCMP_ARCH_X32';
  let uncond: number | undefined;
  let cond: number | undefined;
  for (const r of spec.syscalls ?? []) {
    const ret = act(r.action, r.errnoRet);
    if (ret === defaultRet) continue;
    const conds: MCond[] = (r.args ?? []).map((a) => ({
      index: a.index,
      op: a.op,
      value: toBig(a.value),
      valueTwo: toBig(a.valueTwo),
    }));
    const indexes = conds.map((c) => c.index);
    const groups = new Set(indexes).size !== indexes.length ? conds.map((c) => [c]) : [conds];
    for (const name of r.names) {
      const candidates: MCond[][] = [];
      const mux = t.multiplexed.get(name);
      if (mux !== undefined && mux[0] === nr) {
        for (const g of groups) {
          candidates.push([
            { index: 0, op: 'SCMP_CMP_EQ', value: BigInt(mux[1]), valueTwo: 0n },
            ...g.filter((c) => c.index !== 0),
          ]);
        }
      }
      if (t.byName.get(name) === nr) candidates.push(...groups);
      for (const g of candidates) {
        const effective = g.filter((c) => !trivial(c, bits32));
        if (effective.length === 0) {
          if (uncond === undefined) uncond = ret;
        } else if (cond === undefined && effective.every((c) => holds(c, args[c.index]!, bits32))) {
          cond = ret;
        }
      }
    }
  }
  return uncond ?? cond ?? defaultRet;
}
