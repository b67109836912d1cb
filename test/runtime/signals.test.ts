import { describe, expect, it } from 'vitest';
import { parseSignal, signalName, SIGRTMAX, SIGRTMIN } from '../../src/runtime/signals';
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

describe('parseSignal', () => {
  it('accepts numbers', () => {
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('15')).toBe(15);
    expect(parseSignal('1')).toBe(1);
    expect(parseSignal('64')).toBe(64);
    expect(parseSignal('+2')).toBe(2);
  });

  it('rejects 0 and out-of-range numbers', () => {
    expect(invalidArgument(() => parseSignal('0'))).toBe('invalid signal number 0');
    expect(invalidArgument(() => parseSignal('99'))).toBe('invalid signal number 99');
    expect(invalidArgument(() => parseSignal('65'))).toBe('invalid signal number 65');
    expect(invalidArgument(() => parseSignal('-9'))).toBe('invalid signal number -9');
  });

  it('accepts names with or without SIG, in any case', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGKILL')).toBe(9);
    expect(parseSignal('sigkill')).toBe(9);
    expect(parseSignal('term')).toBe(15);
    expect(parseSignal('Hup')).toBe(1);
    expect(parseSignal('INT')).toBe(2);
    expect(parseSignal('SIGQUIT')).toBe(3);
    expect(parseSignal('usr1')).toBe(10);
    expect(parseSignal('USR2')).toBe(12);
    expect(parseSignal('CHLD')).toBe(17);
    expect(parseSignal('cont')).toBe(18);
    expect(parseSignal('STOP')).toBe(19);
    expect(parseSignal('WINCH')).toBe(28);
    expect(parseSignal('SYS')).toBe(31);
    expect(parseSignal('IOT')).toBe(6);
    expect(parseSignal('ABRT')).toBe(6);
  });

  it('accepts real-time signals', () => {
    expect(parseSignal('SIGRTMIN')).toBe(34);
    expect(parseSignal('rtmin')).toBe(34);
    expect(parseSignal('SIGRTMIN+3')).toBe(37);
    expect(parseSignal('RTMIN+3')).toBe(37);
    expect(parseSignal('rtmin+0')).toBe(34);
    expect(parseSignal('SIGRTMIN+30')).toBe(64);
    expect(parseSignal('SIGRTMAX')).toBe(64);
    expect(parseSignal('SIGRTMAX-2')).toBe(62);
    expect(parseSignal('rtmax-30')).toBe(34);
    expect(SIGRTMIN).toBe(34);
    expect(SIGRTMAX).toBe(64);
  });

  it('rejects unknown names, quoting the input as given', () => {
    expect(invalidArgument(() => parseSignal('FOO'))).toBe('unknown signal "FOO"');
    expect(invalidArgument(() => parseSignal('sigfoo'))).toBe('unknown signal "sigfoo"');
    expect(invalidArgument(() => parseSignal(''))).toBe('unknown signal ""');
    expect(invalidArgument(() => parseSignal(' 9'))).toBe('unknown signal " 9"');
    expect(invalidArgument(() => parseSignal('SIGRTMIN+31'))).toBe('unknown signal "SIGRTMIN+31"');
    expect(invalidArgument(() => parseSignal('SIGRTMIN-1'))).toBe('unknown signal "SIGRTMIN-1"');
    expect(invalidArgument(() => parseSignal('SIGRTMAX+1'))).toBe('unknown signal "SIGRTMAX+1"');
    expect(invalidArgument(() => parseSignal('RTMAX-31'))).toBe('unknown signal "RTMAX-31"');
    expect(invalidArgument(() => parseSignal('constructor'))).toBe('unknown signal "constructor"');
    expect(invalidArgument(() => parseSignal('SIG'))).toBe('unknown signal "SIG"');
  });
});

describe('signalName', () => {
  it('names standard signals by their usual name', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(29)).toBe('SIGIO');
    expect(signalName(31)).toBe('SIGSYS');
  });

  it('names real-time signals as kill -l does', () => {
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(35)).toBe('SIGRTMIN+1');
    expect(signalName(49)).toBe('SIGRTMIN+15');
    expect(signalName(50)).toBe('SIGRTMAX-14');
    expect(signalName(63)).toBe('SIGRTMAX-1');
    expect(signalName(64)).toBe('SIGRTMAX');
  });

  it('falls back to a number and rejects out-of-range values', () => {
    expect(signalName(32)).toBe('SIG32');
    expect(invalidArgument(() => signalName(0))).toBe('invalid signal number 0');
    expect(invalidArgument(() => signalName(65))).toBe('invalid signal number 65');
  });

  it('round-trips with parseSignal', () => {
    for (let n = 1; n <= 64; n++) {
      if (n === 32 || n === 33) continue;
      expect(parseSignal(signalName(n))).toBe(n);
    }
  });
});
