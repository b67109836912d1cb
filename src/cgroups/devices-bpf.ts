// linux.resources.devices on cgroup v2. There is no devices.allow/deny there:
// device access is decided by an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup. The kernel
// runs it for every open(2) of a device node and every mknod(2), with a
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } as its
// context, and allows the access when it returns 1.
//
// Semantics (the same rules as the v1 path in resources.ts: deny all, the
// spec's rules, then DEFAULT_DEVICE_RULES):
//  - nothing is allowed unless a rule allows it (default deny);
//  - for each access bit a request carries (r, w, m), the LAST rule that
//    matches the device and names that bit decides it; the request is allowed
//    when every one of its bits is allowed ("r" allows reading, not writing
//    or mknod; an O_RDWR open needs both r and w);
//  - type "a" (or no type) means every device, every access ("a *:* rwm"),
//    whatever major/minor/access say, as the v1 devices.allow file reads "a";
//    a major or minor of -1 (or absent) is a wildcard; access absent = "rwm".
// This is "last match wins" evaluated per access bit. The v1 kernel differs
// only in corner cases where a wildcard rule and a specific rule overlap (v1
// keeps exceptions per exact (type, major, minor) key, so there a later
// "deny c 1:3" does not punch a hole in an earlier "allow c *:*").
//
// The program walks the rules from last to first with the still-undecided
// access bits in r2:
//   r2 = access bits, r3 = device type, r4 = major, r5 = minor
//   if r2 == 0 or r2 has a bit other than rwm: deny
//   for each rule, last first:
//     if the device does not match: go on to the rule before
//     allow: r2 &= ~access; if r2 == 0: allow     (all bits decided)
//     deny:  if r2 & access: deny                  (an undecided bit is denied)
//   deny                                           (bits no rule allowed)
// Only forward jumps, and nothing unreachable (the verifier rejects both dead
// code and loops): rules before an "a" rule can never decide anything and are
// not emitted.
import { libc } from '../sys/libc';
import { closeSync, constants, openSync } from 'node:fs';
import { endianness, constants as osConstants } from 'node:os';
import { ConfigError, errnoName } from '../errors';
import type { LinuxDeviceCgroup } from '../oci/types';
import { CgroupError } from './fsutil';

// ---- eBPF instruction encoding (include/uapi/linux/bpf.h, bpf_common.h) ----

export const BPF = {
  // classes
  LDX: 0x01,
  JMP: 0x05,
  ALU: 0x04,
  ALU64: 0x07,
  // sizes / modes
  W: 0x00,
  MEM: 0x60,
  // sources
  K: 0x00,
  X: 0x08,
  // ALU ops
  ADD: 0x00,
  SUB: 0x10,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  MOV: 0xb0,
  // JMP ops
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  EXIT: 0x90,
} as const;

/** struct bpf_cgroup_dev_ctx */
export const DEV_CTX = { accessType: 0, major: 4, minor: 8 } as const;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
const ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

/** One decoded struct bpf_insn. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export const INSN_SIZE = 8;

export function encodeInsns(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * INSN_SIZE);
  insns.forEach((i, n) => {
    const o = n * INSN_SIZE;
    buf.writeUInt8(i.code, o);
    buf.writeUInt8(((i.src & 0xf) << 4) | (i.dst & 0xf), o + 1); // dst_reg:4 is the low nibble on little-endian
    buf.writeInt16LE(i.off, o + 2);
    buf.writeInt32LE(i.imm, o + 4);
  });
  return buf;
}

export function decodeInsns(buf: Buffer): BpfInsn[] {
  if (buf.length % INSN_SIZE !== 0) throw new Error(`eBPF program length ${buf.length} is not a multiple of ${INSN_SIZE}`);
  const out: BpfInsn[] = [];
  for (let o = 0; o < buf.length; o += INSN_SIZE) {
    const regs = buf.readUInt8(o + 1);
    out.push({ code: buf.readUInt8(o), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(o + 2), imm: buf.readInt32LE(o + 4) });
  }
  return out;
}

// ---- code generation ----

/** A jump target while generating: resolved to an offset once the layout is known. */
type Target = 'allow' | 'deny' | 'next';
interface PendingInsn extends BpfInsn {
  target?: Target;
}

const R0 = 0;
const R1 = 1;
const R_ACC = 2;
const R_TYPE = 3;
const R_MAJOR = 4;
const R_MINOR = 5;

const ldxW = (dst: number, src: number, off: number): PendingInsn => ({ code: BPF.LDX | BPF.MEM | BPF.W, dst, src, off, imm: 0 });
const alu64K = (op: number, dst: number, imm: number): PendingInsn => ({ code: BPF.ALU64 | op | BPF.K, dst, src: 0, off: 0, imm });
const mov64X = (dst: number, src: number): PendingInsn => ({ code: BPF.ALU64 | BPF.MOV | BPF.X, dst, src, off: 0, imm: 0 });
const jmpK = (op: number, dst: number, imm: number, target: Target): PendingInsn => ({ code: BPF.JMP | op | BPF.K, dst, src: 0, off: 0, imm, target });
const ja = (target: Target): PendingInsn => ({ code: BPF.JMP | BPF.JA, dst: 0, src: 0, off: 0, imm: 0, target });
const exit = (): PendingInsn => ({ code: BPF.JMP | BPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 });

/** Access bits of an OCI access string; absent means all. Letters other
 * than r, w and m are ignored, as runc ignores them ("rwa" is "rw"). */
export function accessBits(access: string | undefined, where = 'access'): number {
  if (access === undefined) return ACC_ALL;
  let bits = 0;
  for (const ch of access) {
    if (ch === 'r') bits |= BPF_DEVCG_ACC_READ;
    else if (ch === 'w') bits |= BPF_DEVCG_ACC_WRITE;
    else if (ch === 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    else if (!/[a-zA-Z]/.test(ch)) throw new ConfigError(`linux.resources.${where}: must be letters ("r", "w", "m"), got ${JSON.stringify(access)}`);
  }
  return bits;
}

/** The r, w and m of an access string, in the kernel's v1 form. */
export function deviceAccess(access: string | undefined): string {
  if (access === undefined) return 'rwm';
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

/** Device numbers the kernel can hand the program: majors are 12 bits and
 * minors 20 bits, so anything above 2^31-1 (which a 32-bit signed immediate
 * could not hold anyway) names no device and the rule can never match. */
const MAX_DEV_NUMBER = 0x7fffffff;

function devNumber(n: number | undefined, where: string): number | 'any' | 'never' {
  if (n === undefined || n === -1) return 'any';
  if (!Number.isSafeInteger(n) || n < -1) throw new ConfigError(`linux.resources.${where}: must be an integer >= -1, got ${n}`);
  return n > MAX_DEV_NUMBER ? 'never' : n;
}

/** The largest program we generate: jumps carry a signed 16-bit offset. */
const MAX_INSNS = 0x7fff;

/**
 * The eBPF program (struct bpf_insn array) enforcing `rules`, in order, the
 * last matching rule winning for each access bit and anything no rule allows
 * denied. Pass the spec's rules with DEFAULT_DEVICE_RULES already appended.
 */
export function generateDeviceProgram(rules: readonly LinuxDeviceCgroup[]): Buffer {
  const body: PendingInsn[][] = [];
  let needAllow = false;
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    const where = `devices[${i}]`;
    if (typeof r.allow !== 'boolean') throw new ConfigError(`linux.resources.${where}.allow: must be a boolean`);
    const type = r.type ?? 'a';
    if (type === 'a') {
      // Every device, every access: it decides whatever is still undecided,
      // so the rules before it cannot matter (and would be dead code).
      if (r.allow) {
        body.push([ja('allow')]);
        needAllow = true;
      } else {
        body.push([ja('deny')]);
      }
      break;
    }
    if (type !== 'b' && type !== 'c') throw new ConfigError(`linux.resources.${where}.type: must be "a", "b" or "c", got ${JSON.stringify(type)}`);
    const acc = accessBits(r.access, `${where}.access`);
    const major = devNumber(r.major, `${where}.major`);
    const minor = devNumber(r.minor, `${where}.minor`);
    if (acc === 0 || major === 'never' || minor === 'never') continue; // can never decide anything
    const block: PendingInsn[] = [jmpK(BPF.JNE, R_TYPE, type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 'next')];
    if (major !== 'any') block.push(jmpK(BPF.JNE, R_MAJOR, major, 'next'));
    if (minor !== 'any') block.push(jmpK(BPF.JNE, R_MINOR, minor, 'next'));
    if (r.allow) {
      needAllow = true;
      if (acc === ACC_ALL) block.push(ja('allow'));
      else block.push(alu64K(BPF.AND, R_ACC, ~acc), jmpK(BPF.JEQ, R_ACC, 0, 'allow'));
    } else if (acc === ACC_ALL) {
      block.push(ja('deny'));
    } else {
      block.push(jmpK(BPF.JSET, R_ACC, acc, 'deny'));
    }
    body.push(block);
  }

  const prologue: PendingInsn[] = [
    ldxW(R_ACC, R1, DEV_CTX.accessType),
    mov64X(R_TYPE, R_ACC),
    alu64K(BPF.AND, R_TYPE, 0xffff),
    alu64K(BPF.RSH, R_ACC, 16),
    ldxW(R_MAJOR, R1, DEV_CTX.major),
    ldxW(R_MINOR, R1, DEV_CTX.minor),
    // No access bit, or one this program does not know: deny.
    jmpK(BPF.JEQ, R_ACC, 0, 'deny'),
    jmpK(BPF.JSET, R_ACC, ~ACC_ALL, 'deny'),
  ];

  // Layout: prologue, rule blocks, deny, allow (only when something jumps there).
  const blocks = [prologue, ...body];
  // A final "a" deny rule would jump straight to the next instruction: let it fall through.
  const last = body[body.length - 1];
  if (last && last.length === 1 && last[0]!.code === (BPF.JMP | BPF.JA) && last[0]!.target === 'deny') blocks.pop();
  const denyAt = blocks.reduce((n, b) => n + b.length, 0);
  const allowAt = denyAt + 2;
  const total = allowAt + (needAllow ? 2 : 0);
  if (total > MAX_INSNS) {
    throw new ConfigError(`linux.resources.devices: too many device rules (${rules.length}) for one eBPF program (${total} instructions)`);
  }

  const out: BpfInsn[] = [];
  for (const block of blocks) {
    const next = out.length + block.length;
    for (const insn of block) {
      const pc = out.length;
      const { target, ...plain } = insn;
      if (target !== undefined) {
        const dest = target === 'next' ? next : target === 'deny' ? denyAt : allowAt;
        plain.off = dest - (pc + 1);
      }
      out.push(plain);
    }
  }
  out.push({ code: BPF.ALU64 | BPF.MOV | BPF.K, dst: R0, src: 0, off: 0, imm: 0 }, exit());
  if (needAllow) out.push({ code: BPF.ALU64 | BPF.MOV | BPF.K, dst: R0, src: 0, off: 0, imm: 1 }, exit());
  return encodeInsns(out);
}

// ---- loading and attaching (bpf(2) through libc's syscall()) ----

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;

/** union bpf_attr is well under this; the kernel accepts a longer attr whose tail is zero. */
const ATTR_SIZE = 256;
const LOG_SIZE = 1 << 20;
const LICENSE = 'Apache';
const PROG_NAME = 'tsrun_devices';
const CGROUP2_SUPER_MAGIC = 0x63677270n;

const SYS_BPF: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 321,
  arm64: 280,
  riscv64: 280,
  loong64: 280,
  ia32: 357,
  arm: 386,
  ppc64: 361, // little-endian only, see sysBpf
};

/** bpf(2) or another kernel call behind the device program failed. */
export class DeviceProgramError extends CgroupError {
  override name = 'DeviceProgramError';
  constructor(
    message: string,
    /** The errno name ("EPERM"), when the kernel gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

const HINTS: Record<string, string> = {
  EPERM: 'CAP_SYS_ADMIN or CAP_BPF is needed to load and attach eBPF programs',
  EINVAL: 'the kernel rejected the request (BPF_PROG_TYPE_CGROUP_DEVICE needs Linux >= 4.15)',
  ENOSYS: 'the kernel has no bpf(2)',
  EBADF: 'not a cgroup2 directory',
};

function fail(what: string, errno: number, extra?: string): never {
  const name = errnoName(errno);
  const hint = HINTS[name];
  throw new DeviceProgramError(`cgroup: ${what}: ${name}${hint ? ` (${hint})` : ''}${extra ? `\n${extra}` : ''}`, name);
}

function sysBpf(cmd: number, attr: Buffer): number {
  const c = libc();
  const nr = SYS_BPF[process.arch];
  if (nr === undefined || endianness() !== 'LE') {
    throw new DeviceProgramError(`cgroup: eBPF device programs are not supported by tsrun on ${process.arch} (${endianness()})`);
  }
  const r = Number(c.syscall(nr, 'int', cmd, 'void *', attr, 'unsigned int', attr.length));
  if (r < 0) return -c.errno();
  return r;
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing left to do
  }
}

/** BPF_PROG_LOAD; returns the program fd. On a verifier rejection the message carries the verifier's log. */
export function loadDeviceProgram(program: Buffer): number {
  if (program.length === 0 || program.length % INSN_SIZE !== 0) {
    throw new DeviceProgramError(`cgroup: invalid eBPF device program (${program.length} bytes)`);
  }
  const c = libc();
  const license = Buffer.from(`${LICENSE}\0`);
  const attempt = (log?: Buffer): number => {
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0); // prog_type
    attr.writeUInt32LE(program.length / INSN_SIZE, 4); // insn_cnt
    attr.writeBigUInt64LE(c.address(program), 8); // insns
    attr.writeBigUInt64LE(c.address(license), 16); // license
    if (log) {
      attr.writeUInt32LE(1, 24); // log_level
      attr.writeUInt32LE(log.length, 28); // log_size
      attr.writeBigUInt64LE(c.address(log), 32); // log_buf
    }
    attr.write(PROG_NAME, 48, 15, 'latin1'); // prog_name[16]
    return sysBpf(BPF_PROG_LOAD, attr);
  };
  const fd = attempt();
  if (fd >= 0) return fd;
  // Once more with the verifier's log, to say why.
  let extra: string | undefined;
  if (-fd === osConstants.errno.EINVAL || -fd === osConstants.errno.EACCES) {
    const log = Buffer.alloc(LOG_SIZE);
    const again = attempt(log);
    if (again >= 0) return again;
    const end = log.indexOf(0);
    const text = log.toString('utf8', 0, end < 0 ? log.length : end).trim();
    if (text) extra = `verifier log:\n${text.split('\n').slice(-40).join('\n')}`;
  }
  fail('cannot load the eBPF device program (bpf BPF_PROG_LOAD)', -fd, extra);
}

function openCgroupDir(cgroupDir: string): number {
  try {
    return openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DeviceProgramError(`cgroup: cannot open ${cgroupDir}: ${code ?? String(e)}`, code);
  }
}

interface Attached {
  ids: number[];
  /** The flags the programs were attached with (0: exclusive, 1: override, 2: multi). */
  flags: number;
}

function query(cgFd: number, cgroupDir: string): Attached {
  const c = libc();
  let cap = 64;
  for (;;) {
    const ids = Buffer.alloc(cap * 4);
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(cgFd, 0); // target_fd
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4); // attach_type
    attr.writeBigUInt64LE(c.address(ids), 16); // prog_ids
    attr.writeUInt32LE(cap, 24); // prog_cnt
    const r = sysBpf(BPF_PROG_QUERY, attr);
    const cnt = attr.readUInt32LE(24);
    if (r < 0 && -r === osConstants.errno.ENOSPC && cnt > cap) {
      cap = cnt;
      continue;
    }
    if (r < 0) fail(`cannot list the device programs of ${cgroupDir} (bpf BPF_PROG_QUERY)`, -r);
    const out: number[] = [];
    for (let i = 0; i < Math.min(cnt, cap); i++) out.push(ids.readUInt32LE(i * 4));
    return { ids: out, flags: attr.readUInt32LE(12) };
  }
}

/** The ids of the BPF_CGROUP_DEVICE programs attached directly to a cgroup2 directory (not inherited ones). */
export function attachedDevicePrograms(cgroupDir: string): number[] {
  const cgFd = openCgroupDir(cgroupDir);
  try {
    return query(cgFd, cgroupDir).ids;
  } finally {
    closeFd(cgFd);
  }
}

function attachAttr(cgFd: number, progFd: number, flags: number): Buffer {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(cgFd, 0); // target_fd
  attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
  attr.writeUInt32LE(flags, 12); // attach_flags
  return attr;
}

/**
 * Loads `program` (from generateDeviceProgram) and attaches it to the cgroup2
 * directory `cgroupDir` as its device filter, replacing the device programs
 * attached there before. The new program is attached before the old ones are
 * detached, so there is no moment without a filter (while both are attached
 * an access needs both to allow it).
 */
export function attachDeviceProgram(cgroupDir: string, program: Buffer): void {
  const progFd = loadDeviceProgram(program);
  try {
    const cgFd = openCgroupDir(cgroupDir);
    try {
      const old = query(cgFd, cgroupDir);
      // Programs attached without BPF_F_ALLOW_MULTI are replaced by attaching with the same flags.
      const exclusive = old.ids.length > 0 && (old.flags & BPF_F_ALLOW_MULTI) === 0;
      const r = sysBpf(BPF_PROG_ATTACH, attachAttr(cgFd, progFd, exclusive ? old.flags : BPF_F_ALLOW_MULTI));
      if (r < 0) fail(`cannot attach the eBPF device program to ${cgroupDir} (bpf BPF_PROG_ATTACH)`, -r);
      if (!exclusive) for (const id of old.ids) detachById(cgFd, cgroupDir, id);
    } finally {
      closeFd(cgFd);
    }
  } finally {
    closeFd(progFd);
  }
}

function detachById(cgFd: number, cgroupDir: string, id: number): void {
  const get = Buffer.alloc(ATTR_SIZE);
  get.writeUInt32LE(id, 0); // prog_id
  const fd = sysBpf(BPF_PROG_GET_FD_BY_ID, get);
  if (fd < 0) {
    if (-fd === osConstants.errno.ENOENT) return; // gone meanwhile
    fail(`cannot open the old device program ${id} of ${cgroupDir} (bpf BPF_PROG_GET_FD_BY_ID)`, -fd);
  }
  try {
    const r = sysBpf(BPF_PROG_DETACH, attachAttr(cgFd, fd, 0));
    if (r < 0 && -r !== osConstants.errno.ENOENT) {
      fail(`cannot detach the old device program ${id} from ${cgroupDir} (bpf BPF_PROG_DETACH)`, -r);
    }
  } finally {
    closeFd(fd);
  }
}

/** Whether `dir` is on a cgroup2 file system (statfs f_type == CGROUP2_SUPER_MAGIC). */
export function isCgroup2Dir(dir: string): boolean {
  const buf = Buffer.alloc(256); // struct statfs: f_type is the first field, a long
  if (libc().statfs(dir, buf) !== 0) return false;
  return (process.arch === 'ia32' || process.arch === 'arm' ? BigInt(buf.readUInt32LE(0)) : buf.readBigUInt64LE(0)) === CGROUP2_SUPER_MAGIC;
}

/**
 * cgroup v2 device rules for resources.ts: the spec's rules, then the
 * defaults, compiled and attached to the container's cgroup2 directory.
 * Every failure throws: without the program the container could open any
 * device node, so a create must not go on.
 */
export function applyDevicesV2(cgroupDir: string, rules: readonly LinuxDeviceCgroup[]): void {
  const program = generateDeviceProgram(rules);
  if (!isCgroup2Dir(cgroupDir)) {
    throw new DeviceProgramError(`cgroup: cannot attach the eBPF device program: ${cgroupDir} is not a cgroup2 directory`);
  }
  attachDeviceProgram(cgroupDir, program);
}
