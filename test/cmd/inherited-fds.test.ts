import { describe, expect, it } from 'vitest';
import { checkPreserveFds, inheritedFdsFromEnv } from '../../cmd/inherited-fds';

describe('--preserve-fds against the fds the caller passed', () => {
  it('reads the launcher\'s count once and removes it from the environment', () => {
    const env: NodeJS.ProcessEnv = { TSRUN_INHERITED_FDS: '2' };
    expect(inheritedFdsFromEnv(env)).toBe(2);
    expect(env).toEqual({});
    expect(inheritedFdsFromEnv({})).toBeUndefined();
    expect(inheritedFdsFromEnv({ TSRUN_INHERITED_FDS: 'x' })).toBeUndefined();
  });

  it('allows up to what was passed, and refuses more with one clear line', () => {
    expect(() => checkPreserveFds(0, undefined)).not.toThrow();
    expect(() => checkPreserveFds(2, 2)).not.toThrow();
    expect(() => checkPreserveFds(1, 0)).toThrow('--preserve-fds 1 asks to pass on fd 3, but fd 3 was not passed to tsrun');
    expect(() => checkPreserveFds(10, 0)).toThrow('--preserve-fds 10 asks to pass on fds 3-12, but fd 3 was not passed to tsrun');
    expect(() => checkPreserveFds(3, 2)).toThrow('--preserve-fds 3 asks to pass on fds 3-5, but fd 5 was not passed to tsrun');
    expect(() => checkPreserveFds(1, undefined)).toThrow(/cannot tell which file descriptors its caller passed/);
  });
});
