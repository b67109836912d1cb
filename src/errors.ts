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

/** Bad command-line usage: unknown flag, missing argument, bad value. */
export class UsageError extends TsrunError {
  override name = 'UsageError';
}

/** The container does not exist. */
export class NotFoundError extends TsrunError {
  override name = 'NotFoundError';
}

/** The operation is not allowed in the container's current state, or the id is taken. */
export class StateError extends TsrunError {
  override name = 'StateError';
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
