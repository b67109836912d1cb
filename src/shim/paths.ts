// Where the shim keeps things. One warm shim serves every container of a
// (containerd, namespace) pair; it is found by a key derived from both:
//   <base>/.s/<key>.sock  its ttrpc socket (the address containerd gets;
//                         the same across shim restarts)
//   <base>/.s/<ns>@<address with / as _>.pid
//                         "<pid> <start time> <socket>", then the address and
//                         the namespace on their own lines: what the launcher
//                         reads to skip Node entirely on `start` (a name it
//                         can compute with shell builtins alone)
//   <base>/.s/<key>.hint  a FIFO the launcher writes "<bundle>\t<id>" to on
//                         `start`, so the shim can prepare before Create
//   <base>/.s/<key>.lock  held while a shim is being started
//   <base>/.s/<key>.log   the shim's log
//   <base>/<namespace>/   tsrun's state root for the namespace's containers
// (containerd namespaces start with a letter or digit, so ".s" is ours).
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const DEFAULT_BASE = '/run/tsrun-shim';

export function baseDir(): string {
  return process.env.TSRUN_SHIM_STATE || DEFAULT_BASE;
}

/** 128 bits of sha256 over the address and the namespace: short enough for
 * a socket path (108 bytes) under a longish TSRUN_SHIM_STATE. */
export function shimKey(address: string, namespace: string): string {
  return createHash('sha256').update(`${address}\n${namespace}\n`).digest('hex').slice(0, 32);
}

/** The pid file's name: no hashing, so that the launcher needs no process to compute it. */
export function pidFileName(address: string, namespace: string): string {
  return `${namespace}@${address.replace(/\//g, '_')}.pid`;
}

export interface ShimPaths {
  dir: string;
  socket: string;
  pidFile: string;
  lock: string;
  hint: string;
  log: string;
  stateRoot: string;
}

export function shimPaths(address: string, namespace: string, base = baseDir()): ShimPaths {
  const key = shimKey(address, namespace);
  const dir = join(base, '.s');
  return {
    dir,
    socket: join(dir, `${key}.sock`),
    pidFile: join(dir, pidFileName(address, namespace)),
    lock: join(dir, `${key}.lock`),
    hint: join(dir, `${key}.hint`),
    log: join(dir, `${key}.log`),
    stateRoot: join(base, namespace),
  };
}
