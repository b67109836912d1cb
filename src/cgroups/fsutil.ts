// Small helpers for reading and writing cgroup interface files. A cgroup file
// takes one value per write(2); errors come back from the write itself, so each
// value gets its own open/write/close and a message naming file and value.
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, TsrunError } from '../errors';

/** A cgroup operation failed for a reason other than bad configuration
 * (a freeze that never completes, an unreadable stats file). */
export class CgroupError extends TsrunError {
  override name = 'CgroupError';
}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ERANGE: 'Numerical result out of range',
  ENOTSUP: 'Operation not supported',
  EOPNOTSUPP: 'Operation not supported',
  ENOTEMPTY: 'Directory not empty',
};

/** The C library's text for a Node errno code ("EBUSY" → "Device or resource busy"). */
export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && STRERROR[code]) return STRERROR[code];
  if (code) return code;
  return e instanceof Error ? e.message : String(e);
}

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Writes one value to a cgroup file (O_WRONLY|O_TRUNC, never O_CREAT: a
 * missing knob is an error, not a new file). Throws the raw Node error. */
export function writeRaw(dir: string, file: string, value: string): void {
  const fd = openSync(join(dir, file), constants.O_WRONLY | constants.O_TRUNC);
  try {
    writeAll(fd, file, value);
  } finally {
    closeSync(fd);
  }
}

/** Several values to one cgroup file through one open: the kernel takes
 * each write(2) as one value (v1 devices.allow takes one rule a write),
 * each written as a line (the kernel strips the newline). */
export function writeValues(dir: string, file: string, values: readonly string[]): void {
  let fd: number;
  try {
    fd = openSync(join(dir, file), constants.O_WRONLY | constants.O_TRUNC);
  } catch (e) {
    throw new ConfigError(`cgroup: cannot set ${file} to ${values[0]}: ${strerror(e)}`, { cause: e });
  }
  try {
    for (const value of values) {
      try {
        writeAll(fd, file, `${value}\n`);
      } catch (e) {
        throw new ConfigError(`cgroup: cannot set ${file} to ${value}: ${strerror(e)}`, { cause: e });
      }
    }
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, file: string, value: string): void {
  const buf = Buffer.from(value);
  const n = writeSync(fd, buf, 0, buf.length);
  if (n !== buf.length) {
    const err: NodeJS.ErrnoException = new Error(`short write to ${file}`);
    err.code = 'EIO';
    throw err;
  }
}

/** Writes one value; failures become ConfigError("cgroup: cannot set FILE to VALUE: REASON"). */
export function writeValue(dir: string, file: string, value: string, extra?: (e: unknown) => string | undefined): void {
  try {
    writeRaw(dir, file, value);
  } catch (e) {
    const more = extra?.(e);
    throw new ConfigError(`cgroup: cannot set ${file} to ${value}: ${strerror(e)}${more ? ` (${more})` : ''}`, { cause: e });
  }
}

export function fileExists(dir: string, file: string): boolean {
  return existsSync(join(dir, file));
}

/** The file's text, or undefined if it does not exist (or the cgroup is gone). */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined;
    throw new CgroupError(`cgroup: cannot read ${join(dir, file)}: ${strerror(e)}`, { cause: e });
  }
}

/** 2^64: stands for "max"/unlimited in uint64 counters (2^64-1 is not a JS number). */
export const U64_MAX = 2 ** 64;

/** Parses a cgroup number; "max" (and -1) become U64_MAX like runc's GetCgroupParamUint. */
export function parseU64(text: string): number {
  const s = text.trim();
  if (s === 'max') return U64_MAX;
  if (/^-\d+$/.test(s)) return 0;
  if (!/^\d+$/.test(s)) throw new CgroupError(`cgroup: cannot parse ${JSON.stringify(s)} as a number`);
  return Number(s);
}

/** Reads a single-number file; undefined if the file is absent. */
export function readU64(dir: string, file: string): number | undefined {
  const t = readOptional(dir, file);
  if (t === undefined) return undefined;
  try {
    return parseU64(t);
  } catch (e) {
    throw new CgroupError(`cgroup: ${join(dir, file)}: ${(e as Error).message}`);
  }
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, flat-keyed files). */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2 || !parts[0]) continue;
    const v = parts[1]!;
    if (v === 'max') out[parts[0]] = U64_MAX;
    else if (/^-?\d+$/.test(v)) out[parts[0]] = Math.max(0, Number(v));
  }
  return out;
}

/** Blocks the thread for ms milliseconds (no timers needed by synchronous callers). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** JSON.stringify that prints integers beyond 2^53 exactly (as Go's uint64 would),
 * with U64_MAX as 18446744073709551615. For `runc events` output. */
export function jsonStringifyU64(value: unknown): string {
  const enc = (v: unknown): string | undefined => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'number':
        if (!Number.isFinite(v)) return 'null';
        if (Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER) {
          if (v >= U64_MAX) return '18446744073709551615';
          return BigInt(v).toString();
        }
        return JSON.stringify(v);
      case 'string':
      case 'boolean':
        return JSON.stringify(v);
      case 'bigint':
        return v.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
      default:
        break;
    }
    if (Array.isArray(v)) return `[${v.map((x) => enc(x) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const s = enc(x);
      if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
    }
    return `{${parts.join(',')}}`;
  };
  return enc(value) ?? 'null';
}
