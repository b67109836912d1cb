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

/** A jump target: a label id, or "some instruction that returns k". */
export type Target = number | { readonly ret: number };

type Node =
  | { readonly kind: 'ld' | 'and' | 'ret'; readonly k: number }
  | { readonly kind: 'label'; readonly id: number }
  | { readonly kind: 'ja'; target: Target }
  | {
      readonly kind: 'jcc';
      readonly code: number;
      readonly k: number;
      t: Target;
      f: Target;
      farT: boolean;
      farF: boolean;
    };

export class Assembler {
  private readonly nodes: Node[] = [];
  private nextLabel = 0;

  /** A new, not yet placed label. */
  label(): number {
    return this.nextLabel++;
  }

  /** Places a label at the current position. */
  place(id: number): void {
    this.nodes.push({ kind: 'label', id });
  }

  ld(offset: number): void {
    this.nodes.push({ kind: 'ld', k: offset });
  }

  and(mask: number): void {
    this.nodes.push({ kind: 'and', k: mask >>> 0 });
  }

  ret(k: number): void {
    this.nodes.push({ kind: 'ret', k: k >>> 0 });
  }

  ja(target: Target): void {
    this.nodes.push({ kind: 'ja', target });
  }

  /** Conditional jump: if (A <code> k) goto t else goto f. */
  jcc(code: number, k: number, t: Target, f: Target): void {
    this.nodes.push({ kind: 'jcc', code, k: k >>> 0, t, f, farT: false, farF: false });
  }

  /** Lays out, resolves and encodes the program (struct sock_filter[], little-endian). */
  assemble(): Buffer {
    const nodes = this.nodes;
    // Return targets become labels on a pool of `ret` instructions at the very end.
    const retLabels = new Map<number, number>();
    const resolve = (t: Target): number => {
      if (typeof t === 'number') return t;
      let id = retLabels.get(t.ret >>> 0);
      if (id === undefined) {
        id = this.label();
        retLabels.set(t.ret >>> 0, id);
      }
      return id;
    };
    for (const n of nodes) {
      if (n.kind === 'ja') n.target = resolve(n.target);
      else if (n.kind === 'jcc') {
        n.t = resolve(n.t);
        n.f = resolve(n.f);
      }
    }
    for (const [k, id] of retLabels) {
      nodes.push({ kind: 'label', id }, { kind: 'ret', k });
    }

    // Labels directly in front of a `ret`: a far jump there is replaced by a copy of the ret.
    const retAt = new Map<number, number>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (n.kind !== 'label') continue;
      let j = i + 1;
      while (j < nodes.length && nodes[j]!.kind === 'label') j++;
      const m = nodes[j];
      if (m?.kind === 'ret') retAt.set(n.id, m.k);
    }

    const labelAddr = new Array<number>(this.nextLabel).fill(-1);
    const nodeAddr = new Array<number>(nodes.length).fill(0);
    const layout = (): number => {
      let addr = 0;
      for (let i = 0; i < nodes.length; i++) {
        const n = nodes[i]!;
        nodeAddr[i] = addr;
        if (n.kind === 'label') labelAddr[n.id] = addr;
        else addr += n.kind === 'jcc' ? 1 + (n.farT ? 1 : 0) + (n.farF ? 1 : 0) : 1;
      }
      return addr;
    };
    const dist = (from: number, target: Target): number => {
      const to = labelAddr[target as number]!;
      if (to < 0) throw new Error(`seccomp: BPF label ${String(target)} was never placed`);
      const d = to - (from + 1);
      if (d < 0) throw new Error(`seccomp: backward BPF jump from ${from} to ${to}`);
      return d;
    };

    // Relaxation: sizes only grow, so this terminates (each jump turns far at most twice).
    let length = 0;
    for (;;) {
      length = layout();
      // Check every jump against this layout; widen the ones that do not fit, then redo it.
      let changed = false;
      for (let i = 0; i < nodes.length; i++) {
        const n = nodes[i]!;
        if (n.kind !== 'jcc') continue;
        const addr = nodeAddr[i]!;
        if (!n.farT && dist(addr, n.t) > 255) {
          n.farT = true;
          changed = true;
        }
        if (!n.farF && dist(addr, n.f) > 255) {
          n.farF = true;
          changed = true;
        }
      }
      if (!changed) break;
    }

    const buf = Buffer.alloc(length * 8);
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
    const jumpTo = (target: Target): void => {
      const r = retAt.get(target as number);
      if (r !== undefined) emit(BPF.RET_K, 0, 0, r);
      else emit(BPF.JMP_JA, 0, 0, dist(pc, target));
    };
    for (const n of nodes) {
      switch (n.kind) {
        case 'label':
          break;
        case 'ld':
          emit(BPF.LD_W_ABS, 0, 0, n.k);
          break;
        case 'and':
          emit(BPF.ALU_AND_K, 0, 0, n.k);
          break;
        case 'ret':
          emit(BPF.RET_K, 0, 0, n.k);
          break;
        case 'ja':
          jumpTo(n.target);
          break;
        case 'jcc': {
          const at = pc;
          const jt = n.farT ? 0 : dist(at, n.t);
          const jf = n.farF ? (n.farT ? 1 : 0) : dist(at, n.f);
          emit(n.code, jt, jf, n.k);
          if (n.farT) jumpTo(n.t);
          if (n.farF) jumpTo(n.f);
          break;
        }
      }
    }
    if (pc !== length) throw new Error('seccomp: BPF layout mismatch');
    return buf;
  }
}
