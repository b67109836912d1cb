import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSeccompOperator } from '../../src/oci/types';
import { compileSeccomp, type CompileSeccompOptions } from '../../src/seccomp';
import { syscallTable } from '../../src/seccomp/syscalls';
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  decode,
  disassemble,
  run,
  verify,
  type SeccompInput,
} from './bpf-interp';
import { boundaryInputs } from './inputs';
import { model } from './model';
import { dockerLikeProfile, MIXED_SPECS } from './profiles';

const ALLOW = 0x7fff0000;
const KILL_THREAD = 0;
const KILL_PROCESS = 0x80000000;
const TRAP = 0x00030000;
const LOG = 0x7ffc0000;
const NOTIFY = 0x7fc00000;
const errno = (e: number) => (0x00050000 | e) >>> 0;
const trace = (d: number) => (0x7ff00000 | d) >>> 0;
const EPERM = errno(1);
const ENOSYS = errno(38);

const X64 = syscallTable('x86_64').byName;
const I386 = syscallTable('x86').byName;
const X32 = syscallTable('x32').byName;
const A64 = syscallTable('aarch64').byName;
const nr = (m: ReadonlyMap<string, number>, name: string): number => {
  const v = m.get(name);
  if (v === undefined) throw new Error(`no syscall ${name}`);
  return v;
};

const NO_STUB: CompileSeccompOptions = { hostArch: 'x64', enosysStub: false };

/** Compiles, checks the program's structure, and returns a runner. */
function compile(spec: LinuxSeccomp, opts: CompileSeccompOptions = NO_STUB) {
  const out = compileSeccomp(spec, opts);
  verify(out.program);
  const insns = decode(out.program);
  const exec = (input: SeccompInput): number => run(insns, input);
  const x64 = (name: string, args: (bigint | number)[] = []) =>
    exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, name), args });
  return { out, exec, x64 };
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a ConfigError');
}

describe('compileSeccomp: syscalls and actions', () => {
  it('allows listed syscalls and applies the default action to the rest', () => {
    const { x64, exec } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }],
    });
    expect(x64('read')).toBe(ALLOW);
    expect(x64('write')).toBe(ALLOW);
    expect(x64('exit_group')).toBe(ALLOW);
    expect(x64('openat')).toBe(EPERM);
    expect(x64('mount')).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 5000 })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: -1 })).toBe(EPERM);
  });

  it('maps every action to its SECCOMP_RET value', () => {
    const spec: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_KILL' },
        { names: ['write'], action: 'SCMP_ACT_KILL_THREAD' },
        { names: ['open'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['close'], action: 'SCMP_ACT_TRAP' },
        { names: ['stat'], action: 'SCMP_ACT_ERRNO' },
        { names: ['fstat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['lstat'], action: 'SCMP_ACT_TRACE' },
        { names: ['poll'], action: 'SCMP_ACT_TRACE', errnoRet: 1234 },
        { names: ['lseek'], action: 'SCMP_ACT_LOG' },
        { names: ['mmap'], action: 'SCMP_ACT_NOTIFY' },
        { names: ['mprotect'], action: 'SCMP_ACT_ERRNO', errnoRet: 0 },
      ],
    };
    const { x64, out } = compile(spec);
    expect(x64('read')).toBe(KILL_THREAD);
    expect(x64('write')).toBe(KILL_THREAD);
    expect(x64('open')).toBe(KILL_PROCESS);
    expect(x64('close')).toBe(TRAP);
    expect(x64('stat')).toBe(EPERM);
    expect(x64('fstat')).toBe(errno(13));
    expect(x64('lstat')).toBe(trace(1));
    expect(x64('poll')).toBe(trace(1234));
    expect(x64('lseek')).toBe(LOG);
    expect(x64('mmap')).toBe(NOTIFY);
    expect(x64('mprotect')).toBe(errno(0));
    expect(x64('munmap')).toBe(ALLOW);
    expect(out.notify).toBe(true);
  });

  it('uses defaultErrnoRet for the default action only', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ERRNO' },
      ],
    });
    expect(x64('read')).toBe(ALLOW);
    expect(x64('write')).toBe(EPERM);
    expect(x64('open')).toBe(ENOSYS);
  });

  it('handles a default action of every kind', () => {
    for (const [action, ret] of [
      ['SCMP_ACT_KILL', KILL_THREAD],
      ['SCMP_ACT_KILL_PROCESS', KILL_PROCESS],
      ['SCMP_ACT_TRAP', TRAP],
      ['SCMP_ACT_LOG', LOG],
      ['SCMP_ACT_TRACE', trace(1)],
    ] as const) {
      const { x64 } = compile({ defaultAction: action, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] });
      expect(x64('read'), action).toBe(ALLOW);
      expect(x64('write'), action).toBe(ret);
    }
  });

  it('compiles an empty rule list', () => {
    expect(compile({ defaultAction: 'SCMP_ACT_ALLOW' }).x64('read')).toBe(ALLOW);
    expect(compile({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [] }).x64('read')).toBe(KILL_PROCESS);
  });

  it('skips rules whose action equals the default action (runc), so later rules still apply', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['read'], action: 'SCMP_ACT_KILL_THREAD' },
      ],
    });
    expect(x64('personality', [8])).toBe(ALLOW);
    expect(x64('personality', [0])).toBe(EPERM);
    expect(x64('read')).toBe(KILL_THREAD);
  });

  it('treats SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD as the same action', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_KILL',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_KILL_THREAD' },
        { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 3, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    expect(x64('read', [3])).toBe(ALLOW);
    expect(x64('read', [4])).toBe(KILL_THREAD);
  });
});

describe('compileSeccomp: architectures', () => {
  const spec: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read', 'getpid'], action: 'SCMP_ACT_ALLOW' }],
  };

  it('covers only the host architecture by default; others get KILL_THREAD (libseccomp bad-arch action)', () => {
    const { exec, out } = compile(spec);
    expect(out.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'getpid') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_I386, nr: nr(I386, 'getpid') })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_AARCH64, nr: nr(A64, 'getpid') })).toBe(KILL_THREAD);
    expect(exec({ arch: 0, nr: 0 })).toBe(KILL_THREAD);
    expect(exec({ arch: 0x40000028 /* ARM */, nr: 3 })).toBe(KILL_THREAD);
  });

  it('checks the arch before the number', () => {
    const { out } = compile(spec);
    const insns = decode(out.program);
    expect(insns[0]).toEqual({ code: 0x20, jt: 0, jf: 0, k: 4 });
    expect(insns[1]!.code).toBe(0x15);
    expect(insns[1]!.k).toBe(AUDIT_ARCH_X86_64);
  });

  it('uses each listed architecture\'s own numbers', () => {
    const { exec, out } = compile({ ...spec, architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'] });
    expect(out.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64']);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_I386, nr: nr(I386, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_I386, nr: nr(X64, 'read') /* 0 = restart_syscall */ })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_AARCH64, nr: nr(A64, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_AARCH64, nr: nr(A64, 'write') })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_AARCH64, nr: nr(A64, 'getpid') })).toBe(ALLOW);
  });

  it('follows the host architecture option', () => {
    const { exec, out } = compile(spec, { hostArch: 'arm64', enosysStub: false });
    expect(out.architectures).toEqual(['SCMP_ARCH_AARCH64']);
    expect(exec({ arch: AUDIT_ARCH_AARCH64, nr: 63 /* read */ })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0 })).toBe(KILL_THREAD);
    expect(compileSeccomp(spec, { hostArch: 'SCMP_ARCH_X86' }).architectures).toEqual(['SCMP_ARCH_X86']);
  });

  it('reports listed architectures it has no tables for, and leaves them out', () => {
    const { exec, out } = compile({ ...spec, architectures: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] });
    expect(out.ignoredArchitectures).toEqual(['SCMP_ARCH_ARM']);
    expect(out.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64']);
    expect(exec({ arch: 0x40000028, nr: 3 })).toBe(KILL_THREAD);
  });

  it('x86_64 without x32: numbers with the x32 bit are a bad arch, except -1', () => {
    const { exec } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }],
    });
    const X32_BIT = 0x40000000;
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'mount') })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'read') })).toBe(ALLOW);
    // x32 read (bit | 0) and x32 mount must not match x86_64 rules nor the default action.
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: X32_BIT | nr(X64, 'mount') })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'read') })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x7fffffff })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0xfffffffe })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: -1 })).toBe(ALLOW);
    // Bit 31 alone is not the x32 bit, but libseccomp's check is "nr >= 0x40000000".
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x80000000 })).toBe(KILL_THREAD);
  });

  it('x86_64 with x32: both tables are matched, x32 numbers carry bit 30', () => {
    const { exec } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'ioctl'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    expect(nr(X32, 'ioctl')).toBe(0x40000000 + 514);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'ioctl') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x40000000 | nr(X64, 'ioctl') })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'write'), args: [1] })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'write'), args: [2] })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'open') })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: -1 })).toBe(EPERM);
  });

  it('an x32-only filter (x32 host) rejects x86_64 numbers as a bad arch', () => {
    const { exec } = compile(
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] },
      { hostArch: 'x32', enosysStub: false },
    );
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'read') })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'write') })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0 })).toBe(KILL_THREAD);
  });
});

describe('compileSeccomp: argument comparisons', () => {
  const VALUES: bigint[] = [
    0n,
    1n,
    2n,
    0x7fffffffn,
    0x80000000n,
    0xfffffffen,
    0xffffffffn,
    0x1_0000_0000n,
    0x1_0000_0001n,
    0x1_ffff_ffffn,
    0x2_0000_0000n,
    0xffff_fffe_0000_0000n,
    (1n << 63n) - 1n,
    1n << 63n,
    (1n << 63n) + 1n,
    (1n << 64n) - 2n,
    (1n << 64n) - 1n,
  ];
  const OPS: [LinuxSeccompOperator, (a: bigint, v: bigint) => boolean][] = [
    ['SCMP_CMP_EQ', (a, v) => a === v],
    ['SCMP_CMP_NE', (a, v) => a !== v],
    ['SCMP_CMP_LT', (a, v) => a < v],
    ['SCMP_CMP_LE', (a, v) => a <= v],
    ['SCMP_CMP_GT', (a, v) => a > v],
    ['SCMP_CMP_GE', (a, v) => a >= v],
  ];
  // Argument values are bigints here, as a parser keeping uint64 precision would produce.
  const arg = (index: number, op: LinuxSeccompOperator, value: bigint, valueTwo?: bigint): LinuxSeccompArg =>
    ({ index, op, value, valueTwo }) as unknown as LinuxSeccompArg;

  for (const [op, cmp] of OPS) {
    it(`${op}: unsigned 64-bit around 32-bit and sign boundaries`, () => {
      for (const v of VALUES) {
        for (const index of [0, 5]) {
          const { exec, out } = compile({
            defaultAction: 'SCMP_ACT_ERRNO',
            syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [arg(index, op, v)] }],
          });
          for (const a of VALUES) {
            const args = [0n, 0n, 0n, 0n, 0n, 0n];
            args[index] = a;
            const want = cmp(a, v) ? ALLOW : EPERM;
            const got = exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'ioctl'), args });
            if (got !== want) {
              throw new Error(`${op} arg${index}=${a.toString(16)} vs ${v.toString(16)}\n${disassemble(out.program)}`);
            }
          }
        }
      }
    });
  }

  it('SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo, on both halves', () => {
    const MASKS = [0n, 0xffn, 0xffffffffn, 0xffffffff_00000000n, 0x8000_0000_0000_0001n, (1n << 64n) - 1n, 0x7e020000n];
    for (const mask of MASKS) {
      for (const datum of VALUES.concat([0x7e020000n, 0x8000_0000_0000_0000n])) {
        const { exec } = compile({
          defaultAction: 'SCMP_ACT_ERRNO',
          syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [arg(2, 'SCMP_CMP_MASKED_EQ', mask, datum)] }],
        });
        for (const a of VALUES) {
          const want = (a & mask) === (datum & mask) ? ALLOW : EPERM;
          const got = exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'clone'), args: [0, 0, a] });
          expect(got, `mask ${mask.toString(16)} datum ${datum.toString(16)} arg ${a.toString(16)}`).toBe(want);
        }
      }
    }
  });

  it('docker\'s clone rule: namespaces flags masked out', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    expect(x64('clone', [0x01200011])).toBe(ALLOW); // fork-like
    expect(x64('clone', [0x003d0f00])).toBe(ALLOW); // pthread_create
    expect(x64('clone', [0x20000000 /* CLONE_NEWPID */])).toBe(EPERM);
    expect(x64('clone', [0x02000000 /* CLONE_NEWCGROUP */])).toBe(EPERM);
    expect(x64('clone', [0x10000000 /* CLONE_NEWUSER */])).toBe(EPERM);
    expect(x64('clone', [0x1_0000_0000n | 0x10000000n])).toBe(EPERM);
    expect(x64('clone', [0xffff_ffff_0000_0000n])).toBe(ALLOW); // high word is not masked
  });

  it('ANDs the conditions of one rule', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['mmap'],
          action: 'SCMP_ACT_ALLOW',
          args: [
            { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
            { index: 2, value: 4, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 },
            { index: 5, value: 4096, op: 'SCMP_CMP_LT' },
          ],
        },
      ],
    });
    expect(x64('mmap', [0, 4096, 3, 0, 0, 0])).toBe(ALLOW);
    expect(x64('mmap', [0, 4096, 3, 0, 0, 4095])).toBe(ALLOW);
    expect(x64('mmap', [1, 4096, 3, 0, 0, 0])).toBe(EPERM);
    expect(x64('mmap', [0, 4096, 7, 0, 0, 0])).toBe(EPERM);
    expect(x64('mmap', [0, 4096, 3, 0, 0, 4096])).toBe(EPERM);
    expect(x64('mmap', [0x1_0000_0000n, 4096, 3, 0, 0, 0])).toBe(EPERM);
  });

  it('ORs the rules for one syscall, first match wins', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        ...[0, 8, 131072, 131080, 4294967295].map((v) => ({
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW' as const,
          args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' as const }],
        })),
        { names: ['personality'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_LOG', args: [{ index: 1, value: 7, op: 'SCMP_CMP_GE' }] },
      ],
    });
    for (const v of [0, 8, 131072, 131080, 4294967295]) expect(x64('personality', [v]), String(v)).toBe(ALLOW);
    expect(x64('personality', [0x1_0000_0000n])).toBe(EPERM);
    expect(x64('personality', [0x1_ffff_ffffn])).toBe(EPERM);
    expect(x64('personality', [1])).toBe(TRAP);
    expect(x64('personality', [2])).toBe(EPERM);
    expect(x64('personality', [2, 7])).toBe(LOG);
    expect(x64('personality', [8, 7])).toBe(ALLOW);
  });

  it('splits a rule that tests one argument twice into separate rules (runc)', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['kill'],
          action: 'SCMP_ACT_ALLOW',
          args: [
            { index: 1, value: 9, op: 'SCMP_CMP_GE' },
            { index: 1, value: 2, op: 'SCMP_CMP_LE' },
          ],
        },
      ],
    });
    expect(x64('kill', [0, 9])).toBe(ALLOW);
    expect(x64('kill', [0, 0])).toBe(ALLOW);
    expect(x64('kill', [0, 2])).toBe(ALLOW);
    expect(x64('kill', [0, 3])).toBe(EPERM);
    expect(x64('kill', [0, 8])).toBe(EPERM);
  });

  it('an unconditional rule decides alone for its syscall (libseccomp)', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['kill'], action: 'SCMP_ACT_TRAP', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
        { names: ['kill'], action: 'SCMP_ACT_LOG' },
        { names: ['tkill'], action: 'SCMP_ACT_ERRNO' },
        { names: ['tkill'], action: 'SCMP_ACT_TRAP', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
        // a condition that always holds makes the rule unconditional
        { names: ['tgkill'], action: 'SCMP_ACT_TRAP', args: [{ index: 2, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['tgkill'], action: 'SCMP_ACT_LOG', args: [{ index: 2, value: 0, valueTwo: 5, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    expect(x64('kill', [0, 9])).toBe(errno(5));
    expect(x64('kill', [0, 1])).toBe(errno(5));
    expect(x64('tkill', [0, 9])).toBe(EPERM);
    expect(x64('tgkill', [0, 0, 9])).toBe(LOG);
  });

  it('x86 and x32 compare the low 32 bits only (libseccomp treats them as 32-bit ABIs)', () => {
    const { exec } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x1_0000_0005, op: 'SCMP_CMP_EQ' }] },
        { names: ['fcntl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x1_0000_0000, op: 'SCMP_CMP_GE' }] },
      ],
    });
    const on = (arch: number, table: ReadonlyMap<string, number>, name: string, args: (bigint | number)[]) =>
      exec({ arch, nr: nr(table, name), args });
    expect(on(AUDIT_ARCH_X86_64, X64, 'ioctl', [0, 0x1_0000_0005])).toBe(ALLOW);
    expect(on(AUDIT_ARCH_X86_64, X64, 'ioctl', [0, 5])).toBe(EPERM);
    expect(on(AUDIT_ARCH_I386, I386, 'ioctl', [0, 5])).toBe(ALLOW);
    expect(on(AUDIT_ARCH_I386, I386, 'ioctl', [0, 0x7_0000_0005n])).toBe(ALLOW);
    expect(on(AUDIT_ARCH_I386, I386, 'ioctl', [0, 6])).toBe(EPERM);
    expect(on(AUDIT_ARCH_X86_64, X32, 'ioctl', [0, 5])).toBe(ALLOW);
    // GE 0x1_0000_0000 -> GE 0 on the low word: always true on 32-bit ABIs
    expect(on(AUDIT_ARCH_X86_64, X64, 'fcntl', [0, 0xffffffff])).toBe(EPERM);
    expect(on(AUDIT_ARCH_X86_64, X64, 'fcntl', [0, 0x1_0000_0000])).toBe(ALLOW);
    expect(on(AUDIT_ARCH_I386, I386, 'fcntl', [0, 0])).toBe(ALLOW);
    expect(on(AUDIT_ARCH_X86_64, X32, 'fcntl', [0, 0])).toBe(ALLOW);
  });

  it('accepts uint64 values as validate.ts stores them (2^64 means all ones)', () => {
    const { x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2 ** 64, op: 'SCMP_CMP_EQ' }] }],
    });
    expect(x64('read', [(1n << 64n) - 1n])).toBe(ALLOW);
    expect(x64('read', [0xffffffff])).toBe(EPERM);
  });
});

describe('compileSeccomp: x86 socketcall/ipc multiplexing', () => {
  it('a rule on socket matches socket(2) and socketcall(SYS_SOCKET, ...) on x86 (libseccomp)', () => {
    const { exec } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86'],
      syscalls: [
        { names: ['socket', 'send', 'shmget'], action: 'SCMP_ACT_ALLOW' },
        { names: ['connect'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 3, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    const i386 = (n: number, args: number[] = []) => exec({ arch: AUDIT_ARCH_I386, nr: n, args });
    expect(i386(359 /* socket */)).toBe(ALLOW);
    expect(i386(102, [1 /* SYS_SOCKET */])).toBe(ALLOW);
    expect(i386(102, [9 /* SYS_SEND */])).toBe(ALLOW);
    expect(i386(102, [2 /* SYS_BIND */])).toBe(EPERM);
    expect(i386(117, [23 /* SHMGET */])).toBe(ALLOW);
    expect(i386(nr(I386, 'shmget'))).toBe(ALLOW);
    expect(i386(117, [21 /* SHMAT */])).toBe(EPERM);
    // connect's own arg0 condition is replaced by the sub-call test on socketcall
    expect(i386(nr(I386, 'connect'), [3])).toBe(ALLOW);
    expect(i386(nr(I386, 'connect'), [4])).toBe(EPERM);
    expect(i386(102, [3 /* SYS_CONNECT */])).toBe(ALLOW);
  });

  it('keeps a socket rule\'s conditions on other arguments for the socketcall form', () => {
    const { exec } = compile({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86'],
      syscalls: [
        { names: ['setsockopt'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 41, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    const i386 = (n: number, args: number[] = []) => exec({ arch: AUDIT_ARCH_I386, nr: n, args });
    expect(i386(nr(I386, 'setsockopt'), [3, 41])).toBe(EPERM);
    expect(i386(nr(I386, 'setsockopt'), [3, 6])).toBe(ALLOW);
    expect(i386(102, [14 /* SYS_SETSOCKOPT */, 41])).toBe(EPERM);
    expect(i386(102, [14, 6])).toBe(ALLOW);
    expect(i386(102, [15, 41])).toBe(ALLOW);
    // x86_64 has no socketcall: the names are plain syscalls there
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'socket') })).toBe(ALLOW);
  });
});

describe('compileSeccomp: unknown syscall names', () => {
  it('skips them and reports names libseccomp does not know at all', () => {
    const { out, x64 } = compile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read', 'no_such_syscall', 'sysmips', 'socketcall', '_llseek', 'no_such_syscall'], action: 'SCMP_ACT_ALLOW' },
        { names: ['other_unknown'], action: 'SCMP_ACT_ERRNO' },
      ],
    });
    expect(out.unknownSyscalls).toEqual(['no_such_syscall', 'other_unknown']);
    expect(x64('read')).toBe(ALLOW);
    expect(x64('write')).toBe(EPERM);
  });
});

describe('compileSeccomp: -ENOSYS stub (runc)', () => {
  const spec: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read', 'write', 'openat', 'close'], action: 'SCMP_ACT_ALLOW' }],
  };

  it('returns ENOSYS above the largest syscall the profile names', () => {
    const { exec } = compile(spec, { hostArch: 'x64' });
    const openat = nr(X64, 'openat');
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: openat })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: openat - 1 })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: openat + 1 })).toBe(ENOSYS);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x3fffffff })).toBe(ENOSYS);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x80000000 })).toBe(ENOSYS);
    // x32-bit numbers skip the stub and hit libseccomp's bad-arch check; -1 gets the default
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 0x40000000 })).toBe(KILL_THREAD);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: -1 })).toBe(EPERM);
  });

  it('tells x32 from x86_64 by bit 30 and uses each one\'s largest number', () => {
    const { exec } = compile({ ...spec, architectures: ['SCMP_ARCH_X32'] }, { hostArch: 'x64' });
    const x32openat = nr(X32, 'openat');
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: x32openat })).toBe(ALLOW);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: x32openat + 1 })).toBe(ENOSYS);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X32, 'ioctl') })).toBe(ENOSYS);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'openat') + 1 })).toBe(ENOSYS);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 5 })).toBe(EPERM);
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: -1 })).toBe(ENOSYS);
  });

  it('is not generated when the default action allows', () => {
    for (const defaultAction of ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'] as const) {
      const { exec } = compile(
        { defaultAction, syscalls: [{ names: ['read'], action: 'SCMP_ACT_KILL_PROCESS' }] },
        { hostArch: 'x64' },
      );
      expect(exec({ arch: AUDIT_ARCH_X86_64, nr: 500 })).not.toBe(ENOSYS);
    }
  });

  it('can be turned off', () => {
    const { exec } = compile(spec, { hostArch: 'x64', enosysStub: false });
    expect(exec({ arch: AUDIT_ARCH_X86_64, nr: nr(X64, 'openat') + 1 })).toBe(EPERM);
  });
});

describe('compileSeccomp: flags', () => {
  const base: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] };
  const flagsOf = (s: LinuxSeccomp) => compileSeccomp(s, NO_STUB).flags;

  it('defaults to SPEC_ALLOW when flags is absent, like runc', () => {
    expect(flagsOf(base)).toBe(4);
    expect(flagsOf({ ...base, flags: [] })).toBe(0);
  });

  it('maps the spec flag names', () => {
    expect(flagsOf({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })).toBe(1);
    expect(flagsOf({ ...base, flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] })).toBe(6);
    expect(flagsOf({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'] })).toBe(3);
  });

  it('adds NEW_LISTENER for SCMP_ACT_NOTIFY, keeps WAIT_KILLABLE_RECV only with it, drops TSYNC with it', () => {
    const notify: LinuxSeccomp = { ...base, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    const r = compileSeccomp({ ...notify, flags: [] }, NO_STUB);
    expect(r.notify).toBe(true);
    expect(r.flags).toBe(8);
    expect(flagsOf({ ...notify, flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] })).toBe(8 | 32);
    expect(flagsOf({ ...notify, flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })).toBe(8);
    expect(flagsOf({ ...base, flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] })).toBe(0);
    expect(compileSeccomp(base, NO_STUB).notify).toBe(false);
  });
});

describe('compileSeccomp: validation', () => {
  const ok: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
  const bad = (s: unknown, opts: CompileSeccompOptions = NO_STUB) => configError(() => compileSeccomp(s as LinuxSeccomp, opts));
  const withCall = (call: unknown) => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [ok.syscalls![0], call] });

  it('rejects bad actions and operators', () => {
    expect(bad({ defaultAction: 'SCMP_ACT_NOPE' })).toBe(
      'config.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"',
    );
    expect(bad({})).toMatch(/defaultAction: unknown action undefined/);
    expect(bad(withCall({ names: ['read'], action: 'ALLOW' }))).toBe(
      'config.json: linux.seccomp.syscalls[1].action: unknown action "ALLOW"',
    );
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' }] }))).toBe(
      'config.json: linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_XX"',
    );
  });

  it('rejects argument indexes outside 0..5 and bad values', () => {
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }))).toBe(
      'config.json: linux.seccomp.syscalls[1].args[0].index: must be an argument index 0..5 (got 6)',
    );
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: -1, value: 1, op: 'SCMP_CMP_EQ' }] }))).toMatch(
      /args\[0\]\.index: must be an argument index 0\.\.5 \(got -1\)/,
    );
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }))).toMatch(
      /args\[0\]\.value: must be an integer 0\.\.18446744073709551615 \(got -1\)/,
    );
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }] }))).toMatch(
      /args\[0\]\.value/,
    );
    expect(
      bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, valueTwo: 'x', op: 'SCMP_CMP_MASKED_EQ' }] })),
    ).toMatch(/args\[0\]\.valueTwo/);
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1n << 64n, op: 'SCMP_CMP_EQ' }] }))).toMatch(
      /args\[0\]\.value/,
    );
  });

  it('allows errnoRet only with SCMP_ACT_ERRNO and SCMP_ACT_TRACE', () => {
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }))).toBe(
      'config.json: linux.seccomp.syscalls[1].errnoRet: only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (action is SCMP_ACT_ALLOW)',
    );
    expect(bad({ defaultAction: 'SCMP_ACT_KILL', defaultErrnoRet: 1 })).toMatch(/^config\.json: linux\.seccomp\.defaultErrnoRet: only allowed/);
    expect(bad(withCall({ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }))).toMatch(/errnoRet: must be an integer 0\.\.65535/);
    expect(() => compileSeccomp({ ...ok, defaultErrnoRet: 38 }, NO_STUB)).not.toThrow();
  });

  it('rejects SCMP_ACT_NOTIFY as default action and for write (runc)', () => {
    expect(bad({ defaultAction: 'SCMP_ACT_NOTIFY' })).toMatch(/defaultAction: SCMP_ACT_NOTIFY cannot be the default action/);
    expect(bad(withCall({ names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' }))).toBe(
      'config.json: linux.seccomp.syscalls[1].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall',
    );
  });

  it('rejects malformed names, flags and architectures', () => {
    expect(bad(withCall({ names: [], action: 'SCMP_ACT_ALLOW' }))).toMatch(/syscalls\[1\]\.names: must be a non-empty array/);
    expect(bad(withCall({ names: [''], action: 'SCMP_ACT_ALLOW' }))).toMatch(/syscalls\[1\]\.names\[0\]: must be a non-empty string/);
    expect(bad(withCall({ action: 'SCMP_ACT_ALLOW' }))).toMatch(/syscalls\[1\]\.names/);
    expect(bad({ ...ok, flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] })).toBe(
      'config.json: linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"',
    );
    expect(bad({ ...ok, architectures: ['SCMP_ARCH_X86_64', 'x86_64'] })).toBe(
      'config.json: linux.seccomp.architectures[1]: unknown architecture "x86_64"',
    );
    expect(bad(ok, { hostArch: 'ppc64' })).toMatch(/host architecture "ppc64" is not supported/);
  });

  it('rejects programs longer than 4096 instructions', () => {
    const args = [0, 1, 2, 3, 4, 5].map((index) => ({ index, value: 0x1_0000_0001, op: 'SCMP_CMP_EQ' as const }));
    const many: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: Array.from({ length: 200 }, (_, i) => ({
        names: ['ioctl'],
        action: 'SCMP_ACT_ALLOW' as const,
        args: args.map((a) => ({ ...a, value: a.value + i })),
      })),
    };
    expect(bad(many)).toMatch(/^config\.json: linux\.seccomp: the compiled filter has \d+ BPF instructions, more than the kernel's limit of 4096$/);
  });
});

describe('compileSeccomp: long programs', () => {
  it('expands jumps that do not fit in 8 bits', () => {
    // 100 rules with 2 args each on one syscall: the rule bodies alone are ~1000 instructions,
    // so the jumps around them (and the "not this syscall" paths) must be long.
    const spec: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        ...Array.from({ length: 100 }, (_, i) => ({
          names: ['ioctl'],
          action: 'SCMP_ACT_ERRNO' as const,
          errnoRet: 100 + i,
          args: [
            { index: 1, value: 0x1000 + i, op: 'SCMP_CMP_EQ' as const },
            { index: 2, value: 0x1_0000_0000 * i, op: 'SCMP_CMP_GE' as const },
          ],
        })),
        { names: ['mmap', 'munmap', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
      ],
    };
    const { x64, out } = compile(spec);
    expect(out.program.length / 8).toBeGreaterThan(600);
    const insns = decode(out.program);
    expect(insns.some((i) => i.code === 0x05 && i.k > 255)).toBe(true);
    for (const i of [0, 1, 50, 98, 99]) {
      expect(x64('ioctl', [0, 0x1000 + i, 0x1_0000_0000 * i])).toBe(errno(100 + i));
      if (i > 0) expect(x64('ioctl', [0, 0x1000 + i, 0x1_0000_0000 * i - 1])).toBe(EPERM);
    }
    expect(x64('ioctl', [0, 0x2000, 0])).toBe(EPERM);
    for (const n of ['read', 'write', 'mmap', 'munmap', 'exit_group']) expect(x64(n)).toBe(ALLOW);
    expect(x64('open')).toBe(EPERM);
  });
});

describe('compileSeccomp: agrees with the reference model', () => {
  const specs: [string, LinuxSeccomp][] = [...MIXED_SPECS, ['docker-like profile', dockerLikeProfile()]];

  for (const [title, spec] of specs) {
    for (const hostArch of ['x64', 'arm64']) {
      for (const enosysStub of [true, false]) {
        it(`${title} (host ${hostArch}, stub ${enosysStub})`, () => {
          const opts = { hostArch, enosysStub };
          const { exec, out } = compile(spec, opts);
          const inputs = boundaryInputs();
          let checked = 0;
          for (const input of inputs) {
            const want = model(spec, input, opts);
            const got = exec(input);
            if (got !== want) {
              throw new Error(
                `arch ${input.arch.toString(16)} nr ${input.nr} args ${input.args?.map((a) => a.toString(16)).join(',')}: ` +
                  `got ${got.toString(16)} want ${want.toString(16)}\n${disassemble(out.program)}`,
              );
            }
            checked++;
          }
          expect(checked).toBeGreaterThan(5000);
        });
      }
    }
  }
});
