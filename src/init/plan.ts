// The plan handed to the native init: an ordered list of steps, each with a
// human description kept on this side. The native part reports failures by
// step index, so the description is what the user reads. What each
// operation's fields are is written once, in ./ops.ts; the native
// decoder is generated from it.
import { layoutOf, type FieldLayout, type OpArgs, type OpName, OPS, NO_SLOT } from './ops';

export { MAX_SLOTS, Msg, NO_SLOT, PROC_SUPER_MAGIC, SELF_COPY_STEP, Slot, T } from './ops';
export type { OpName } from './ops';

/** One step: the operation, its typed fields, and what it does in words. */
export type Step<K extends OpName = OpName> = {
  [N in K]: {
    op: N;
    args: OpArgs<N>;
    /** What the step does, for error messages: "mount proc on /proc". */
    what: string;
    /** What an errno means for this step, where it is the plan's own refusal. */
    explain?: Record<number, string>;
  };
}[K];

export class Plan {
  readonly steps: Step[] = [];

  /** Appends a step; an operation without required fields needs no args. */
  add<K extends OpName>(op: K, what: string, ...args: {} extends OpArgs<K> ? [OpArgs<K>?] : [OpArgs<K>]): this {
    this.steps.push({ op, args: args[0] ?? {}, what } as Step);
    return this;
  }

  /** The first step of this operation. */
  first<K extends OpName>(op: K): Step<K> | undefined {
    return this.steps.find((s) => s.op === op) as Step<K> | undefined;
  }

  /** Every step of this operation, in order. */
  all<K extends OpName>(op: K): Step<K>[] {
    return this.steps.filter((s) => s.op === op) as Step<K>[];
  }

  /** Stage 0 stays to relay the container's exit status (clone's relay flag). */
  get relays(): boolean {
    return Number(this.first('clone')?.args.relay ?? 0) !== 0;
  }

  /** Says what errno means if the last step added fails with it. */
  explain(errno: number, text: string): this {
    const step = this.steps[this.steps.length - 1]!;
    step.explain = { ...step.explain, [errno]: text };
    return this;
  }

  describe(index: number): string {
    return this.steps[index]?.what ?? `step ${index}`;
  }

  /** u32 total length, then per step: u32 op, u32 payload length, payload
   * (the fields in the order of ./ops.ts). One buffer, sized first, and
   * every string of the plan turned into bytes by one call: this runs cold
   * on every create and exec. */
  encode(): Buffer {
    const laid = this.steps.map((step) => ({ code: OPS[step.op].code, layout: layoutOf(step.op), args: step.args as Record<string, Value | undefined> }));
    const strings: string[] = [];
    for (const s of laid) {
      for (const f of s.layout) {
        const v = s.args[f.name];
        if (f.type === 'str') strings.push((v as string | undefined) ?? '');
        else if (f.type === 'strv') strings.push(...((v as string[] | undefined) ?? []));
      }
    }
    const nextString = stringBytes(strings);
    const steps = laid.map((s) => {
      const fields = s.layout.map((f) => encoded(f, s.args[f.name], nextString));
      return { code: s.code, fields, size: fields.reduce((n, f) => n + fieldSize(f), 0) };
    });
    const total = 4 + steps.reduce((n, step) => n + 8 + step.size, 0);
    const w = new Writer(Buffer.allocUnsafe(total));
    w.u32(total - 4);
    for (const step of steps) {
      w.u32(step.code);
      w.u32(step.size);
      for (const f of step.fields) writeField(w, f);
    }
    return w.buf;
  }
}

type Value = number | bigint | string | string[] | Buffer | Array<number | bigint>;

function encoded(f: FieldLayout, v: Value | undefined, nextString: () => Buffer): Encoded {
  if (v === undefined && !f.optional) throw new Error(`plan: field ${f.name} is required`);
  switch (f.type) {
    case 'u64':
      return { u64: (v as number | bigint | undefined) ?? 0 };
    case 'slot':
      return { u64: (v as number | bigint | undefined) ?? NO_SLOT };
    case 'str':
      return { blob: nextString() };
    case 'strv':
      return { list: ((v as string[] | undefined) ?? []).map(() => nextString()) };
    case 'bytes':
      return { blob: (v as Buffer | undefined) ?? Buffer.alloc(0) };
    case 'u64v':
      return { u64s: (v as Array<number | bigint> | undefined) ?? [] };
  }
}

/** A field with its strings turned into NUL-terminated bytes. */
type Encoded = { u64: number | bigint } | { blob: Buffer } | { list: Buffer[] } | { u64s: Array<number | bigint> };

/** The strings' NUL-terminated bytes from one conversion, handed out in order. */
function stringBytes(strings: string[]): () => Buffer {
  const joined = strings.join('\0') + '\0';
  const bytes = Buffer.from(joined, 'utf8');
  // ASCII (the usual case): byte lengths are string lengths.
  const ascii = bytes.length === joined.length;
  let i = 0;
  let at = 0;
  return () => {
    const s = strings[i++]!;
    const end = at + (ascii ? s.length : Buffer.byteLength(s, 'utf8')) + 1;
    const b = bytes.subarray(at, end);
    at = end;
    return b;
  };
}

function fieldSize(f: Encoded): number {
  if ('u64' in f) return 8;
  if ('blob' in f) return 4 + f.blob.length;
  if ('u64s' in f) return 4 + 8 * f.u64s.length;
  return 4 + f.list.reduce((n, b) => n + 4 + b.length, 0);
}

function writeField(w: Writer, f: Encoded): void {
  if ('u64' in f) w.u64(f.u64);
  else if ('blob' in f) w.blob(f.blob);
  else if ('u64s' in f) {
    w.u32(f.u64s.length);
    for (const v of f.u64s) w.u64(v);
  } else {
    w.u32(f.list.length);
    for (const b of f.list) w.blob(b);
  }
}

const TWO_32 = 2 ** 32;

class Writer {
  private at = 0;
  constructor(readonly buf: Buffer) {}

  u32(v: number): void {
    const b = this.buf;
    const at = this.at;
    b[at] = v & 0xff;
    b[at + 1] = (v >>> 8) & 0xff;
    b[at + 2] = (v >>> 16) & 0xff;
    b[at + 3] = (v >>> 24) & 0xff;
    this.at = at + 4;
  }

  /** Two's complement for negative values, as the native side reads them.
   * Plain numbers avoid BigInt, which is slow in code run once. */
  u64(v: number | bigint): void {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      this.u32(v % TWO_32);
      this.u32(Math.floor(v / TWO_32));
      return;
    }
    const n = BigInt.asUintN(64, BigInt(v));
    this.u32(Number(n & 0xffffffffn));
    this.u32(Number(n >> 32n));
  }

  /** u32 length, then the bytes. */
  blob(b: Buffer): void {
    this.u32(b.length);
    this.at += b.copy(this.buf, this.at);
  }
}

