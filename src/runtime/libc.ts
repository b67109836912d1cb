// The few libc calls Node lacks, through koffi. Loaded on first use only:
// most commands never need it, and koffi costs ~10 ms to load.
import { TsrunError } from '../errors';

export interface Libc {
  socketpair: (domain: number, type: number, proto: number, sv: Int32Array) => number;
  recvmsg: (fd: number, msg: Buffer, flags: number) => number;
  sendmsg: (fd: number, msg: Buffer, flags: number) => number;
  ioctl: (fd: number, req: number, arg: Buffer) => number;
  /** open_tree(2) */
  openTree: (dfd: number, path: string, flags: number) => number;
  /** mount_setattr(2) with a struct mount_attr in a Buffer */
  mountSetattr: (dfd: number, path: string, flags: number, attr: Buffer, size: number) => number;
  address: (b: Buffer) => bigint;
  errno: () => number;
}

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
let libcHandle: ReturnType<Koffi['load']> | undefined;
const funcs = new Map<string, unknown>();

function koffi(): Koffi {
  // Resolved from this file's place (dist/ of the checkout): in the startup
  // snapshot the plain `require` only knows Node's built-in modules.
  // (node:module itself is required here too: a snapshot should not hold it.)
  const { createRequire } = require('node:module') as typeof import('node:module');
  koffiModule ??= createRequire(__filename)('koffi') as Koffi;
  return koffiModule;
}

/** One libc function by its C prototype, shared by every module that needs
 * one (pty, id-mapped mounts, networking, the shim): one koffi load. */
export function cfunc<F>(prototype: string): F {
  libcHandle ??= koffi().load('libc.so.6');
  let f = funcs.get(prototype);
  if (!f) {
    f = libcHandle.func(prototype);
    funcs.set(prototype, f);
  }
  return f as F;
}

/** errno of the last koffi call on this thread. */
export const cerrno = (): number => koffi().errno();
/** The address of a Buffer's memory, for pointers inside C structs. */
export const caddress = (b: Buffer): bigint => koffi().address(b);

let cached: Libc | undefined;

export function libc(): Libc {
  if (cached) return cached;
  const syscall = cfunc<(...args: unknown[]) => number>('long syscall(long, ...)');
  const SYS_open_tree = 428;
  const SYS_mount_setattr = 442;
  cached = {
    socketpair: cfunc<Libc['socketpair']>('int socketpair(int, int, int, _Out_ int *sv)'),
    recvmsg: cfunc<Libc['recvmsg']>('long recvmsg(int, void *, int)'),
    sendmsg: cfunc<Libc['sendmsg']>('long sendmsg(int, void *, int)'),
    ioctl: cfunc<Libc['ioctl']>('int ioctl(int, unsigned long, void *)'),
    openTree: (dfd, path, flags) => Number(syscall(SYS_open_tree, 'int', dfd, 'str', path, 'uint', flags)),
    mountSetattr: (dfd, path, flags, attr, size) =>
      Number(syscall(SYS_mount_setattr, 'int', dfd, 'str', path, 'uint', flags, 'void *', attr, 'size_t', size)),
    address: caddress,
    errno: cerrno,
  };
  return cached;
}

/** Builds a struct msghdr (64-bit Linux layout) around one data buffer and an
 * optional control buffer; the buffers must stay alive during the call. */
export function msghdr(c: Pick<Libc, 'address'>, data: Buffer, control?: Buffer): { msg: Buffer; keep: Buffer[] } {
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(c.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(c.address(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  if (control) {
    msg.writeBigUInt64LE(c.address(control), 32);
    msg.writeBigUInt64LE(BigInt(control.length), 40);
  }
  return { msg, keep: [iov, data, ...(control ? [control] : [])] };
}

/** Sends data with file descriptors attached (SCM_RIGHTS). */
export function sendWithFds(fd: number, data: Buffer, fds: number[]): void {
  const c = libc();
  const control = Buffer.alloc(16 + 8 * Math.ceil((fds.length * 4) / 8));
  control.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0); // cmsg_len
  control.writeInt32LE(1, 8); // SOL_SOCKET
  control.writeInt32LE(1, 12); // SCM_RIGHTS
  fds.forEach((f, i) => control.writeInt32LE(f, 16 + 4 * i));
  const { msg } = msghdr(c, data, control);
  if (c.sendmsg(fd, msg, 0x4000 /* MSG_NOSIGNAL */) !== data.length) {
    throw new TsrunError(`cannot pass file descriptors to the container init (errno ${c.errno()})`);
  }
}

/** The fd a received control message carries (struct cmsghdr: u64 len, i32
 * level, i32 type, then the fds), or undefined when it is not SCM_RIGHTS. */
export function rightsFd(control: Buffer): number | undefined {
  const SOL_SOCKET = 1;
  const SCM_RIGHTS = 1;
  return control.readInt32LE(8) === SOL_SOCKET && control.readInt32LE(12) === SCM_RIGHTS ? control.readInt32LE(16) : undefined;
}

/** Sets a terminal's size (TIOCSWINSZ); returns ioctl's result. */
export function setWinsize(fd: number, rows: number, cols: number): number {
  const TIOCSWINSZ = 0x5414;
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  return libc().ioctl(fd, TIOCSWINSZ, ws);
}
