// A small classic-BPF interpreter and checker for the seccomp tests: the subset the compiler
// emits (LD W ABS, ALU AND K, JA, JEQ/JGT/JGE/JSET K, RET K), with the kernel's structural
// rules (forward jumps inside the program, aligned loads inside struct seccomp_data, a RET at
// the end, at most 4096 instructions).

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export function decode(program: Buffer): Insn[] {
  if (program.length % 8 !== 0) throw new Error(`program length ${program.length} is not a multiple of 8`);
  const out: Insn[] = [];
  for (let o = 0; o < program.length; o += 8) {
    out.push({
      code: program.readUInt16LE(o),
      jt: program.readUInt8(o + 2),
      jf: program.readUInt8(o + 3),
      k: program.readUInt32LE(o + 4),
    });
  }
  return out;
}

const NAMES: Record<number, string> = {
  0x20: 'ld',
  0x54: 'and',
  0x05: 'ja',
  0x15: 'jeq',
  0x25: 'jgt',
  0x35: 'jge',
  0x45: 'jset',
  0x06: 'ret',
};

/** Human-readable listing, for failure messages. */
export function disassemble(program: Buffer): string {
  return decode(program)
    .map((i, pc) => {
      const n = NAMES[i.code] ?? `op${i.code.toString(16)}`;
      const k = `0x${i.k.toString(16)}`;
      if (i.code === 0x05) return `${pc}: ja ${pc + 1 + i.k}`;
      if ((i.code & 0x07) === 0x05) return `${pc}: ${n} ${k} ? ${pc + 1 + i.jt} : ${pc + 1 + i.jf}`;
      return `${pc}: ${n} ${k}`;
    })
    .join('\n');
}

/** Throws unless the program would pass the kernel's seccomp filter checks. */
export function verify(program: Buffer): void {
  const insns = decode(program);
  if (insns.length === 0 || insns.length > 4096) throw new Error(`bad program length ${insns.length}`);
  insns.forEach((i, pc) => {
    switch (i.code) {
      case 0x20:
        if (i.k % 4 !== 0 || i.k > 60) throw new Error(`${pc}: bad load offset ${i.k}`);
        break;
      case 0x54:
      case 0x06:
        break;
      case 0x05:
        if (pc + 1 + i.k >= insns.length) throw new Error(`${pc}: ja out of range`);
        break;
      case 0x15:
      case 0x25:
      case 0x35:
      case 0x45:
        if (pc + 1 + Math.max(i.jt, i.jf) >= insns.length) throw new Error(`${pc}: jump out of range`);
        break;
      default:
        throw new Error(`${pc}: unexpected opcode 0x${i.code.toString(16)}`);
    }
  });
  if (insns[insns.length - 1]!.code !== 0x06) throw new Error('last instruction is not a ret');
}

export interface SeccompInput {
  arch: number;
  /** Syscall number; negative values are taken as their u32 bit pattern (-1 = 0xffffffff). */
  nr: number;
  args?: readonly (bigint | number)[];
  ip?: bigint;
}

/** struct seccomp_data as the kernel lays it out on a little-endian machine. */
export function seccompData(input: SeccompInput): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(input.nr >>> 0, 0);
  b.writeUInt32LE(input.arch >>> 0, 4);
  b.writeBigUInt64LE(input.ip ?? 0n, 8);
  (input.args ?? []).forEach((a, i) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  return b;
}

/** Runs the filter; returns the SECCOMP_RET_* value. */
export function run(program: Buffer | Insn[], input: SeccompInput): number {
  const insns = Array.isArray(program) ? program : decode(program);
  const data = seccompData(input);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= insns.length; steps++) {
    const i = insns[pc];
    if (i === undefined) throw new Error(`pc ${pc} outside the program`);
    pc++;
    switch (i.code) {
      case 0x20:
        if (i.k % 4 !== 0 || i.k > 60) throw new Error(`bad load offset ${i.k}`);
        a = data.readUInt32LE(i.k);
        break;
      case 0x54:
        a = (a & i.k) >>> 0;
        break;
      case 0x05:
        pc += i.k;
        break;
      case 0x15:
        pc += a === i.k ? i.jt : i.jf;
        break;
      case 0x25:
        pc += a > i.k ? i.jt : i.jf;
        break;
      case 0x35:
        pc += a >= i.k ? i.jt : i.jf;
        break;
      case 0x45:
        pc += (a & i.k) !== 0 ? i.jt : i.jf;
        break;
      case 0x06:
        return i.k >>> 0;
      default:
        throw new Error(`unexpected opcode 0x${i.code.toString(16)}`);
    }
  }
  throw new Error('program did not terminate');
}
