import { describe, expect, it } from 'vitest';
import { MAX_CONTAINER_ID_LENGTH, validateContainerId } from '../../src/runtime/id';
import { InvalidArgumentError } from '../../src/errors';

function invalidArgument(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('validateContainerId', () => {
  it('accepts ids made of the allowed characters', () => {
    for (const id of ['a', 'myid', 'A-Z_0.9+x', '...', '.a', 'a..', '-', '+', 'x'.repeat(MAX_CONTAINER_ID_LENGTH)]) {
      expect(() => validateContainerId(id), id).not.toThrow();
    }
  });

  it('rejects other characters', () => {
    expect(invalidArgument(() => validateContainerId('a/b'))).toBe(
      'invalid container id "a/b": may only contain letters, digits, "_", "+", "-" and "."',
    );
    for (const id of ['a b', 'a\n', '\na', 'é', 'a:b', 'a\0', '../x', 'a*']) {
      expect(invalidArgument(() => validateContainerId(id))).toContain('may only contain');
    }
  });

  it('rejects empty, "." and ".."', () => {
    expect(invalidArgument(() => validateContainerId(''))).toBe('invalid container id "": must not be empty');
    expect(invalidArgument(() => validateContainerId('.'))).toBe('invalid container id ".": must not be "." or ".."');
    expect(invalidArgument(() => validateContainerId('..'))).toBe('invalid container id "..": must not be "." or ".."');
  });

  it('rejects ids longer than 1024 characters', () => {
    expect(MAX_CONTAINER_ID_LENGTH).toBe(1024);
    const msg = invalidArgument(() => validateContainerId('y'.repeat(1025)));
    expect(msg).toBe(`invalid container id "${'y'.repeat(64)}...": longer than 1024 characters (1025)`);
  });
});
