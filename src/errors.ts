// Typed errors: the library never exits the process; the CLI turns these into one line on stderr.

export class TsrunError extends Error {
  override name = 'TsrunError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** config.json (or another input document) is malformed or invalid. */
export class ConfigError extends TsrunError {
  override name = 'ConfigError';
}

/** An argument the caller passed is malformed or unusable: a container id,
 * a signal, a --publish spec, a setting of the process to exec. The CLI
 * treats it as a usage error (exec then exits 1, not 255). */
export class InvalidArgumentError extends TsrunError {
  override name = 'InvalidArgumentError';
}

/** The container does not exist. */
export class NotFoundError extends TsrunError {
  override name = 'NotFoundError';
}

/** The operation is not allowed in the container's current state, or the id is taken. */
export class StateError extends TsrunError {
  override name = 'StateError';
}

/** A state directory or file another user could have planted or could
 * change (wrong owner, group/other-writable, a symbolic link): not used. */
export class UnsafePathError extends TsrunError {
  override name = 'UnsafePathError';
}

/** A step of the native init failed; `step` names it, `errno` is the kernel's answer. */
export class InitError extends TsrunError {
  override name = 'InitError';
  constructor(
    message: string,
    readonly step: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

/** A lifecycle hook failed or timed out. */
export class HookError extends TsrunError {
  override name = 'HookError';
}

let errnoSymbols: Map<number, string> | undefined;

/** The symbolic name of an errno ("EPERM"), or undefined for an unknown number. */
export function errnoSymbol(errno: number): string | undefined {
  if (!errnoSymbols) {
    errnoSymbols = new Map();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { constants } = require('node:os') as typeof import('node:os');
    // First name wins where two share a number (EAGAIN over EWOULDBLOCK).
    for (const [name, n] of Object.entries(constants.errno)) if (!errnoSymbols.has(n)) errnoSymbols.set(n, name);
  }
  return errnoSymbols.get(errno);
}

/** "EPERM", or "errno 1234" for a number the platform does not name. */
export function errnoName(errno: number): string {
  return errnoSymbol(errno) ?? `errno ${errno}`;
}

/** "no such file or directory (ENOENT)" for an errno number or its symbol. */
export function errnoText(errno: number | string): string {
  const name = typeof errno === 'number' ? errnoName(errno) : errno;
  const desc = ERRNO_DESCRIPTIONS[name];
  return desc ? `${desc} (${name})` : name;
}

const ERRNO_DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EACCES: 'permission denied',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  EBUSY: 'device or resource busy',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENODEV: 'no such device',
  EXDEV: 'cross-device link',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ETIMEDOUT: 'timed out',
  ENOSYS: 'not implemented by this kernel',
  ENOEXEC: 'exec format error',
};
