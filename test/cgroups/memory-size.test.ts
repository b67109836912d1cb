import { describe, expect, it } from 'vitest';
import { parseMemoryBytes } from '../../src/cgroups/memory-size';
import { InvalidArgumentError } from '../../src/errors';

describe('parseMemoryBytes', () => {
  it('accepts runc units (binary multiples)', () => {
    expect(parseMemoryBytes('1024')).toBe(1024);
    expect(parseMemoryBytes('512m')).toBe(512 * 1024 ** 2);
    expect(parseMemoryBytes('512M')).toBe(512 * 1024 ** 2);
    expect(parseMemoryBytes('1g')).toBe(1024 ** 3);
    expect(parseMemoryBytes('1GiB')).toBe(1024 ** 3);
    expect(parseMemoryBytes('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseMemoryBytes('100kb')).toBe(102400);
    expect(parseMemoryBytes('64 MB')).toBe(64 * 1024 ** 2);
    expect(parseMemoryBytes('10b')).toBe(10);
    expect(parseMemoryBytes('-1')).toBe(-1);
  });

  it('rejects garbage', () => {
    for (const s of ['', 'abc', '-2', '1x', '1.2.3g', 'm']) expect(() => parseMemoryBytes(s), s).toThrow(InvalidArgumentError);
  });
});
