// Compile an OCI linux.seccomp section into a classic-BPF seccomp program.
//
// The result behaves like the filter runc 1.x loads, i.e. libseccomp's filter with runc's
// -ENOSYS stub in front of it:
//
//  * Architecture: seccomp_data.arch is checked first. The filter covers the host ("native")
//    architecture plus every listed one (libseccomp's seccomp_init always includes the native
//    arch, and runc only adds to it). Any other arch gets libseccomp's default "bad arch"
//    action, SECCOMP_RET_KILL_THREAD (runc does not change it). Listed architectures without
//    a syscall table here (arm, mips, ppc, s390, riscv, ...) are left out of the filter and
//    reported in `ignoredArchitectures`; their processes hit the bad-arch action.
//  * x32 shares AUDIT_ARCH_X86_64 and sets bit 30 (0x40000000) in the syscall number. Like
//    libseccomp: with x86_64 but not x32 in the filter, a number >= 0x40000000 other than -1
//    gets the bad-arch action (-1 is what a tracer uses to skip a syscall and gets the default
//    action); with x32 but not x86_64, a number < 0x40000000 gets the bad-arch action; with
//    both, the two tables are matched together.
//  * -ENOSYS stub (runc's patchbpf, on by default): unless the default action is ALLOW, LOG or
//    TRACE, a syscall number above the largest one the profile names for that architecture
//    returns ENOSYS instead of the default action, so that newer syscalls fail like on an
//    older kernel and libc falls back (x32 and x86_64 are told apart by bit 30).
//  * Rules: runc's per-name handling. A rule whose action equals the default action is
//    dropped; an argument index used twice in one rule turns each condition into a rule of
//    its own (ORed), otherwise conditions are ANDed. Names unknown on an architecture are
//    skipped silently; names libseccomp does not know at all are reported in
//    `unknownSyscalls` (runc logs them at debug level). Per syscall, libseccomp semantics:
//    if any rule is unconditional the first unconditional rule decides alone; otherwise
//    conditional rules are tried in order, first match wins (libseccomp merges overlapping
//    rules with different actions in its own way; for non-overlapping rules the results are
//    the same), then the default action.
//  * Arguments: on 64-bit ABIs (x86_64, aarch64) all comparisons are unsigned 64-bit, done
//    as two 32-bit halves. On the 32-bit ABIs (x86, and x32 which libseccomp treats as 32-bit)
//    libseccomp compares the low 32 bits only, with the rule's value truncated; so do we.
//    SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the expected value, and the test is
//    (arg & mask) == (valueTwo & mask).
//  * x86 (i386): as in libseccomp, a rule on a socket or SysV IPC call also matches the call
//    made through socketcall(2) / ipc(2) with the sub-call number in argument 0 (the rule's
//    own argument 0 condition is replaced by that test).
//
// The dispatch on the syscall number is a binary search over number ranges, so a profile of
// several hundred syscalls costs about ten comparisons per syscall; conditional jumps that
// would exceed 8 bits are expanded by the assembler (see bpf.ts).

import { ConfigError } from '../errors';
import type {
  Arch,
  LinuxSeccomp,
  LinuxSeccompAction,
  LinuxSeccompFlag,
  LinuxSeccompOperator,
} from '../oci/types';
import { Assembler, BPF, BPF_MAXINSNS, retTarget, SECCOMP_DATA, SOCK_FILTER_SIZE } from './bpf';
import { isKnownSyscallName, syscallTable, type TableArch } from './syscalls';

// ---------------------------------------------------------------------------------------
// Kernel ABI constants

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
} as const;

export const X32_SYSCALL_BIT = 0x40000000;

const EPERM = 1;
const ENOSYS = 38;
const U32 = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;
/** validate.ts stores uint64 values >= this (not representable as doubles) as "all ones". */
const U64_ALL_ONES_THRESHOLD = 2 ** 64 - 2048;

// ---------------------------------------------------------------------------------------
// Public API

export interface CompileSeccompOptions {
  /**
   * The host architecture, whose syscalls the filter always covers: a Node `process.arch`
   * value ("x64", "ia32", "arm64"), a kernel name ("x86_64", "i386", "aarch64", "x32") or an
   * SCMP_ARCH_* name. Default: process.arch.
   */
  hostArch?: string;
  /** runc's -ENOSYS stub for syscalls newer than the profile (default true). */
  enosysStub?: boolean;
}

export interface CompiledSeccomp {
  /** struct sock_filter[]: 8 bytes each, little-endian (u16 code, u8 jt, u8 jf, u32 k). */
  program: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(SECCOMP_SET_MODE_FILTER, flags, ...). */
  flags: number;
  /** Some rule uses SCMP_ACT_NOTIFY (flags include NEW_LISTENER; the load returns a fd). */
  notify: boolean;
  /** Names libseccomp does not know on any architecture; ignored, for the caller to warn. */
  unknownSyscalls: string[];
  /** The SCMP_ARCH_* architectures the filter covers, host first. */
  architectures: string[];
  /** Listed architectures this compiler has no tables for; left out of the filter. */
  ignoredArchitectures: string[];
}

type SupportedArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X32' | 'SCMP_ARCH_AARCH64';

interface ArchDef {
  readonly scmp: SupportedArch;
  readonly table: TableArch;
  readonly audit: number;
  /** libseccomp's ARCH_SIZE_32: only the low 32 bits of arguments are compared. */
  readonly bits32: boolean;
}

const ARCH_DEFS: Record<SupportedArch, ArchDef> = {
  SCMP_ARCH_X86_64: { scmp: 'SCMP_ARCH_X86_64', table: 'x86_64', audit: AUDIT_ARCH.X86_64, bits32: false },
  SCMP_ARCH_X86: { scmp: 'SCMP_ARCH_X86', table: 'x86', audit: AUDIT_ARCH.I386, bits32: true },
  SCMP_ARCH_X32: { scmp: 'SCMP_ARCH_X32', table: 'x32', audit: AUDIT_ARCH.X86_64, bits32: true },
  SCMP_ARCH_AARCH64: { scmp: 'SCMP_ARCH_AARCH64', table: 'aarch64', audit: AUDIT_ARCH.AARCH64, bits32: false },
};

/** Every architecture name the runtime spec allows; true = supported here. */
const SPEC_ARCHES: Record<Arch, boolean> = {
  SCMP_ARCH_X86: true,
  SCMP_ARCH_X86_64: true,
  SCMP_ARCH_X32: true,
  SCMP_ARCH_ARM: false,
  SCMP_ARCH_AARCH64: true,
  SCMP_ARCH_LOONGARCH64: false,
  SCMP_ARCH_M68K: false,
  SCMP_ARCH_MIPS: false,
  SCMP_ARCH_MIPS64: false,
  SCMP_ARCH_MIPS64N32: false,
  SCMP_ARCH_MIPSEL: false,
  SCMP_ARCH_MIPSEL64: false,
  SCMP_ARCH_MIPSEL64N32: false,
  SCMP_ARCH_PPC: false,
  SCMP_ARCH_PPC64: false,
  SCMP_ARCH_PPC64LE: false,
  SCMP_ARCH_S390: false,
  SCMP_ARCH_S390X: false,
  SCMP_ARCH_SH: false,
  SCMP_ARCH_SHEB: false,
  SCMP_ARCH_PARISC: false,
  SCMP_ARCH_PARISC64: false,
  SCMP_ARCH_RISCV64: false,
};

const HOST_ARCHES: Record<string, SupportedArch> = {
  x64: 'SCMP_ARCH_X86_64',
  x86_64: 'SCMP_ARCH_X86_64',
  amd64: 'SCMP_ARCH_X86_64',
  ia32: 'SCMP_ARCH_X86',
  x86: 'SCMP_ARCH_X86',
  i386: 'SCMP_ARCH_X86',
  i686: 'SCMP_ARCH_X86',
  x32: 'SCMP_ARCH_X32',
  arm64: 'SCMP_ARCH_AARCH64',
  aarch64: 'SCMP_ARCH_AARCH64',
  SCMP_ARCH_X86_64: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_X86: 'SCMP_ARCH_X86',
  SCMP_ARCH_X32: 'SCMP_ARCH_X32',
  SCMP_ARCH_AARCH64: 'SCMP_ARCH_AARCH64',
};

/** Action base values; ERRNO and TRACE carry 16 bits of data. */
const ACTIONS: Record<LinuxSeccompAction, number> = {
  SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_THREAD: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS,
  SCMP_ACT_TRAP: SECCOMP_RET.TRAP,
  SCMP_ACT_ERRNO: SECCOMP_RET.ERRNO,
  SCMP_ACT_TRACE: SECCOMP_RET.TRACE,
  SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW,
  SCMP_ACT_LOG: SECCOMP_RET.LOG,
  SCMP_ACT_NOTIFY: SECCOMP_RET.USER_NOTIF,
};

type Op = 'EQ' | 'NE' | 'LT' | 'LE' | 'GT' | 'GE' | 'MASKED_EQ';
const OPERATORS: Record<LinuxSeccompOperator, Op> = {
  SCMP_CMP_NE: 'NE',
  SCMP_CMP_LT: 'LT',
  SCMP_CMP_LE: 'LE',
  SCMP_CMP_EQ: 'EQ',
  SCMP_CMP_GE: 'GE',
  SCMP_CMP_GT: 'GT',
  SCMP_CMP_MASKED_EQ: 'MASKED_EQ',
};

const FLAGS: Record<LinuxSeccompFlag, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG.TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
};

/**
 * Compiles `seccomp` (config.json's linux.seccomp) for the host architecture plus the listed
 * ones. Throws ConfigError naming the offending field; never touches the kernel.
 *
 * Actions: SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE carry the rule's errnoRet, or EPERM
 * when it is absent (the spec's default; defaultErrnoRet applies to the default action only).
 *
 * flags: the listed SECCOMP_FILTER_FLAG_*s; when `flags` is absent, SPEC_ALLOW (runc's
 * default; a loader on a kernel older than 4.17 should retry without it). NEW_LISTENER is added
 * when a rule uses SCMP_ACT_NOTIFY. Pairs the kernel rejects are not returned: TSYNC is
 * dropped when NEW_LISTENER is set (runc never passes TSYNC at all), and WAIT_KILLABLE_RECV is
 * dropped when there is no listener (it only changes how notifications wait).
 *
 * Argument values may be numbers (as validate.ts leaves them: >= 2^64-2048 means 2^64-1) or
 * bigints (exact).
 */
export function compileSeccomp(seccomp: LinuxSeccomp, opts: CompileSeccompOptions = {}): CompiledSeccomp {
  const P = 'config.json: linux.seccomp';
  if (typeof seccomp !== 'object' || seccomp === null || Array.isArray(seccomp)) {
    throw new ConfigError(`${P}: must be an object`);
  }

  const defaultAction = parseAction(seccomp.defaultAction, `${P}.defaultAction`);
  if (defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new ConfigError(`${P}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`);
  }
  const defaultRet = actionValue(defaultAction, seccomp.defaultErrnoRet, `${P}.defaultErrnoRet`);
  const { archs, ignoredArchitectures } = architecturesOf(seccomp, opts.hostArch ?? process.arch, P);
  let flags = flagsOf(seccomp, P);

  // runc's stub, for any default action but the permissive ones. (runc means to skip it when
  // defaultErrnoRet is ENOSYS, but compares the errno with the whole action value, so it never
  // does; the stub is kept here too, which also keeps its answer for numbers like 0x80000000.)
  const stub =
    opts.enosysStub !== false &&
    defaultAction !== 'SCMP_ACT_ALLOW' &&
    defaultAction !== 'SCMP_ACT_LOG' &&
    defaultAction !== 'SCMP_ACT_TRACE';
  const states: ArchState[] = archs.map((def) => {
    const t = syscallTable(def.table);
    return { def, byName: t.byName, mux: t.multiplexed.size > 0 ? t.multiplexed : undefined, rules: new Map(), largest: 0 };
  });
  const { unknown, notify } = addRules(seccomp.syscalls ?? [], states, defaultRet, P);

  if (notify) {
    flags |= SECCOMP_FILTER_FLAG.NEW_LISTENER;
    flags &= ~SECCOMP_FILTER_FLAG.TSYNC;
  } else {
    flags &= ~SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV;
  }
  return {
    program: generate(states, stub, defaultRet, P),
    flags,
    notify,
    unknownSyscalls: [...unknown],
    architectures: archs.map((a) => a.scmp),
    ignoredArchitectures,
  };
}

/** The host's architecture first, then the listed ones tsrun compiles for;
 * the others (known to the spec, not supported here) are reported. */
function architecturesOf(seccomp: LinuxSeccomp, hostName: string, P: string): { archs: ArchDef[]; ignoredArchitectures: string[] } {
  const host = HOST_ARCHES[hostName];
  if (host === undefined) {
    throw new ConfigError(
      `${P}: host architecture ${JSON.stringify(hostName)} is not supported (supported: x86_64, x86, x32, aarch64)`,
    );
  }
  const archs: ArchDef[] = [ARCH_DEFS[host]];
  const ignoredArchitectures: string[] = [];
  const listed = seccomp.architectures ?? [];
  if (!Array.isArray(listed)) throw new ConfigError(`${P}.architectures: must be an array`);
  listed.forEach((a: unknown, i) => {
    if (typeof a !== 'string' || !Object.hasOwn(SPEC_ARCHES, a)) {
      throw new ConfigError(`${P}.architectures[${i}]: unknown architecture ${show(a)}`);
    }
    if (!SPEC_ARCHES[a as Arch]) {
      if (!ignoredArchitectures.includes(a)) ignoredArchitectures.push(a);
      return;
    }
    const def = ARCH_DEFS[a as SupportedArch];
    if (!archs.includes(def)) archs.push(def);
  });
  return { archs, ignoredArchitectures };
}

/** seccomp(2) filter flags; none given means SPEC_ALLOW, as runc. */
function flagsOf(seccomp: LinuxSeccomp, P: string): number {
  if (seccomp.flags === undefined || seccomp.flags === null) return SECCOMP_FILTER_FLAG.SPEC_ALLOW;
  if (!Array.isArray(seccomp.flags)) throw new ConfigError(`${P}.flags: must be an array`);
  let flags = 0;
  seccomp.flags.forEach((f: unknown, i) => {
    if (typeof f !== 'string' || !Object.hasOwn(FLAGS, f)) {
      throw new ConfigError(`${P}.flags[${i}]: unknown flag ${show(f)}`);
    }
    flags |= FLAGS[f as LinuxSeccompFlag];
  });
  return flags;
}

/** Each syscall rule, checked and compiled into every architecture's table. */
function addRules(syscalls: unknown, states: ArchState[], defaultRet: number, P: string): { unknown: Set<string>; notify: boolean } {
  const unknown = new Set<string>();
  let notify = false;
  if (!Array.isArray(syscalls)) throw new ConfigError(`${P}.syscalls: must be an array`);
  for (let i = 0; i < syscalls.length; i++) {
    const call: unknown = syscalls[i];
    const path = `${P}.syscalls[${i}]`;
    if (typeof call !== 'object' || call === null || Array.isArray(call)) {
      throw new ConfigError(`${path}: must be an object`);
    }
    const { action: act, errnoRet, names, args } = call as Record<string, unknown>;
    const action = parseAction(act, `${path}.action`);
    const ret = actionValue(action, errnoRet, `${path}.errnoRet`);
    if (!Array.isArray(names) || names.length === 0) {
      throw new ConfigError(`${path}.names: must be a non-empty array of syscall names`);
    }
    for (let j = 0; j < names.length; j++) {
      const n: unknown = names[j];
      if (typeof n !== 'string' || n === '') {
        throw new ConfigError(`${path}.names[${j}]: must be a non-empty string`);
      }
      if (action === 'SCMP_ACT_NOTIFY' && n === 'write') {
        // runc refuses this too: the runtime itself must still write() after loading.
        throw new ConfigError(`${path}.names[${j}]: SCMP_ACT_NOTIFY cannot be used for the write syscall`);
      }
    }
    const conds = parseArgs(args, `${path}.args`);
    if (action === 'SCMP_ACT_NOTIFY') notify = true;
    // runc: a rule with the default action is redundant and skipped (but its names still
    // count for the -ENOSYS stub and the unknown-name report).
    const skip = ret === defaultRet;
    // runc: if an argument index repeats, each condition becomes a rule of its own.
    const groups = hasRepeatedIndex(conds) ? conds.map((c) => [c]) : [conds];
    // The compiled form of each group, per ABI width (shared by all names of the rule).
    const wide = skip ? [] : groups.map((g) => archRule(g, ret, false));
    const narrow = skip ? [] : groups.map((g) => archRule(g, ret, true));

    for (let j = 0; j < names.length; j++) {
      const name = names[j] as string;
      let found = false;
      for (let a = 0; a < states.length; a++) {
        const st = states[a]!;
        const nr = st.byName.get(name);
        const mux = st.mux?.get(name);
        if (nr === undefined && mux === undefined) continue;
        found = true;
        // libseccomp resolves the multiplexed x86 calls to negative pseudo numbers.
        if (nr !== undefined && mux === undefined && nr > st.largest) st.largest = nr;
        if (skip) continue;
        const compiled = st.def.bits32 ? narrow : wide;
        for (let g = 0; g < groups.length; g++) {
          if (mux !== undefined) {
            // x86: also match the call made through socketcall(2) / ipc(2).
            const muxConds: Cond[] = [{ index: 0, op: 'EQ', value: BigInt(mux[1]), valueTwo: 0n }];
            for (const c of groups[g]!) if (c.index !== 0) muxConds.push(c);
            addRule(st.rules, mux[0], archRule(muxConds, ret, st.def.bits32));
          }
          if (nr !== undefined) addRule(st.rules, nr, compiled[g]!);
        }
      }
      if (!found && !isKnownSyscallName(name)) unknown.add(name);
    }
  }

  return { unknown, notify };
}

/** The BPF program: an architecture dispatch, then each section's rules. */
function generate(states: ArchState[], stub: boolean, defaultRet: number, P: string): Buffer {
  const asm = new Assembler();
  const sections: ArchState[][] = [];
  for (const st of states) {
    const s = sections.find((x) => x[0]!.def.audit === st.def.audit);
    if (s) s.push(st);
    else sections.push([st]);
  }
  const sectionLabels = sections.map(() => asm.label());
  asm.ld(SECCOMP_DATA.ARCH);
  sections.forEach((s, i) => {
    const next = asm.label();
    asm.jcc(BPF.JMP_JEQ_K, s[0]!.def.audit, sectionLabels[i]!, next);
    asm.place(next);
  });
  asm.ret(SECCOMP_RET.KILL_THREAD); // libseccomp's default bad-arch action (SCMP_ACT_KILL)
  sections.forEach((s, i) => {
    asm.place(sectionLabels[i]!);
    emitSection(asm, s, stub, defaultRet);
  });

  const program = asm.assemble();
  const count = program.length / SOCK_FILTER_SIZE;
  if (count > BPF_MAXINSNS) {
    throw new ConfigError(
      `${P}: the compiled filter has ${count} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`,
    );
  }
  return program;
}

// ---------------------------------------------------------------------------------------
// Parsing

interface Cond {
  index: number;
  op: Op;
  value: bigint;
  valueTwo: bigint;
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 56)}..."` : s;
}

function parseAction(v: unknown, path: string): LinuxSeccompAction {
  if (typeof v !== 'string' || !Object.hasOwn(ACTIONS, v)) {
    throw new ConfigError(`${path}: unknown action ${show(v)}`);
  }
  return v as LinuxSeccompAction;
}

/** SECCOMP_RET_* value of an action; `errnoRet` only with ERRNO and TRACE (default EPERM). */
function actionValue(action: LinuxSeccompAction, errnoRet: unknown, path: string): number {
  const takesData = action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE';
  if (errnoRet === undefined || errnoRet === null) {
    return (ACTIONS[action] | (takesData ? EPERM : 0)) >>> 0;
  }
  if (!takesData) {
    throw new ConfigError(`${path}: only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (action is ${action})`);
  }
  if (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff) {
    throw new ConfigError(`${path}: must be an integer 0..65535 (got ${show(errnoRet)})`);
  }
  return (ACTIONS[action] | errnoRet) >>> 0;
}

function parseU64(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= U64_MAX) return v;
  } else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
    if (v >= U64_ALL_ONES_THRESHOLD) {
      if (v <= 2 ** 64) return U64_MAX;
    } else {
      return BigInt(v);
    }
  }
  throw new ConfigError(`${path}: must be an integer 0..18446744073709551615 (got ${show(v)})`);
}

function parseArgs(args: unknown, path: string): Cond[] {
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw new ConfigError(`${path}: must be an array`);
  return args.map((a: unknown, i): Cond => {
    const p = `${path}[${i}]`;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new ConfigError(`${p}: must be an object`);
    const arg = a as Record<string, unknown>;
    const index = arg.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
      throw new ConfigError(`${p}.index: must be an argument index 0..5 (got ${show(index)})`);
    }
    const op = arg.op;
    if (typeof op !== 'string' || !Object.hasOwn(OPERATORS, op)) {
      throw new ConfigError(`${p}.op: unknown operator ${show(op)}`);
    }
    const value = parseU64(arg.value, `${p}.value`);
    const valueTwo = arg.valueTwo === undefined || arg.valueTwo === null ? 0n : parseU64(arg.valueTwo, `${p}.valueTwo`);
    return { index, op: OPERATORS[op as LinuxSeccompOperator], value, valueTwo };
  });
}

function hasRepeatedIndex(conds: Cond[]): boolean {
  const seen = new Set<number>();
  for (const c of conds) {
    if (seen.has(c.index)) return true;
    seen.add(c.index);
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Per-architecture rule sets

/** A condition as compiled: 32-bit halves, datum already masked. */
interface NCond {
  index: number;
  op: Op;
  /** false: compare the low word only (32-bit ABI). */
  wide: boolean;
  hiMask: number;
  loMask: number;
  hiDatum: number;
  loDatum: number;
}

interface ArchRule {
  /** null: unconditional (no conditions, or only conditions that always hold). */
  conds: NCond[] | null;
  action: number;
}

/** libseccomp's view of one condition on an architecture; null if it always holds. */
function normalize(c: Cond, bits32: boolean): NCond | null {
  let mask = c.op === 'MASKED_EQ' ? c.value : U64_MAX;
  let datum = c.op === 'MASKED_EQ' ? c.valueTwo & mask : c.value;
  if (bits32) {
    mask &= 0xffffffffn;
    datum &= 0xffffffffn;
  }
  if (c.op === 'MASKED_EQ' && mask === 0n) return null;
  return {
    index: c.index,
    op: c.op,
    wide: !bits32,
    hiMask: Number(mask >> 32n),
    loMask: Number(mask & 0xffffffffn),
    hiDatum: Number(datum >> 32n),
    loDatum: Number(datum & 0xffffffffn),
  };
}

/** A rule as compiled for a 32- or 64-bit ABI. */
function archRule(conds: Cond[], action: number, bits32: boolean): ArchRule {
  const n: NCond[] = [];
  for (const c of conds) {
    const x = normalize(c, bits32);
    if (x !== null) n.push(x);
  }
  return { conds: n.length === 0 ? null : n, action };
}

function addRule(rules: Map<number, ArchRule[]>, nr: number, rule: ArchRule): void {
  const list = rules.get(nr);
  if (list === undefined) rules.set(nr, [rule]);
  else list.push(rule);
}

interface ArchState {
  def: ArchDef;
  byName: ReadonlyMap<string, number>;
  mux: ReadonlyMap<string, readonly [number, number]> | undefined;
  /** syscall number -> rules, in profile order */
  rules: Map<number, ArchRule[]>;
  /** largest syscall number the profile names (runc's -ENOSYS stub); 0 = none */
  largest: number;
}

// ---------------------------------------------------------------------------------------
// Code generation

/** A return value, or conditional rules tried in order before the default action. */
type Body = number | ArchRule[];

function emitSection(asm: Assembler, states: ArchState[], stub: boolean, defaultRet: number): void {
  const ENOSYS_RET = retTarget(SECCOMP_RET.ERRNO | ENOSYS);
  const BADARCH = retTarget(SECCOMP_RET.KILL_THREAD);
  const tree = asm.label();
  asm.ld(SECCOMP_DATA.NR);

  const x64 = states.find((a) => a.def.scmp === 'SCMP_ARCH_X86_64');
  const x32 = states.find((a) => a.def.scmp === 'SCMP_ARCH_X32');
  if (x64 !== undefined || x32 !== undefined) {
    // AUDIT_ARCH_X86_64: x86_64 and/or x32, told apart by bit 30 of the number.
    const abi = x64 && x32 ? tree : asm.label();
    const m64 = stub && x64 !== undefined ? x64.largest : 0;
    const m32 = stub && x32 !== undefined ? x32.largest : 0;
    if (m64 && m32) {
      const isX32 = asm.label();
      const isX64 = asm.label();
      asm.jcc(BPF.JMP_JSET_K, X32_SYSCALL_BIT, isX32, isX64);
      asm.place(isX32);
      asm.jcc(BPF.JMP_JGT_K, m32, ENOSYS_RET, abi);
      asm.place(isX64);
      asm.jcc(BPF.JMP_JGT_K, m64, ENOSYS_RET, abi);
    } else if (m64) {
      const isX64 = asm.label();
      asm.jcc(BPF.JMP_JSET_K, X32_SYSCALL_BIT, abi, isX64);
      asm.place(isX64);
      asm.jcc(BPF.JMP_JGT_K, m64, ENOSYS_RET, abi);
    } else if (m32) {
      const isX32 = asm.label();
      asm.jcc(BPF.JMP_JSET_K, X32_SYSCALL_BIT, isX32, abi);
      asm.place(isX32);
      asm.jcc(BPF.JMP_JGT_K, m32, ENOSYS_RET, abi);
    }
    if (x64 && !x32) {
      // libseccomp: x32 calls are a bad arch for an x86_64-only filter, except -1.
      asm.place(abi);
      const high = asm.label();
      asm.jcc(BPF.JMP_JGE_K, X32_SYSCALL_BIT, high, tree);
      asm.place(high);
      asm.jcc(BPF.JMP_JEQ_K, U32, tree, BADARCH);
    } else if (x32 && !x64) {
      asm.place(abi);
      asm.jcc(BPF.JMP_JGE_K, X32_SYSCALL_BIT, tree, BADARCH);
    }
  } else {
    const m = stub ? states[0]!.largest : 0;
    if (m) asm.jcc(BPF.JMP_JGT_K, m, ENOSYS_RET, tree);
  }
  asm.place(tree);

  // Per syscall number: the first unconditional rule wins outright (libseccomp drops the
  // other rules of that syscall); otherwise the conditional rules in order.
  const bodies = new Map<number, Body>();
  const setBody = (rules: ArchRule[], nr: number): void => {
    let body: Body = rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.conds === null) {
        body = r.action;
        break;
      }
    }
    bodies.set(nr, body);
  };
  for (let i = 0; i < states.length; i++) states[i]!.rules.forEach(setBody);
  emitDispatch(asm, bodies, defaultRet);
}

/** Binary search over the syscall number (in A) by ranges of equal treatment. */
function emitDispatch(asm: Assembler, bodies: Map<number, Body>, defaultRet: number): void {
  const nrs = Float64Array.from(bodies.keys()).sort();
  // Ranges [starts[i], starts[i+1]) share one body; neighbours with equal bodies are merged.
  const starts: number[] = [];
  const range: Body[] = [];
  const keys: (number | string)[] = [];
  const push = (start: number, body: Body): void => {
    const key = typeof body === 'number' ? body : JSON.stringify(body);
    if (keys.length > 0 && keys[keys.length - 1] === key) return;
    starts.push(start);
    range.push(body);
    keys.push(key);
  };
  let cursor = 0;
  for (let i = 0; i < nrs.length; i++) {
    const nr = nrs[i]!;
    if (nr > cursor) push(cursor, defaultRet);
    push(nr, bodies.get(nr)!);
    cursor = nr + 1;
  }
  if (cursor <= U32) push(cursor, defaultRet);

  const emitRange = (lo: number, hi: number): void => {
    if (hi - lo === 1) {
      emitBody(asm, range[lo]!, defaultRet);
      return;
    }
    const mid = (lo + hi) >>> 1;
    const left = asm.label();
    const right = asm.label();
    asm.jcc(BPF.JMP_JGE_K, starts[mid]!, right, left);
    asm.place(left);
    emitRange(lo, mid);
    asm.place(right);
    emitRange(mid, hi);
  };
  emitRange(0, starts.length);
}

function emitBody(asm: Assembler, body: Body, defaultRet: number): void {
  if (typeof body === 'number') {
    asm.ret(body);
    return;
  }
  for (const rule of body) {
    const fail = asm.label();
    for (const c of rule.conds!) {
      const pass = asm.label();
      emitCond(asm, c, pass, fail);
      asm.place(pass);
    }
    asm.ret(rule.action);
    asm.place(fail);
  }
  asm.ret(defaultRet);
}

/** Tests one condition; jumps to `pass` or `fail`. Clobbers A. */
function emitCond(asm: Assembler, c: NCond, pass: number, fail: number): void {
  const lo = SECCOMP_DATA.ARGS + 8 * c.index;
  const hi = lo + 4;
  const { hiDatum: hd, loDatum: ld } = c;

  if (!c.wide) {
    asm.ld(lo);
    switch (c.op) {
      case 'MASKED_EQ':
        if (c.loMask !== U32) asm.and(c.loMask);
        asm.jcc(BPF.JMP_JEQ_K, ld, pass, fail);
        return;
      case 'EQ':
        return asm.jcc(BPF.JMP_JEQ_K, ld, pass, fail);
      case 'NE':
        return asm.jcc(BPF.JMP_JEQ_K, ld, fail, pass);
      case 'GT':
        return asm.jcc(BPF.JMP_JGT_K, ld, pass, fail);
      case 'GE':
        return asm.jcc(BPF.JMP_JGE_K, ld, pass, fail);
      case 'LT':
        return asm.jcc(BPF.JMP_JGE_K, ld, fail, pass);
      case 'LE':
        return asm.jcc(BPF.JMP_JGT_K, ld, fail, pass);
    }
  }

  switch (c.op) {
    case 'MASKED_EQ': {
      const halves: [number, number, number][] = [];
      if (c.hiMask !== 0) halves.push([hi, c.hiMask, hd]);
      if (c.loMask !== 0) halves.push([lo, c.loMask, ld]);
      halves.forEach(([off, mask, datum], i) => {
        const last = i === halves.length - 1;
        const next = last ? pass : asm.label();
        asm.ld(off);
        if (mask !== U32) asm.and(mask);
        asm.jcc(BPF.JMP_JEQ_K, datum, next, fail);
        if (!last) asm.place(next);
      });
      return;
    }
    case 'EQ': {
      const next = asm.label();
      asm.ld(hi);
      asm.jcc(BPF.JMP_JEQ_K, hd, next, fail);
      asm.place(next);
      asm.ld(lo);
      asm.jcc(BPF.JMP_JEQ_K, ld, pass, fail);
      return;
    }
    case 'NE': {
      const next = asm.label();
      asm.ld(hi);
      asm.jcc(BPF.JMP_JEQ_K, hd, next, pass);
      asm.place(next);
      asm.ld(lo);
      asm.jcc(BPF.JMP_JEQ_K, ld, fail, pass);
      return;
    }
    case 'GT':
    case 'GE':
    case 'LT':
    case 'LE': {
      // Decided by the high words unless they are equal, then by the low words.
      const greater = c.op === 'GT' || c.op === 'GE';
      const above = greater ? pass : fail; // A.hi > R.hi
      const below = greater ? fail : pass; // A.hi < R.hi
      const low = asm.label();
      asm.ld(hi);
      if (hd !== U32) {
        const eq = asm.label();
        asm.jcc(BPF.JMP_JGT_K, hd, above, eq);
        asm.place(eq);
      }
      if (hd !== 0) asm.jcc(BPF.JMP_JEQ_K, hd, low, below);
      asm.place(low);
      asm.ld(lo);
      if (c.op === 'GT') asm.jcc(BPF.JMP_JGT_K, ld, pass, fail);
      else if (c.op === 'GE') asm.jcc(BPF.JMP_JGE_K, ld, pass, fail);
      else if (c.op === 'LT') asm.jcc(BPF.JMP_JGE_K, ld, fail, pass);
      else asm.jcc(BPF.JMP_JGT_K, ld, fail, pass);
      return;
    }
  }
}
