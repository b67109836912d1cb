// Container id rules, as runc's libcontainer enforces them (plus a length limit).

import { InvalidArgumentError } from '../errors';

export const MAX_CONTAINER_ID_LENGTH = 1024;

const ID_RE = /^[A-Za-z0-9_+.-]+$/;

function quote(id: string): string {
  return JSON.stringify(id.length > 64 ? id.slice(0, 64) + '...' : id);
}

/**
 * Throws InvalidArgumentError unless `id` is usable as a container id: 1..1024 characters from
 * [A-Za-z0-9_+.-], and neither "." nor "..".
 */
export function validateContainerId(id: string): void {
  if (id.length === 0) throw new InvalidArgumentError('invalid container id "": must not be empty');
  if (!ID_RE.test(id)) {
    throw new InvalidArgumentError(
      `invalid container id ${quote(id)}: may only contain letters, digits, "_", "+", "-" and "."`,
    );
  }
  if (id === '.' || id === '..') throw new InvalidArgumentError(`invalid container id ${quote(id)}: must not be "." or ".."`);
  if (id.length > MAX_CONTAINER_ID_LENGTH) {
    throw new InvalidArgumentError(
      `invalid container id ${quote(id)}: longer than ${MAX_CONTAINER_ID_LENGTH} characters (${id.length})`,
    );
  }
}
