// Memory sizes as runc and docker write them ("512m", "1g"), for the
// update command's flags and the jail's --memory.
import { InvalidArgumentError } from '../errors';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** A memory size as runc (docker/go-units RAMInBytes) takes it: "512m",
 * "1g", "1.5GiB", "100kb", "1024"; binary multiples. "-1" means unlimited. */
export function parseMemoryBytes(text: string): number {
  const s = text.trim();
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?(?:([kmgtp])(i)?)?(b)?$/i.exec(s);
  if (!m) throw new InvalidArgumentError(`invalid size: ${JSON.stringify(text)}`);
  const n = Math.trunc(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`invalid size: ${JSON.stringify(text)} is too large`);
  return n;
}
