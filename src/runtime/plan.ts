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
  MOUNT_SETATTR: 40,
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
  SETNS_SLOT: 54,
} as const;

/** Target flags for MOUNT / REMOUNT / MOUNT_SETATTR. */
export const T = {
  IN_ROOT: 1,
  MKDIR: 2,
  MKFILE: 4,
  IGNORE_ENOENT: 8,
  SRC_IN_ROOT: 16,
  COPYUP: 32,
} as const;

/** Messages from the native side (struct msg). */
export const Msg = { PID: 1, READY: 2, ERROR: 3, GO: 10 } as const;

/** Fixed fd slots the plan refers to. Slot 0 is the root directory. */
export const Slot = { ROOT: 0, FIFO: 1, CONSOLE: 2, LISTENER: 3, AGENT: 4, CGROUPNS: 5, PASSED: 8, PASSED_END: 16, CGROUP: 16 } as const;
/** The native side's slot table size (MAX_SLOTS). */
export const MAX_SLOTS = 32;
/** "No slot" in a step's slot field (CLONE's cgroup directory). */
export const NO_SLOT = 0xffffffff;

type Field = { u64: number | bigint } | { u32: number } | { str: string } | { strv: string[] } | { bytes: Buffer };

export interface Step {
  op: number;
  fields: Field[];
  /** What the step does, for error messages: "mount proc on /proc". */
  what: string;
}

export class Plan {
  readonly steps: Step[] = [];

  add(op: number, what: string, ...fields: Field[]): this {
    this.steps.push({ op, fields, what });
    return this;
  }

  describe(index: number): string {
    return this.steps[index]?.what ?? `step ${index}`;
  }

  /** u32 total length, then per step: u32 op, u32 payload length, payload. */
  encode(): Buffer {
    const parts: Buffer[] = [];
    for (const step of this.steps) {
      const payload = Buffer.concat(step.fields.map(encodeField));
      const head = Buffer.alloc(8);
      head.writeUInt32LE(step.op, 0);
      head.writeUInt32LE(payload.length, 4);
      parts.push(head, payload);
    }
    const body = Buffer.concat(parts);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(body.length, 0);
    return Buffer.concat([len, body]);
  }
}

function encodeStr(s: string): Buffer {
  const bytes = Buffer.from(s + '\0', 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(bytes.length, 0);
  return Buffer.concat([head, bytes]);
}

function encodeField(f: Field): Buffer {
  if ('u64' in f) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(f.u64)), 0);
    return b;
  }
  if ('u32' in f) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(f.u32, 0);
    return b;
  }
  if ('str' in f) return encodeStr(f.str);
  if ('strv' in f) {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(f.strv.length, 0);
    return Buffer.concat([head, ...f.strv.map(encodeStr)]);
  }
  const head = Buffer.alloc(4);
  head.writeUInt32LE(f.bytes.length, 0);
  return Buffer.concat([head, f.bytes]);
}

export const u64 = (v: number | bigint): Field => ({ u64: v });
export const u32 = (v: number): Field => ({ u32: v });
export const str = (v: string): Field => ({ str: v });
export const strv = (v: string[]): Field => ({ strv: v });
export const bytes = (v: Buffer): Field => ({ bytes: v });
