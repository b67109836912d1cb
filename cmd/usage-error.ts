import { TsrunError } from '../src/errors';

/** Bad command-line usage: unknown flag, missing argument, bad value. */
export class UsageError extends TsrunError {
  override name = 'UsageError';
}
