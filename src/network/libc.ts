// The few libc calls networking needs and Node lacks (netlink sockets,
// setns, flock), through koffi, loaded on first use only: commands that do
// not touch networking never load the native module.
import { constants as osConstants } from 'node:os';

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
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  cached = {
    socket: lib.func('int socket(int, int, int)') as NetLibc['socket'],
    sendto: lib.func('long sendto(int, void *, size_t, int, void *, uint32_t)') as NetLibc['sendto'],
    recv: lib.func('long recv(int, void *, size_t, int)') as NetLibc['recv'],
    setsockopt: lib.func('int setsockopt(int, int, int, void *, uint32_t)') as NetLibc['setsockopt'],
    close: lib.func('int close(int)') as NetLibc['close'],
    setns: lib.func('int setns(int, int)') as NetLibc['setns'],
    flock: lib.func('int flock(int, int)') as NetLibc['flock'],
    errno: () => koffi.errno(),
  };
  return cached;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const CLONE_NEWNET = 0x40000000;
