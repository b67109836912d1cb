// The cgroup v2 device program: generated eBPF run through a small interpreter
// (just the instructions the generator emits, plus the verifier's structural
// checks that matter here) and compared with a reference model of the device
// rules: last matching rule wins per access bit, default deny.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  applyDevicesV2,
  BPF,
  type BpfInsn,
  decodeInsns,
  DEV_CTX,
  encodeInsns,
  generateDeviceProgram,
} from '../../src/cgroups/devices-bpf';
import { applyResources, DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources';
import { ConfigError } from '../../src/errors';
import type { LinuxDeviceCgroup } from '../../src/oci/types';
import { fakeHost, type FakeHost, V2_FILES } from './fakefs';
import { prng } from '../prng';

// Keep the real generator, but record what resources.ts hands to the kernel side.
vi.mock('../../src/cgroups/devices-bpf', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/cgroups/devices-bpf')>();
  return { ...real, applyDevicesV2: vi.fn() };
});

// ---- interpreter ----

const U64 = (1n << 64n) - 1n;
const sext = (imm: number) => BigInt.asUintN(64, BigInt(imm)); // s32 immediate, sign-extended to 64 bits

/** Structural checks the kernel verifier makes that a wrong generator could trip:
 * known opcodes only, jumps forward and in range, no dead code, ends in EXIT. */
function verify(prog: BpfInsn[]): void {
  const known = new Set([
    BPF.LDX | BPF.MEM | BPF.W,
    ...[BPF.ALU, BPF.ALU64].flatMap((cls) => [BPF.ADD, BPF.SUB, BPF.OR, BPF.AND, BPF.LSH, BPF.RSH, BPF.MOV].map((op) => cls | op | BPF.K)),
    BPF.ALU64 | BPF.MOV | BPF.X,
    ...[BPF.JA, BPF.JEQ, BPF.JNE, BPF.JSET, BPF.JGT, BPF.JGE].map((op) => BPF.JMP | op | BPF.K),
    BPF.JMP | BPF.EXIT,
  ]);
  expect(prog.length).toBeGreaterThan(0);
  const reach = new Array<boolean>(prog.length).fill(false);
  reach[0] = true;
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc]!;
    expect(known.has(i.code), `insn ${pc}: opcode 0x${i.code.toString(16)}`).toBe(true);
    if (!reach[pc]) throw new Error(`insn ${pc} is unreachable (the verifier rejects dead code)`);
    const cls = i.code & 0x07;
    const op = i.code & 0xf0;
    if (cls === BPF.JMP && op === BPF.EXIT) continue;
    if (cls === BPF.JMP) {
      const dest = pc + 1 + i.off;
      expect(i.off, `insn ${pc}: backward jump`).toBeGreaterThanOrEqual(0);
      expect(dest, `insn ${pc}: jump out of range`).toBeLessThan(prog.length);
      reach[dest] = true;
      if (op === BPF.JA) continue;
    }
    expect(pc + 1, `insn ${pc}: falls off the end`).toBeLessThan(prog.length);
    reach[pc + 1] = true;
  }
}

interface DevCtx {
  type: number;
  major: number;
  minor: number;
  access: number;
}

/** Runs a device program the way the kernel would call it; returns r0. */
function run(prog: BpfInsn[], ctx: DevCtx): bigint {
  const mem = Buffer.alloc(12);
  mem.writeUInt32LE(((ctx.access << 16) | ctx.type) >>> 0, DEV_CTX.accessType);
  mem.writeUInt32LE(ctx.major >>> 0, DEV_CTX.major);
  mem.writeUInt32LE(ctx.minor >>> 0, DEV_CTX.minor);
  const regs: (bigint | undefined)[] = new Array(11).fill(undefined);
  const CTX = -1n; // r1 holds the context pointer: only loads through it are allowed
  regs[1] = CTX;
  const get = (r: number, pc: number): bigint => {
    const v = regs[r];
    if (v === undefined) throw new Error(`insn ${pc}: r${r} read before it is written`);
    if (v === CTX && r !== 1) throw new Error(`insn ${pc}: arithmetic on the context pointer`);
    return v;
  };
  let pc = 0;
  for (let steps = 0; steps < 100000; steps++) {
    const i = prog[pc];
    if (!i) throw new Error(`pc ${pc} out of range`);
    const cls = i.code & 0x07;
    const op = i.code & 0xf0;
    const useX = (i.code & 0x08) !== 0;
    if (cls === BPF.LDX) {
      if (i.code !== (BPF.LDX | BPF.MEM | BPF.W)) throw new Error(`insn ${pc}: unsupported load 0x${i.code.toString(16)}`);
      if (regs[i.src] !== CTX) throw new Error(`insn ${pc}: load not from the context`);
      if (![0, 4, 8].includes(i.off)) throw new Error(`insn ${pc}: bad context offset ${i.off}`);
      regs[i.dst] = BigInt(mem.readUInt32LE(i.off));
      pc++;
    } else if (cls === BPF.ALU || cls === BPF.ALU64) {
      const src = useX ? get(i.src, pc) : sext(i.imm);
      const dst = op === BPF.MOV ? 0n : get(i.dst, pc);
      const bits = cls === BPF.ALU64 ? 64n : 32n;
      const mask = (1n << bits) - 1n;
      const a = dst & mask;
      const b = src & mask;
      let v: bigint;
      switch (op) {
        case BPF.MOV: v = b; break;
        case BPF.ADD: v = a + b; break;
        case BPF.SUB: v = a - b; break;
        case BPF.AND: v = a & b; break;
        case BPF.OR: v = a | b; break;
        case BPF.LSH: v = a << (b & (bits - 1n)); break;
        case BPF.RSH: v = a >> (b & (bits - 1n)); break;
        default: throw new Error(`insn ${pc}: unsupported ALU op 0x${op.toString(16)}`);
      }
      regs[i.dst] = BigInt.asUintN(Number(bits), v) & U64; // 32-bit ops zero-extend
      pc++;
    } else if (cls === BPF.JMP) {
      if (op === BPF.EXIT) return get(0, pc);
      if (useX) throw new Error(`insn ${pc}: unsupported JMP|X`);
      let taken: boolean;
      if (op === BPF.JA) taken = true;
      else {
        const a = get(i.dst, pc);
        const b = sext(i.imm);
        switch (op) {
          case BPF.JEQ: taken = a === b; break;
          case BPF.JNE: taken = a !== b; break;
          case BPF.JSET: taken = (a & b) !== 0n; break;
          case BPF.JGT: taken = a > b; break;
          case BPF.JGE: taken = a >= b; break;
          default: throw new Error(`insn ${pc}: unsupported JMP op 0x${op.toString(16)}`);
        }
      }
      pc += 1 + (taken ? i.off : 0);
    } else {
      throw new Error(`insn ${pc}: unsupported class ${cls}`);
    }
  }
  throw new Error('program does not terminate');
}

// ---- reference model: the device rules, bit by bit ----

const R = 2;
const W = 4;
const M = 1;

function ruleBits(access: string | undefined): number {
  if (access === undefined) return R | W | M;
  return (access.includes('r') ? R : 0) | (access.includes('w') ? W : 0) | (access.includes('m') ? M : 0);
}

function ruleMatches(r: LinuxDeviceCgroup, ctx: DevCtx, bit: number): boolean {
  const type = r.type ?? 'a';
  if (type === 'a') return true; // "a" is "a *:* rwm", as devices.allow reads it
  if ((type === 'b' ? 1 : 2) !== ctx.type) return false;
  if (r.major !== undefined && r.major !== -1 && r.major !== ctx.major) return false;
  if (r.minor !== undefined && r.minor !== -1 && r.minor !== ctx.minor) return false;
  return (ruleBits(r.access) & bit) !== 0;
}

function model(rules: readonly LinuxDeviceCgroup[], ctx: DevCtx): boolean {
  if (ctx.access === 0 || (ctx.access & ~7) !== 0) return false;
  for (const bit of [R, W, M]) {
    if ((ctx.access & bit) === 0) continue;
    let allowed = false; // default deny
    for (const r of rules) if (ruleMatches(r, ctx, bit)) allowed = r.allow; // last match wins
    if (!allowed) return false;
  }
  return true;
}

function compile(rules: readonly LinuxDeviceCgroup[]): BpfInsn[] {
  const prog = decodeInsns(generateDeviceProgram(rules));
  verify(prog);
  return prog;
}

function allowed(prog: BpfInsn[], type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  const r0 = run(prog, { type: type === 'b' ? 1 : 2, major, minor, access: ruleBits(access) });
  expect([0n, 1n]).toContain(r0);
  return r0 === 1n;
}

const TYPES = [1, 2];
const MAJORS = [0, 1, 5, 8, 10, 136, 254];
const MINORS = [0, 2, 3, 5, 7, 9, 200];

/** Every combination of type, the given numbers and access mask (including invalid masks). */
function compareAll(rules: readonly LinuxDeviceCgroup[], majors = MAJORS, minors = MINORS): number {
  const prog = compile(rules);
  let n = 0;
  for (const type of TYPES)
    for (const major of majors)
      for (const minor of minors)
        for (const access of [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x8000 | 2]) {
          const ctx = { type, major, minor, access };
          const want = model(rules, ctx) ? 1n : 0n;
          expect(run(prog, ctx), `${JSON.stringify(ctx)} with ${JSON.stringify(rules)}`).toBe(want);
          n++;
        }
  return n;
}


describe('generateDeviceProgram', () => {
  it('encodes struct bpf_insn: code, dst in the low nibble, src in the high one, s16 off, s32 imm', () => {
    const buf = encodeInsns([{ code: 0x61, dst: 2, src: 1, off: -3, imm: -8 }]);
    expect([...buf]).toEqual([0x61, 0x12, 0xfd, 0xff, 0xf8, 0xff, 0xff, 0xff]);
    expect(decodeInsns(buf)).toEqual([{ code: 0x61, dst: 2, src: 1, off: -3, imm: -8 }]);
    const prog = decodeInsns(generateDeviceProgram([]));
    // The program starts by loading access_type from the context in r1.
    expect(prog[0]).toEqual({ code: BPF.LDX | BPF.MEM | BPF.W, dst: 2, src: 1, off: 0, imm: 0 });
  });

  it('denies everything when there are no rules', () => {
    expect(compareAll([])).toBeGreaterThan(1000);
    const prog = compile([]);
    expect(allowed(prog, 'c', 1, 3, 'r')).toBe(false);
  });

  it('runc-style configs: deny all, the spec\'s rules, the defaults', () => {
    const rules: LinuxDeviceCgroup[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }, ...DEFAULT_DEVICE_RULES];
    compareAll(rules);
    const prog = compile(rules);
    expect(allowed(prog, 'c', 1, 3, 'rw')).toBe(true); // /dev/null
    expect(allowed(prog, 'c', 1, 5, 'r')).toBe(true); // /dev/zero
    expect(allowed(prog, 'c', 136, 7, 'rw')).toBe(true); // /dev/pts/7
    expect(allowed(prog, 'c', 10, 229, 'rw')).toBe(true); // /dev/fuse from the spec
    expect(allowed(prog, 'c', 10, 229, 'm')).toBe(true); // mknod of any char device is a default
    expect(allowed(prog, 'b', 8, 0, 'm')).toBe(true);
    expect(allowed(prog, 'b', 8, 0, 'r')).toBe(false); // /dev/sda
    expect(allowed(prog, 'c', 1, 1, 'r')).toBe(false); // /dev/mem
    expect(allowed(prog, 'c', 10, 200, 'rw')).toBe(true); // /dev/net/tun
  });

  it('partial access: "r" allows reading, not writing or mknod', () => {
    const rules: LinuxDeviceCgroup[] = [{ allow: true, type: 'c', major: 1, minor: 3, access: 'r' }];
    compareAll(rules);
    const prog = compile(rules);
    expect(allowed(prog, 'c', 1, 3, 'r')).toBe(true);
    expect(allowed(prog, 'c', 1, 3, 'w')).toBe(false);
    expect(allowed(prog, 'c', 1, 3, 'm')).toBe(false);
    expect(allowed(prog, 'c', 1, 3, 'rw')).toBe(false); // O_RDWR needs both
    expect(allowed(prog, 'b', 1, 3, 'r')).toBe(false); // a block device with the same numbers
  });

  it('access bits granted by separate rules add up; a later deny takes bits away', () => {
    const rules: LinuxDeviceCgroup[] = [
      { allow: true, type: 'c', major: 1, minor: 3, access: 'r' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'w' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 5, access: 'w' },
    ];
    compareAll(rules);
    const prog = compile(rules);
    expect(allowed(prog, 'c', 1, 3, 'rw')).toBe(true);
    expect(allowed(prog, 'c', 1, 3, 'm')).toBe(false);
    expect(allowed(prog, 'c', 1, 5, 'r')).toBe(true);
    expect(allowed(prog, 'c', 1, 5, 'm')).toBe(true);
    expect(allowed(prog, 'c', 1, 5, 'w')).toBe(false);
    expect(allowed(prog, 'c', 1, 5, 'rw')).toBe(false);
  });

  it('the last matching rule wins, with wildcards on either side', () => {
    const cases: LinuxDeviceCgroup[][] = [
      // a wildcard deny after a specific allow
      [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: false, type: 'c', access: 'rwm' }],
      // a specific allow after a wildcard deny, under allow-all
      [{ allow: true }, { allow: false, type: 'c', major: 1, access: 'rw' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }],
      // allow all, then deny one device's writes
      [{ allow: true, type: 'a' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }],
      // minor wildcard with a specific major; major wildcard with a specific minor
      [{ allow: true, type: 'b', major: 8, minor: -1, access: 'rw' }, { allow: true, type: 'c', major: -1, minor: 3, access: 'm' }],
    ];
    for (const rules of cases) compareAll(rules);
    const p0 = compile(cases[0]!);
    expect(allowed(p0, 'c', 1, 3, 'r')).toBe(false);
    const p1 = compile(cases[1]!);
    expect(allowed(p1, 'c', 1, 3, 'r')).toBe(true);
    expect(allowed(p1, 'c', 1, 3, 'w')).toBe(false);
    expect(allowed(p1, 'c', 1, 3, 'm')).toBe(true);
    expect(allowed(p1, 'c', 1, 5, 'r')).toBe(false);
    expect(allowed(p1, 'c', 2, 5, 'rw')).toBe(true);
    expect(allowed(p1, 'b', 1, 5, 'rw')).toBe(true);
    const p2 = compile(cases[2]!);
    expect(allowed(p2, 'c', 1, 3, 'r')).toBe(true);
    expect(allowed(p2, 'c', 1, 3, 'rw')).toBe(false);
    expect(allowed(p2, 'b', 8, 1, 'rwm')).toBe(true);
  });

  it('type "a" means every device and every access, whatever else the rule says (as devices.allow reads "a")', () => {
    compareAll([{ allow: true, type: 'a', major: 1, minor: 3, access: 'r' }]);
    const prog = compile([{ allow: true, type: 'a', major: 1, minor: 3, access: 'r' }]);
    expect(allowed(prog, 'b', 8, 0, 'rwm')).toBe(true);
    // The rules before an "a" rule can never decide anything and are left out (dead code would not verify).
    const many: LinuxDeviceCgroup[] = [...DEFAULT_DEVICE_RULES, { allow: false }];
    expect(generateDeviceProgram(many)).toEqual(generateDeviceProgram([{ allow: false }]));
    compareAll(many);
    compareAll([...DEFAULT_DEVICE_RULES, { allow: true }]);
    compareAll([{ allow: true }]);
  });

  it('matches the model on random rule lists', () => {
    const rnd = prng(20240601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const accesses = [undefined, 'r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm', 'mwr', 'wr'];
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const n = Math.floor(rnd() * 12);
      const rules: LinuxDeviceCgroup[] = [];
      for (let k = 0; k < n; k++) {
        const r: LinuxDeviceCgroup = { allow: rnd() < 0.6 };
        const type = rnd() < 0.08 ? pick(['a', undefined] as const) : pick(['b', 'c'] as const);
        if (type !== undefined) r.type = type;
        const major = pick([undefined, -1, 1, 1, 5, 8, 136]);
        const minor = pick([undefined, -1, 3, 3, 5, 7, 0]);
        if (major !== undefined) r.major = major;
        if (minor !== undefined) r.minor = minor;
        const access = pick(accesses);
        if (access !== undefined) r.access = access;
        rules.push(r);
      }
      if (rnd() < 0.3) rules.push(...DEFAULT_DEVICE_RULES);
      checked += compareAll(rules, [0, 1, 5, 8, 136], [0, 3, 5, 7]);
    }
    expect(checked).toBeGreaterThan(100000);
  });

  it('leaves out rules that name no possible device, and rejects invalid rules', () => {
    const base: LinuxDeviceCgroup[] = [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }];
    expect(generateDeviceProgram([...base, { allow: false, type: 'c', major: 2 ** 31, access: 'rwm' }])).toEqual(generateDeviceProgram(base));
    expect(generateDeviceProgram([...base, { allow: false, type: 'c', major: 1, minor: 2 ** 40, access: 'rwm' }])).toEqual(generateDeviceProgram(base));
    expect(() => generateDeviceProgram([{ allow: true, type: 'x', access: 'r' }])).toThrow(ConfigError);
    expect(() => generateDeviceProgram([{ allow: true, type: 'c', access: 'r-x' }])).toThrow(/devices\[0\]\.access/);
    expect(() => generateDeviceProgram([{ allow: true, type: 'c', major: -2 }])).toThrow(/devices\[0\]\.major/);
    expect(() => generateDeviceProgram([{ allow: 'yes' as unknown as boolean, type: 'c' }])).toThrow(/devices\[0\]\.allow/);
    expect(() => generateDeviceProgram(Array.from({ length: 7000 }, (_, i) => ({ allow: true, type: 'c', major: 1, minor: i, access: 'r' })))).toThrow(
      /too many device rules/,
    );
  });

  it('stays well inside the kernel\'s limits for a large config', () => {
    const rules: LinuxDeviceCgroup[] = Array.from({ length: 500 }, (_, i) => ({ allow: i % 3 !== 0, type: i % 2 ? 'c' : 'b', major: i % 7, minor: i, access: 'rw' }));
    const prog = compile([...rules, ...DEFAULT_DEVICE_RULES]);
    expect(prog.length).toBeLessThan(4096);
    compareAll([...rules, ...DEFAULT_DEVICE_RULES], [0, 1, 3, 6], [0, 3, 5, 100, 499]);
  });
});

describe('resources.ts on cgroup v2', () => {
  let host: FakeHost | undefined;
  const warn = () => {};
  beforeEach(() => vi.mocked(applyDevicesV2).mockClear());
  afterEach(() => {
    host?.cleanup();
    host = undefined;
  });

  it('compiles the spec\'s rules followed by the defaults for the cgroup2 directory when there is no v1 devices hierarchy', () => {
    host = fakeHost([], { controllers: ['pids'], files: V2_FILES });
    const rules: LinuxDeviceCgroup[] = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }];
    applyResources(host.mgr, { devices: rules }, { warn });
    expect(applyDevicesV2).toHaveBeenCalledTimes(1);
    expect(applyDevicesV2).toHaveBeenCalledWith(host.dir('unified'), [...rules, ...DEFAULT_DEVICE_RULES]);
    // Without device rules the defaults still apply (as on v1).
    applyResources(host.mgr, undefined, { warn });
    expect(vi.mocked(applyDevicesV2).mock.calls[1]).toEqual([host.dir('unified'), [...DEFAULT_DEVICE_RULES]]);
  });

  it('leaves devices to v1 when there is a v1 devices hierarchy, and alone on update', () => {
    host = fakeHost(['devices'], { controllers: ['pids'], files: V2_FILES });
    applyResources(host.mgr, { devices: [{ allow: false, access: 'rwm' }] }, { warn });
    expect(host.read('devices', 'devices.deny')).toBe('a\na *:* rwm\n');
    expect(applyDevicesV2).not.toHaveBeenCalled();
    host.cleanup();
    host = fakeHost([], { controllers: ['pids'], files: V2_FILES });
    applyResources(host.mgr, { devices: [{ allow: false, access: 'rwm' }] }, { warn, update: true });
    expect(applyDevicesV2).not.toHaveBeenCalled();
  });
});
