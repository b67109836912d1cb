// The libc calls Node lacks, through koffi: the one place tsrun binds native
// functions (pty and console sockets, id-mapped mounts, netlink and setns,
// bpf(2), the shim's sockets and mounts). Nothing is loaded up front: koffi
// (~10 ms) is required when the first function is called, and each function
// is bound on its own first call, so a command pays only for what it uses.
import { errnoName, errnoSymbol, TsrunError } from '../errors';

/** A libc call failed: `call` says what was attempted, `errno` is the kernel's answer. */
export class SysError extends TsrunError {
  override name = 'SysError';
  constructor(
    readonly call: string,
    readonly errno: number,
    message = `${call}: ${errnoName(errno)}`,
  ) {
    super(message);
  }
  get code(): string {
    return errnoSymbol(this.errno) ?? String(this.errno);
  }
}

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
let libcHandle: ReturnType<Koffi['load']> | undefined;

function koffi(): Koffi {
  // Resolved from this file's place (dist/ of the checkout): in the startup
  // snapshot the plain `require` only knows Node's built-in modules.
  // (node:module itself is required here too: a snapshot should not hold it.)
  const { createRequire } = require('node:module') as typeof import('node:module');
  koffiModule ??= createRequire(__filename)('koffi') as Koffi;
  return koffiModule;
}

/** A libc function by its C prototype, bound on its first call. */
function bind<F extends (...args: never[]) => unknown>(prototype: string): F {
  let f: F | undefined;
  return ((...args: never[]) => {
    if (!f) {
      libcHandle ??= koffi().load('libc.so.6');
      f = libcHandle.func(prototype) as unknown as F;
    }
    return f(...args);
  }) as F;
}

const syscall = bind<(nr: number, ...args: unknown[]) => number | bigint>('long syscall(long, ...)');
const SYS_open_tree = 428;
const SYS_mount_setattr = 442;

const functions = {
  socket: bind<(domain: number, type: number, proto: number) => number>('int socket(int, int, int)'),
  socketpair: bind<(domain: number, type: number, proto: number, sv: Int32Array) => number>('int socketpair(int, int, int, _Out_ int *sv)'),
  bind: bind<(fd: number, addr: Buffer, len: number) => number>('int bind(int, void *, unsigned int)'),
  listen: bind<(fd: number, backlog: number) => number>('int listen(int, int)'),
  accept4: bind<(fd: number, addr: null, len: null, flags: number) => number>('int accept4(int, void *, void *, int)'),
  recvmsg: bind<(fd: number, msg: Buffer, flags: number) => number>('long recvmsg(int, void *, int)'),
  sendmsg: bind<(fd: number, msg: Buffer, flags: number) => number>('long sendmsg(int, void *, int)'),
  sendto: bind<(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number>('long sendto(int, void *, size_t, int, void *, uint32_t)'),
  recv: bind<(fd: number, buf: Buffer, len: number, flags: number) => number>('long recv(int, void *, size_t, int)'),
  setsockopt: bind<(fd: number, level: number, name: number, val: Buffer, len: number) => number>('int setsockopt(int, int, int, void *, uint32_t)'),
  close: bind<(fd: number) => number>('int close(int)'),
  ioctl: bind<(fd: number, req: number, arg: Buffer) => number>('int ioctl(int, unsigned long, void *)'),
  fcntl: bind<(fd: number, cmd: number, ...rest: unknown[]) => number>('int fcntl(int, int, ...)'),
  setns: bind<(fd: number, nstype: number) => number>('int setns(int, int)'),
  mount: bind<(src: string | null, target: string, type: string | null, flags: number, data: string | null) => number>(
    'int mount(const char *, const char *, const char *, unsigned long, const char *)',
  ),
  umount2: bind<(target: string, flags: number) => number>('int umount2(const char *, int)'),
  mkfifo: bind<(path: string, mode: number) => number>('int mkfifo(const char *, unsigned int)'),
  statfs: bind<(path: string, buf: Buffer) => number>('int statfs(const char *path, void *buf)'),
  syscall,
  /** open_tree(2) */
  openTree: (dfd: number, path: string, flags: number): number => Number(syscall(SYS_open_tree, 'int', dfd, 'str', path, 'uint', flags)),
  /** mount_setattr(2) with a struct mount_attr in a Buffer */
  mountSetattr: (dfd: number, path: string, flags: number, attr: Buffer, size: number): number =>
    Number(syscall(SYS_mount_setattr, 'int', dfd, 'str', path, 'uint', flags, 'void *', attr, 'size_t', size)),
  /** errno of the last koffi call on this thread. */
  errno: (): number => koffi().errno(),
  /** The address of a Buffer's memory, for pointers inside C structs. */
  address: (b: Buffer): bigint => koffi().address(b),
};

export type Libc = typeof functions;

/** The libc functions; each is bound when first called. */
export function libc(): Libc {
  return functions;
}

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const MNT_DETACH = 2;
export const CLONE_NEWNET = 0x40000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const F_GETFL = 3;
const F_SETFL = 4;
const TIOCSWINSZ = 0x5414;
// errno values (node:os is not loaded for them: it is not needed at start-up)
const ENOENT = 2;
const EINTR = 4;
const EAGAIN = 11;
const EINVAL = 22;

function check(call: string, r: number): number {
  if (r < 0) throw new SysError(call, functions.errno());
  return r;
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
  const c = functions;
  const control = Buffer.alloc(16 + 8 * Math.ceil((fds.length * 4) / 8));
  control.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0); // cmsg_len
  control.writeInt32LE(1, 8); // SOL_SOCKET
  control.writeInt32LE(1, 12); // SCM_RIGHTS
  fds.forEach((f, i) => control.writeInt32LE(f, 16 + 4 * i));
  const { msg } = msghdr(c, data, control);
  if (c.sendmsg(fd, msg, MSG_NOSIGNAL) !== data.length) {
    const errno = c.errno();
    throw new SysError('sendmsg', errno, `cannot pass file descriptors to the container init (errno ${errno})`);
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
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  return functions.ioctl(fd, TIOCSWINSZ, ws);
}

/** setWinsize that throws on failure. */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  check('ioctl(TIOCSWINSZ)', setWinsize(fd, rows, cols));
}

/** A bound, listening unix stream socket (non-blocking, close-on-exec). */
export function listenUnix(path: string): number {
  const l = functions;
  const fd = check('socket', l.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  try {
    const addr = Buffer.alloc(110); // struct sockaddr_un
    addr.writeUInt16LE(AF_UNIX, 0);
    const p = Buffer.from(path);
    if (p.length >= 108) throw new Error(`socket path too long: ${path}`);
    p.copy(addr, 2);
    check(`bind ${path}`, l.bind(fd, addr, 2 + p.length + 1));
    check('listen', l.listen(fd, 4));
    return fd;
  } catch (e) {
    l.close(fd);
    throw e;
  }
}

/** accept4 on a non-blocking listener: a connected fd, or -1 when none is waiting. */
export function tryAccept(fd: number): number {
  const l = functions;
  const r = l.accept4(fd, null, null, SOCK_CLOEXEC);
  if (r >= 0) return r;
  const err = l.errno();
  if (err === EAGAIN || err === EINTR) return -1;
  throw new SysError('accept4', err);
}

/** One fd received with SCM_RIGHTS, or -1 when nothing has arrived yet. */
export function tryReceiveFd(sock: number): number {
  const l = functions;
  const control = Buffer.alloc(64);
  const { msg } = msghdr(l, Buffer.alloc(4096), control);
  const n = l.recvmsg(sock, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    const err = l.errno();
    if (err === EAGAIN || err === EINTR) return -1;
    throw new SysError('recvmsg', err);
  }
  const fd = rightsFd(control);
  if (fd === undefined) throw new Error('no file descriptor in the console socket message');
  return fd;
}

export function closeFd(fd: number): void {
  if (fd >= 0) functions.close(fd);
}

/** Clears O_NONBLOCK on an fd (a FIFO opened without blocking, handed to a container). */
export function setBlocking(fd: number): void {
  const l = functions;
  const flags = check('fcntl(F_GETFL)', l.fcntl(fd, F_GETFL));
  if (flags & O_NONBLOCK) check('fcntl(F_SETFL)', l.fcntl(fd, F_SETFL, 'int', flags & ~O_NONBLOCK));
}

export function mount(source: string | null, target: string, type: string | null, flags: number, data: string | null): void {
  check(`mount ${type ?? ''} ${source ?? ''} on ${target}`, functions.mount(source, target, type, flags, data));
}

/** umount2; false when `target` is not a mount point (EINVAL) or is gone. */
export function umount(target: string, flags = 0): boolean {
  const l = functions;
  if (l.umount2(target, flags) === 0) return true;
  const err = l.errno();
  if (err === EINVAL || err === ENOENT) return false;
  throw new SysError(`umount ${target}`, err);
}

export function mkfifo(path: string, mode = 0o600): void {
  check(`mkfifo ${path}`, functions.mkfifo(path, mode));
}
