// Optional cross-check against the real libseccomp (skipped when libseccomp.so.2 or koffi is
// unavailable): build the same filter the way runc does (seccomp_init with the default action,
// seccomp_arch_add, one seccomp_rule_add_array per name, runc's skipping and splitting), export
// libseccomp's BPF, and compare both programs' answers on many inputs. runc's -ENOSYS stub is
// not part of libseccomp, so the compiler runs with enosysStub: false here.

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSeccompOperator } from '../../src/oci/types';
import { compileSeccomp } from '../../src/seccomp';
import { decode, disassemble, run } from './bpf-interp';
import { boundaryInputs } from './inputs';
import { dockerLikeProfile, MIXED_SPECS } from './profiles';

interface Lib {
  init(defaultAction: number): unknown;
  archAdd(ctx: unknown, token: number): number;
  ruleAdd(ctx: unknown, action: number, nr: number, count: number, args: Buffer | null): number;
  resolve(name: string): number;
  attrSet(ctx: unknown, attr: number, value: number): number;
  exportBpf(ctx: unknown, fd: number): number;
  release(ctx: unknown): void;
}

async function loadLibseccomp(): Promise<Lib | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  try {
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libseccomp.so.2');
    return {
      init: lib.func('void *seccomp_init(uint32_t def_action)'),
      archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
      ruleAdd: lib.func(
        'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)',
      ),
      resolve: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
      attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
      exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
      release: lib.func('void seccomp_release(void *ctx)'),
    };
  } catch {
    return undefined;
  }
}

const lib = await loadLibseccomp();

const ACT: Record<string, number> = {
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
const OP: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};
// libseccomp's arch tokens (SCMP_ARCH_X32 is its own token, unlike its AUDIT_ARCH)
const TOKEN: Record<string, number> = {
  SCMP_ARCH_X86_64: 0xc000003e,
  SCMP_ARCH_X86: 0x40000003,
  SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_AARCH64: 0xc00000b7,
};
const SCMP_FLTATR_CTL_OPTIMIZE = 8;

function act(action: string, errnoRet?: number): number {
  const data = action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE' ? (errnoRet ?? 1) : 0;
  return (ACT[action]! | data) >>> 0;
}

/** runc's InitSeccomp, minus loading: returns libseccomp's BPF program. */
function libseccompProgram(l: Lib, spec: LinuxSeccomp): Buffer {
  const def = act(spec.defaultAction, spec.defaultErrnoRet);
  const ctx = l.init(def);
  expect(ctx).toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-seccomp-'));
  try {
    for (const a of spec.architectures ?? []) {
      const rc = l.archAdd(ctx, TOKEN[a]!);
      expect(rc === 0 || rc === -17 /* EEXIST: native */, `arch_add ${a}: ${rc}`).toBe(true);
    }
    if ((spec.syscalls ?? []).length > 32) l.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (const r of spec.syscalls ?? []) {
      const a = act(r.action, r.errnoRet);
      if (a === def) continue;
      const args = r.args ?? [];
      const indexes = args.map((x) => x.index);
      const groups = new Set(indexes).size !== indexes.length ? args.map((x) => [x]) : [args];
      for (const name of r.names) {
        const nr = l.resolve(name);
        if (nr === -1) continue; // __NR_SCMP_ERROR: unknown, runc skips it
        for (const g of groups) {
          const buf = Buffer.alloc(24 * Math.max(g.length, 1));
          g.forEach((c, i) => {
            buf.writeUInt32LE(c.index, 24 * i);
            buf.writeUInt32LE(OP[c.op]!, 24 * i + 4);
            buf.writeBigUInt64LE(BigInt(c.value), 24 * i + 8);
            buf.writeBigUInt64LE(BigInt(c.valueTwo ?? 0), 24 * i + 16);
          });
          const rc = l.ruleAdd(ctx, a, nr, g.length, g.length === 0 ? null : buf);
          expect(rc, `rule_add ${name}`).toBe(0);
        }
      }
    }
    const file = join(dir, 'bpf');
    const fd = openSync(file, 'w+');
    try {
      expect(l.exportBpf(ctx, fd)).toBe(0);
    } finally {
      closeSync(fd);
    }
    return readFileSync(file);
  } finally {
    l.release(ctx);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(lib === undefined)('compileSeccomp agrees with libseccomp 2.5 (as used by runc)', () => {
  const arg = (index: number, op: LinuxSeccompOperator, value: number, valueTwo?: number): LinuxSeccompArg => ({
    index,
    op,
    value,
    valueTwo,
  });
  const specs: [string, LinuxSeccomp][] = [
    ...MIXED_SPECS,
    ['docker-like profile', dockerLikeProfile()],
    [
      'x86_64 only, conditions at 32-bit edges',
      {
        defaultAction: 'SCMP_ACT_KILL_PROCESS',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [arg(1, 'SCMP_CMP_GE', 0xffffffff), arg(2, 'SCMP_CMP_LT', 0x1_0000_0001)] },
          { names: ['fcntl'], action: 'SCMP_ACT_ERRNO', errnoRet: 9, args: [arg(1, 'SCMP_CMP_MASKED_EQ', 0xff_ffff_0000, 0x1_0000_0000)] },
          { names: ['kill'], action: 'SCMP_ACT_TRAP', args: [arg(0, 'SCMP_CMP_GT', 0x1_0000_0000)] },
          { names: ['kill'], action: 'SCMP_ACT_LOG', args: [arg(1, 'SCMP_CMP_LE', 9)] },
          { names: ['tkill'], action: 'SCMP_ACT_LOG', args: [arg(1, 'SCMP_CMP_LE', 9)] },
          { names: ['tkill'], action: 'SCMP_ACT_TRAP' },
          { names: ['tgkill'], action: 'SCMP_ACT_ALLOW', args: [arg(2, 'SCMP_CMP_MASKED_EQ', 0, 5)] },
        ],
      },
    ],
    [
      'x32 only beside the native arch, 32-bit ABI conditions',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: ['SCMP_ARCH_X32'],
        syscalls: [
          { names: ['read', 'execve', 'ioctl'], action: 'SCMP_ACT_ALLOW' },
          { names: ['fcntl'], action: 'SCMP_ACT_TRAP', args: [arg(1, 'SCMP_CMP_EQ', 0x1_0000_0009)] },
          { names: ['kill'], action: 'SCMP_ACT_LOG', args: [arg(1, 'SCMP_CMP_MASKED_EQ', 0xffff_ffff_0000_0000, 0)] },
        ],
      },
    ],
    [
      'x86 socketcall and ipc',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: ['SCMP_ARCH_X86'],
        syscalls: [
          { names: ['socket', 'send', 'recv', 'shmget', 'semop'], action: 'SCMP_ACT_ALLOW' },
          { names: ['connect', 'msgget'], action: 'SCMP_ACT_LOG', args: [arg(1, 'SCMP_CMP_EQ', 9)] },
          { names: ['bind'], action: 'SCMP_ACT_TRAP', args: [arg(0, 'SCMP_CMP_EQ', 3)] },
        ],
      },
    ],
  ];

  for (const [title, spec] of specs) {
    it(title, () => {
      const theirs = decode(libseccompProgram(lib!, spec));
      const ours = compileSeccomp(spec, { hostArch: 'x64', enosysStub: false });
      const mine = decode(ours.program);
      let n = 0;
      for (const input of boundaryInputs(777)) {
        const want = run(theirs, input);
        const got = run(mine, input);
        if (got !== want) {
          throw new Error(
            `arch ${input.arch.toString(16)} nr ${input.nr} args ${input.args?.map((a) => a.toString(16)).join(',')}: ` +
              `got ${got.toString(16)}, libseccomp ${want.toString(16)}\n${disassemble(ours.program)}`,
          );
        }
        n++;
      }
      expect(n).toBeGreaterThan(5000);
    });
  }
});
