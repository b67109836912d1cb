// The few libc calls Node lacks, through koffi: a listening unix socket and
// SCM_RIGHTS for console sockets, TIOCSWINSZ, mount/umount2 for the rootfs,
// fcntl for FIFO flags. Loaded on first use.
import { caddress, cerrno, cfunc } from '../runtime/libc';
import { constants } from 'node:os';
import { errnoName, errnoSymbol } from '../errors';

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const TIOCSWINSZ = 0x5414;
const F_GETFL = 3;
const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const MNT_DETACH = 2;

interface Fns {
  socket: (domain: number, type: number, proto: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  listen: (fd: number, backlog: number) => number;
  accept4: (fd: number, addr: null, len: null, flags: number) => number;
  recvmsg: (fd: number, msg: Buffer, flags: number) => number;
  close: (fd: number) => number;
  ioctl: (fd: number, req: number, arg: Buffer) => number;
  fcntl: (fd: number, cmd: number, ...rest: unknown[]) => number;
  mount: (src: string | null, target: string, type: string | null, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
  mkfifo: (path: string, mode: number) => number;
  errno: () => number;
  address: (b: Buffer) => bigint;
}

let fns: Fns | undefined;

function lib(): Fns {
  if (fns) return fns;
  fns = {
    socket: cfunc<Fns['socket']>('int socket(int, int, int)'),
    bind: cfunc<Fns['bind']>('int bind(int, void *, unsigned int)'),
    listen: cfunc<Fns['listen']>('int listen(int, int)'),
    accept4: cfunc<Fns['accept4']>('int accept4(int, void *, void *, int)'),
    recvmsg: cfunc<Fns['recvmsg']>('long recvmsg(int, void *, int)'),
    close: cfunc<Fns['close']>('int close(int)'),
    ioctl: cfunc<Fns['ioctl']>('int ioctl(int, unsigned long, void *)'),
    fcntl: cfunc<Fns['fcntl']>('int fcntl(int, int, ...)'),
    mount: cfunc<Fns['mount']>('int mount(const char *, const char *, const char *, unsigned long, const char *)'),
    umount2: cfunc<Fns['umount2']>('int umount2(const char *, int)'),
    mkfifo: cfunc<Fns['mkfifo']>('int mkfifo(const char *, unsigned int)'),
    errno: cerrno,
    address: caddress,
  };
  return fns;
}


export class SysError extends Error {
  override name = 'SysError';
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)}`);
  }
  get code(): string {
    return errnoSymbol(this.errno) ?? String(this.errno);
  }
}

function check(call: string, r: number): number {
  if (r < 0) throw new SysError(call, lib().errno());
  return r;
}

/** A bound, listening unix stream socket (non-blocking, close-on-exec). */
export function listenUnix(path: string): number {
  const l = lib();
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
  const l = lib();
  const r = l.accept4(fd, null, null, SOCK_CLOEXEC);
  if (r >= 0) return r;
  const err = l.errno();
  if (err === constants.errno.EAGAIN || err === constants.errno.EINTR) return -1;
  throw new SysError('accept4', err);
}

/** One fd received with SCM_RIGHTS, or -1 when nothing has arrived yet. */
export function tryReceiveFd(sock: number): number {
  const l = lib();
  const data = Buffer.alloc(4096);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(l.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const control = Buffer.alloc(64);
  const msg = Buffer.alloc(56); // struct msghdr on 64-bit Linux
  msg.writeBigUInt64LE(l.address(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(l.address(control), 32);
  msg.writeBigUInt64LE(BigInt(control.length), 40);
  const n = l.recvmsg(sock, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    const err = l.errno();
    if (err === constants.errno.EAGAIN || err === constants.errno.EINTR) return -1;
    throw new SysError('recvmsg', err);
  }
  // struct cmsghdr: u64 len, i32 level, i32 type, then the fds
  if (control.readBigUInt64LE(0) === 0n || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
    throw new Error('no file descriptor in the console socket message');
  }
  return control.readInt32LE(16);
}

export function closeFd(fd: number): void {
  if (fd >= 0) lib().close(fd);
}

export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check('ioctl(TIOCSWINSZ)', lib().ioctl(fd, TIOCSWINSZ, ws));
}

/** Clears O_NONBLOCK on an fd (a FIFO opened without blocking, handed to a container). */
export function setBlocking(fd: number): void {
  const l = lib();
  const flags = check('fcntl(F_GETFL)', l.fcntl(fd, F_GETFL));
  if (flags & O_NONBLOCK) check('fcntl(F_SETFL)', l.fcntl(fd, F_SETFL, 'int', flags & ~O_NONBLOCK));
}

export function mount(source: string | null, target: string, type: string | null, flags: number, data: string | null): void {
  check(`mount ${type ?? ''} ${source ?? ''} on ${target}`, lib().mount(source, target, type, flags, data));
}

/** umount2; false when `target` is not a mount point (EINVAL) or is gone. */
export function umount(target: string, flags = 0): boolean {
  const l = lib();
  if (l.umount2(target, flags) === 0) return true;
  const err = l.errno();
  if (err === constants.errno.EINVAL || err === constants.errno.ENOENT) return false;
  throw new SysError(`umount ${target}`, err);
}

export function mkfifo(path: string, mode = 0o600): void {
  check(`mkfifo ${path}`, lib().mkfifo(path, mode));
}
