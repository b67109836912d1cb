// Signal names and numbers as `runc kill` understands them (Linux numbering).

import { constants } from 'node:os';
import { InvalidArgumentError } from '../errors';

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Names that are aliases of another signal's number; signalName() never returns them. */
const ALIASES = new Set(['SIGIOT', 'SIGPOLL']);

const BY_NAME: Readonly<Record<string, number>> = constants.signals;

function checkNumber(n: number, min = 1): number {
  if (!Number.isInteger(n) || n < min || n > SIGRTMAX) throw new InvalidArgumentError(`invalid signal number ${n}`);
  return n;
}

/**
 * Parse a signal given as a number ("9") or a name with or without the SIG prefix, in any case
 * ("KILL", "SIGKILL", "term", "SIGRTMIN+3", "rtmax-2"). Valid numbers are 1..64, and 0 with
 * allowZero (`kill <id> 0` only checks that the init is there, as with runc).
 */
export function parseSignal(s: string, opts: { allowZero?: boolean } = {}): number {
  if (/^[+-]?[0-9]+$/.test(s)) return checkNumber(Number(s), opts.allowZero ? 0 : 1);

  let name = s.toUpperCase();
  if (!name.startsWith('SIG')) name = 'SIG' + name;

  const rt = /^SIGRT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (rt !== null) {
    const fromMin = rt[1] === 'MIN';
    const sign = rt[2];
    const off = rt[3] === undefined ? 0 : Number(rt[3]);
    // SIGRTMIN only counts up and SIGRTMAX only counts down.
    let n = NaN;
    if (sign === undefined) n = fromMin ? SIGRTMIN : SIGRTMAX;
    else if (fromMin && sign === '+') n = SIGRTMIN + off;
    else if (!fromMin && sign === '-') n = SIGRTMAX - off;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    throw new InvalidArgumentError(`unknown signal ${JSON.stringify(s)}`);
  }

  if (Object.hasOwn(BY_NAME, name)) {
    const n = BY_NAME[name];
    if (typeof n === 'number' && n >= 1 && n < SIGRTMIN) return n;
  }
  throw new InvalidArgumentError(`unknown signal ${JSON.stringify(s)}`);
}

/**
 * The usual name of a signal number: "SIGKILL", "SIGRTMIN+3", "SIGRTMAX-2" (as `kill -l` prints
 * them), or "SIG32" for a number without a name. Throws InvalidArgumentError outside 1..64.
 */
export function signalName(n: number): string {
  checkNumber(n);
  if (n >= SIGRTMIN) {
    if (n === SIGRTMIN) return 'SIGRTMIN';
    if (n === SIGRTMAX) return 'SIGRTMAX';
    const mid = (SIGRTMIN + SIGRTMAX) / 2; // 49: up to it count from RTMIN, above it from RTMAX
    return n <= mid ? `SIGRTMIN+${n - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - n}`;
  }
  for (const [name, num] of Object.entries(BY_NAME)) {
    if (num === n && !ALIASES.has(name)) return name;
  }
  return `SIG${n}`;
}
