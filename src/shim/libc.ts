// The few libc calls Node lacks, through koffi: a listening unix socket and
// SCM_RIGHTS for console sockets, TIOCSWINSZ, mount/umount2 for the rootfs,
// fcntl for FIFO flags. Loaded on first use.
import { caddress, cerrno, cfunc, msghdr, rightsFd, setWinsize } from '../runtime/libc';
import { constants } from 'node:os';
import { errnoName, errnoSymbol } from '../errors';

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
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
  const control = Buffer.alloc(64);
  const { msg } = msghdr(l, Buffer.alloc(4096), control);
  const n = l.recvmsg(sock, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    const err = l.errno();
    if (err === constants.errno.EAGAIN || err === constants.errno.EINTR) return -1;
    throw new SysError('recvmsg', err);
  }
  const fd = rightsFd(control);
  if (fd === undefined) throw new Error('no file descriptor in the console socket message');
  return fd;
}

export function closeFd(fd: number): void {
  if (fd >= 0) lib().close(fd);
}

export function setWindowSize(fd: number, rows: number, cols: number): void {
  check('ioctl(TIOCSWINSZ)', setWinsize(fd, rows, cols));
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
