// The plan handed to the native init: an ordered list of steps, each with a
// human description kept on this side. The native part reports failures by
// step index, so the description is what the user reads.
// Opcodes and encoding must match native/tsrun-init.c.

export const Op = {
  SETNS: 1,
  UNSHARE: 2,
  WRITE_FILE: 3,
  CLONE: 4,
  WAIT_GO: 5,
  SETID: 6,
  SETSID: 7,
  SET_DUMPABLE: 8,
  MOUNT: 9,
  MKNOD: 11,
  SYMLINK: 12,
  PIVOT_ROOT: 13,
  MOVE_ROOT: 14,
  SETHOSTNAME: 15,
  SETDOMAINNAME: 16,
  RLIMIT: 17,
  HOOK: 18,
  OPEN_PATH: 19,
  CONNECT: 20,
  CONSOLE: 21,
  EXEC_CHECK: 22,
  READY: 23,
  FIFO: 24,
  NO_NEW_PRIVS: 25,
  SECCOMP: 26,
  CAPBSET_DROP: 27,
  USER: 28,
  CAPSET: 29,
  UMASK: 30,
  CHDIR: 31,
  CLOSE_FDS: 32,
  EXEC: 33,
  REMOUNT: 35,
  MASK: 36,
  PERSONALITY: 37,
  SET_ROOT: 38,
  MKFIFO: 39,
  SETPGID_FG: 41,
  KEYRING: 42,
  MKDIR: 43,
  CHROOT: 44,
  PRIVATE_PARENT: 45,
  SCHED: 46,
  IOPRIO: 47,
  AFFINITY: 48,
  ADOPT_FD: 49,
  SEND_LISTENER: 50,
  MOVE_MOUNT: 51,
  LINK_UP: 52,
  JOIN_CGROUP: 53,
  EXPECT_DEV: 55,
  UMOUNT: 56,
  CLONE_MOUNT: 57,
  FIX_STDIO: 58,
  REMOUNT_SLOT: 59,
  CLONE_TREE: 60,
  // 70 and up: process and exec steps
  PIDFD_OPEN: 70,
  SETNS_PIDFD: 71,
  PIDFD_ALIVE: 72,
  CHROOT_SLOT: 73,
} as const;

/** Target flags for MOUNT / REMOUNT / MOVE_MOUNT / MASK. */
export const T = {
  IN_ROOT: 1,
  MKDIR: 2,
  MKFILE: 4,
  IGNORE_ENOENT: 8,
  SRC_IN_ROOT: 16,
  COPYUP: 32,
  /** Refuse a target on procfs: nothing but runc's few files is mounted inside /proc. */
  NOT_PROCFS: 64,
  /** Reached without symlinks, and a directory (where proc and sysfs go). */
  PLAIN_DIR: 128,
  /** A remount keeps the flags a user namespace's owner locked (the kernel demands it). */
  KEEP_LOCKED: 256,
  /** Creating a missing target: a dangling symlink leads to where it points, inside the root (as runc's securejoin). */
  FOLLOW_DANGLING: 512,
} as const;

/** statfs f_type of procfs: files tsrun writes there must really be on it. */
export const PROC_SUPER_MAGIC = 0x9fa0;
/** The step number the native init reports when it cannot run from a protected copy of itself. */
export const SELF_COPY_STEP = 0xffffffff;

/** Messages from the native side (struct msg). */
export const Msg = { PID: 1, READY: 2, ERROR: 3, EXIT: 4, GO: 10 } as const;

/** Fixed fd slots the plan refers to. Slot 0 is the root directory; NULLDEV
 * the null device masks are made of (create); INIT a pidfd of the
 * container's init (exec). */
export const Slot = { ROOT: 0, FIFO: 1, CONSOLE: 2, LISTENER: 3, AGENT: 4, NULLDEV: 5, INIT: 6, PASSED: 8, PASSED_END: 16, CGROUP: 16, KEPT: 32, KEPT_END: 48, SOURCE: 48, SOURCE_END: 112 } as const;
/** The native side's slot table size (MAX_SLOTS). */
export const MAX_SLOTS = 112;
/** "No slot" in a step's slot field (CLONE's cgroup directory). */
export const NO_SLOT = 0xffffffff;

type Field = { u64: number | bigint } | { u32: number } | { str: string } | { strv: string[] } | { bytes: Buffer };

export interface Step {
  op: number;
  fields: Field[];
  /** What the step does, for error messages: "mount proc on /proc". */
  what: string;
  /** What an errno means for this step, where it is the plan's own refusal. */
  explain?: Record<number, string>;
}

export class Plan {
  readonly steps: Step[] = [];

  add(op: number, what: string, ...fields: Field[]): this {
    this.steps.push({ op, fields, what });
    return this;
  }

  /** Stage 0 stays to relay the container's exit status (CLONE's relay flag). */
  get relays(): boolean {
    const clone = this.steps.find((s) => s.op === Op.CLONE);
    const flag = clone?.fields[1];
    return !!flag && 'u64' in flag && Number(flag.u64) !== 0;
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

  /** u32 total length, then per step: u32 op, u32 payload length, payload.
   * One buffer, sized first, and every string of the plan turned into bytes
   * by one call: this runs cold on every create and exec. */
  encode(): Buffer {
    const nextString = stringBytes(this.steps.flatMap((step) => step.fields.flatMap((f) => ('str' in f ? [f.str] : 'strv' in f ? f.strv : []))));
    const steps = this.steps.map((step) => {
      const fields = step.fields.map((f): Encoded => ('str' in f ? { blob: nextString() } : 'strv' in f ? { list: f.strv.map(nextString) } : 'bytes' in f ? { blob: f.bytes } : f));
      return { op: step.op, fields, size: fields.reduce((n, f) => n + fieldSize(f), 0) };
    });
    const total = 4 + steps.reduce((n, step) => n + 8 + step.size, 0);
    const w = new Writer(Buffer.allocUnsafe(total));
    w.u32(total - 4);
    for (const step of steps) {
      w.u32(step.op);
      w.u32(step.size);
      for (const f of step.fields) writeField(w, f);
    }
    return w.buf;
  }
}

/** A field with its strings turned into NUL-terminated bytes. */
type Encoded = { u64: number | bigint } | { u32: number } | { blob: Buffer } | { list: Buffer[] };

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
  if ('u32' in f) return 4;
  if ('blob' in f) return 4 + f.blob.length;
  return 4 + f.list.reduce((n, b) => n + 4 + b.length, 0);
}

function writeField(w: Writer, f: Encoded): void {
  if ('u64' in f) w.u64(f.u64);
  else if ('u32' in f) w.u32(f.u32);
  else if ('blob' in f) w.blob(f.blob);
  else {
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

export const u64 = (v: number | bigint): Field => ({ u64: v });
export const u32 = (v: number): Field => ({ u32: v });
export const str = (v: string): Field => ({ str: v });
export const strv = (v: string[]): Field => ({ strv: v });
export const bytes = (v: Buffer): Field => ({ bytes: v });
