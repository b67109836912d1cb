// Classic BPF for seccomp: constants and a tiny assembler with symbolic, forward-only jump
// targets. Conditional jumps have 8-bit offsets; when a target is further than 255
// instructions away the assembler expands the jump with trampolines (an unconditional `ja`,
// whose offset is 32-bit, or a copy of the `ret` when the target is a return), re-laying out
// until every offset fits.

/** struct sock_filter opcodes used by the compiler. */
export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  ALU_AND_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  JMP_JA: 0x05, // BPF_JMP | BPF_JA
  JMP_JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JMP_JGT_K: 0x25, // BPF_JMP | BPF_JGT | BPF_K
  JMP_JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  JMP_JSET_K: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** The kernel's limit on a filter's length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** Size of one struct sock_filter. */
export const SOCK_FILTER_SIZE = 8;

/** struct seccomp_data offsets. */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  /** args[i] is at ARGS + 8*i; the low word first on little-endian machines. */
  ARGS: 16,
} as const;

/**
 * A jump target: a label id (>= 0) from Assembler.label(), or retTarget(k) for "any
 * instruction that returns k" (encoded as a negative number, so targets are plain numbers).
 */
export type Target = number;

/** Target for "return k". */
export function retTarget(k: number): Target {
  return -1 - (k >>> 0);
}

const K_LD = 1;
const K_AND = 2;
const K_RET = 3;
const K_JA = 4;
const K_JCC = 5;

/**
 * One instruction before layout. Always created by node() so that every node has the same
 * shape (monomorphic property access matters: a filter is compiled once per process, mostly
 * before the JIT has warmed up).
 */
interface Node {
  readonly kind: number;
  readonly code: number;
  readonly k: number;
  /** target for ja/jcc (jump if true) */
  t: Target;
  /** target for jcc (jump if false) */
  f: Target;
  /** bit 0: the true branch goes through a trampoline; bit 1: the false branch */
  far: number;
}

function node(kind: number, code: number, k: number, t: Target, f: Target): Node {
  return { kind, code, k, t, f, far: 0 };
}

export class Assembler {
  private readonly nodes: Node[] = [];
  /** label id -> index of the node it is placed in front of (-1: not placed yet) */
  private readonly labelPos: number[] = [];
  /** return value -> label of its `ret` in the pool at the end of the program */
  private readonly retLabels = new Map<number, number>();

  /** Turns a return target into the label of a pooled `ret`. */
  private resolve(t: Target): number {
    if (t >= 0) return t;
    let id = this.retLabels.get(t);
    if (id === undefined) {
      id = this.label();
      this.retLabels.set(t, id);
    }
    return id;
  }

  /** A new, not yet placed label. */
  label(): number {
    this.labelPos.push(-1);
    return this.labelPos.length - 1;
  }

  /** Places a label in front of the next instruction. */
  place(id: number): void {
    this.labelPos[id] = this.nodes.length;
  }

  ld(offset: number): void {
    this.nodes.push(node(K_LD, BPF.LD_W_ABS, offset, 0, 0));
  }

  and(mask: number): void {
    this.nodes.push(node(K_AND, BPF.ALU_AND_K, mask >>> 0, 0, 0));
  }

  ret(k: number): void {
    this.nodes.push(node(K_RET, BPF.RET_K, k >>> 0, 0, 0));
  }

  ja(target: Target): void {
    this.nodes.push(node(K_JA, BPF.JMP_JA, 0, this.resolve(target), 0));
  }

  /** Conditional jump: if (A <code> k) goto t else goto f. */
  jcc(code: number, k: number, t: Target, f: Target): void {
    this.nodes.push(node(K_JCC, code, k >>> 0, this.resolve(t), this.resolve(f)));
  }

  /** Lays out, resolves and encodes the program (struct sock_filter[], little-endian). Call once. */
  assemble(): Buffer {
    const nodes = this.nodes;
    const labelPos = this.labelPos;
    this.retLabels.forEach((id, t) => {
      labelPos[id] = nodes.length;
      nodes.push(node(K_RET, BPF.RET_K, -1 - t, 0, 0));
    });
    this.retLabels.clear();

    const count = nodes.length;
    // A far jump to a label in front of a `ret` becomes a copy of the ret instead of a `ja`.
    const retAt = (target: number): number => {
      const n = nodes[labelPos[target]!]!;
      return n.kind === K_RET ? n.k : -1;
    };

    const nodeAddr = new Int32Array(count + 1);
    const layout = (): number => {
      let addr = 0;
      for (let i = 0; i < count; i++) {
        const n = nodes[i]!;
        nodeAddr[i] = addr;
        addr += n.kind === K_JCC ? 1 + (n.far & 1) + (n.far >> 1) : 1;
      }
      nodeAddr[count] = addr;
      return addr;
    };
    const dist = (from: number, target: number): number => {
      const pos = labelPos[target]!;
      if (pos < 0 || pos >= count) throw new Error(`seccomp: BPF label ${target} is not in front of an instruction`);
      const d = nodeAddr[pos]! - (from + 1);
      if (d < 0) throw new Error(`seccomp: backward BPF jump at ${from}`);
      return d;
    };

    // Relaxation: sizes only grow, so this terminates (each jump turns far at most twice).
    let length = 0;
    for (;;) {
      length = layout();
      // Check every jump against this layout; widen the ones that do not fit, then redo it.
      let changed = false;
      for (let i = 0; i < count; i++) {
        const n = nodes[i]!;
        if (n.kind !== K_JCC) continue;
        const addr = nodeAddr[i]!;
        if ((n.far & 1) === 0 && dist(addr, n.t) > 255) {
          n.far |= 1;
          changed = true;
        }
        if ((n.far & 2) === 0 && dist(addr, n.f) > 255) {
          n.far |= 2;
          changed = true;
        }
      }
      if (!changed) break;
    }

    const buf = Buffer.alloc(length * SOCK_FILTER_SIZE);
    let pc = 0;
    // Byte stores: Buffer's write*LE helpers are slow before the JIT warms up, and a filter is
    // usually compiled once per process.
    const emit = (code: number, jt: number, jf: number, k: number): void => {
      const o = pc * 8;
      buf[o] = code & 0xff;
      buf[o + 1] = code >>> 8;
      buf[o + 2] = jt;
      buf[o + 3] = jf;
      buf[o + 4] = k & 0xff;
      buf[o + 5] = (k >>> 8) & 0xff;
      buf[o + 6] = (k >>> 16) & 0xff;
      buf[o + 7] = k >>> 24;
      pc++;
    };
    const jumpTo = (target: number): void => {
      const r = retAt(target);
      if (r >= 0) emit(BPF.RET_K, 0, 0, r);
      else emit(BPF.JMP_JA, 0, 0, dist(pc, target));
    };
    for (let i = 0; i < count; i++) {
      const n = nodes[i]!;
      if (n.kind === K_JA) {
        jumpTo(n.t);
      } else if (n.kind === K_JCC) {
        const at = pc;
        const farT = (n.far & 1) !== 0;
        const farF = (n.far & 2) !== 0;
        const jt = farT ? 0 : dist(at, n.t);
        const jf = farF ? (farT ? 1 : 0) : dist(at, n.f);
        emit(n.code, jt, jf, n.k);
        if (farT) jumpTo(n.t);
        if (farF) jumpTo(n.f);
      } else {
        emit(n.code, 0, 0, n.k);
      }
    }
    if (pc !== length) throw new Error('seccomp: BPF layout mismatch');
    return buf;
  }
}
