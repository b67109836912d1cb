// The few libc calls networking needs and Node lacks (netlink sockets,
// setns, flock), through koffi, loaded on first use only: commands that do
// not touch networking never load the native module.
import { cerrno, cfunc } from '../runtime/libc';

export interface NetLibc {
  socket: (domain: number, type: number, proto: number) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
  recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  close: (fd: number) => number;
  setns: (fd: number, nstype: number) => number;
  flock: (fd: number, op: number) => number;
  errno: () => number;
}

let cached: NetLibc | undefined;

export function netLibc(): NetLibc {
  if (cached) return cached;
  cached = {
    socket: cfunc<NetLibc['socket']>('int socket(int, int, int)'),
    sendto: cfunc<NetLibc['sendto']>('long sendto(int, void *, size_t, int, void *, uint32_t)'),
    recv: cfunc<NetLibc['recv']>('long recv(int, void *, size_t, int)'),
    setsockopt: cfunc<NetLibc['setsockopt']>('int setsockopt(int, int, int, void *, uint32_t)'),
    close: cfunc<NetLibc['close']>('int close(int)'),
    setns: cfunc<NetLibc['setns']>('int setns(int, int)'),
    flock: cfunc<NetLibc['flock']>('int flock(int, int)'),
    errno: cerrno,
  };
  return cached;
}

export { errnoName } from '../errors';

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const CLONE_NEWNET = 0x40000000;
