import { describe, expect, it } from 'vitest';
import {
  type FlagDef,
  formatHelp,
  getBool,
  getInt,
  getString,
  getStrings,
  parseArgs,
  splitGlobal,
} from '../../cmd/args';
import { UsageError } from '../../cmd/usage-error';

const createFlags: FlagDef[] = [
  { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory' },
  { name: 'console-socket', kind: 'string', usage: 'path to an AF_UNIX socket' },
  { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' },
  { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root' },
  { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach from the container' },
  { name: 'preserve-fds', kind: 'int', usage: 'pass N additional file descriptors' },
  { name: 'env', alias: ['e'], kind: 'strings', usage: 'set environment variables' },
  { name: 'tty', alias: ['t'], kind: 'bool', usage: 'allocate a pseudo-TTY' },
];

const I = { interspersed: true };
const N = { interspersed: false };

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('fills defaults by kind when nothing is given', () => {
    const r = parseArgs([], createFlags, I);
    expect(r.flags).toEqual({
      bundle: '',
      'console-socket': '',
      'pid-file': '',
      'no-pivot': false,
      detach: false,
      'preserve-fds': 0,
      env: [],
      tty: false,
    });
    expect(r.positional).toEqual([]);
    expect(r.seen.size).toBe(0);
  });

  it('uses explicit defaults', () => {
    const defs: FlagDef[] = [
      { name: 'root', kind: 'string', usage: '', default: '/run/tsrun' },
      { name: 'n', kind: 'int', usage: '', default: 7 },
      { name: 'l', kind: 'strings', usage: '', default: ['x'] },
      { name: 'on', kind: 'bool', usage: '', default: true },
    ];
    const r = parseArgs([], defs, I);
    expect(r.flags).toEqual({ root: '/run/tsrun', n: 7, l: ['x'], on: true });
    // the default list is replaced, not appended to, and not shared
    const r2 = parseArgs(['-l', 'y', '-l', 'z'], defs, I);
    expect(r2.flags['l']).toEqual(['y', 'z']);
    expect(defs[2]!.default).toEqual(['x']);
  });

  it('accepts every spelling of a valued flag', () => {
    for (const argv of [
      ['--bundle', '/b'],
      ['--bundle=/b'],
      ['-bundle', '/b'],
      ['-bundle=/b'],
      ['-b', '/b'],
      ['-b=/b'],
      ['--b', '/b'],
    ]) {
      const r = parseArgs(argv, createFlags, I);
      expect(r.flags['bundle'], argv.join(' ')).toBe('/b');
      expect([...r.seen]).toEqual(['bundle']);
    }
  });

  it('keeps "=" and dashes inside values', () => {
    expect(parseArgs(['--bundle=a=b'], createFlags, I).flags['bundle']).toBe('a=b');
    expect(parseArgs(['--bundle='], createFlags, I).flags['bundle']).toBe('');
    // a valued flag takes the next argument even if it starts with a dash (Go's flag package does)
    expect(parseArgs(['--bundle', '-x'], createFlags, I).flags['bundle']).toBe('-x');
    expect(parseArgs(['--bundle', '--'], createFlags, I).flags['bundle']).toBe('--');
  });

  it('parses bool flags without consuming the next argument', () => {
    const r = parseArgs(['--detach', 'true'], createFlags, I);
    expect(r.flags['detach']).toBe(true);
    expect(r.positional).toEqual(['true']);
    expect(parseArgs(['-d'], createFlags, I).flags['detach']).toBe(true);
    expect(parseArgs(['--detach=false'], createFlags, I).flags['detach']).toBe(false);
    expect(parseArgs(['-detach=true'], createFlags, I).flags['detach']).toBe(true);
    expect(parseArgs(['--detach=0'], createFlags, I).flags['detach']).toBe(false);
    expect(parseArgs(['--detach=T'], createFlags, I).flags['detach']).toBe(true);
    expect(parseArgs(['-d', '--detach=False'], createFlags, I).flags['detach']).toBe(false);
  });

  it('rejects bad bool values', () => {
    expect(usageError(() => parseArgs(['--detach=yes'], createFlags, I))).toBe(
      'invalid boolean value "yes" for -detach: parse error',
    );
    expect(usageError(() => parseArgs(['-d='], createFlags, I))).toBe('invalid boolean value "" for -d: parse error');
  });

  it('parses int flags like strconv.ParseInt(s, 0, 64)', () => {
    const v = (s: string) => parseArgs(['--preserve-fds', s], createFlags, I).flags['preserve-fds'];
    expect(v('3')).toBe(3);
    expect(v('-2')).toBe(-2);
    expect(v('+4')).toBe(4);
    expect(v('0')).toBe(0);
    expect(v('0x10')).toBe(16);
    expect(v('010')).toBe(8);
    expect(v('0o17')).toBe(15);
    expect(v('0b101')).toBe(5);
    expect(parseArgs(['-preserve-fds=12'], createFlags, I).flags['preserve-fds']).toBe(12);
  });

  it('rejects bad int values with Go wording', () => {
    expect(usageError(() => parseArgs(['--preserve-fds', 'x'], createFlags, I))).toBe(
      'invalid value "x" for flag -preserve-fds: parse error',
    );
    for (const bad of ['', '1.5', '08', '0x', ' 1', '1e3', '--1']) {
      expect(usageError(() => parseArgs([`--preserve-fds=${bad}`], createFlags, I))).toBe(
        `invalid value ${JSON.stringify(bad)} for flag -preserve-fds: parse error`,
      );
    }
    expect(usageError(() => parseArgs(['--preserve-fds=99999999999999999999'], createFlags, I))).toBe(
      'invalid value "99999999999999999999" for flag -preserve-fds: value out of range',
    );
  });

  it('repeats strings flags in order, across aliases', () => {
    const r = parseArgs(['-e', 'A=1', '--env=B=2', '-env', 'C=3'], createFlags, I);
    expect(r.flags['env']).toEqual(['A=1', 'B=2', 'C=3']);
  });

  it('lets a later scalar value win', () => {
    expect(parseArgs(['-b', '/x', '--bundle', '/y'], createFlags, I).flags['bundle']).toBe('/y');
  });

  it('reports unknown flags like Go', () => {
    expect(usageError(() => parseArgs(['--foo'], createFlags, I))).toBe('flag provided but not defined: -foo');
    expect(usageError(() => parseArgs(['-foo=bar'], createFlags, I))).toBe('flag provided but not defined: -foo');
    // one-letter flags cannot be grouped
    expect(usageError(() => parseArgs(['-dt'], createFlags, I))).toBe('flag provided but not defined: -dt');
  });

  it('reports a missing value', () => {
    expect(usageError(() => parseArgs(['myid', '--bundle'], createFlags, I))).toBe('flag needs an argument: -bundle');
    expect(usageError(() => parseArgs(['-b'], createFlags, I))).toBe('flag needs an argument: -b');
  });

  it('reports bad flag syntax', () => {
    expect(usageError(() => parseArgs(['---x'], createFlags, I))).toBe('bad flag syntax: ---x');
    expect(usageError(() => parseArgs(['-=x'], createFlags, I))).toBe('bad flag syntax: -=x');
    expect(usageError(() => parseArgs(['--=x'], createFlags, I))).toBe('bad flag syntax: --=x');
  });

  it('treats "-" and "" as positional', () => {
    expect(parseArgs(['-', '', '-d'], createFlags, I)).toMatchObject({ positional: ['-', ''] });
  });

  it('interspersed: flags after positional arguments', () => {
    const r = parseArgs(['myid', '--bundle', '/b', '-d', 'extra', '--pid-file=/p'], createFlags, I);
    expect(r.positional).toEqual(['myid', 'extra']);
    expect(r.flags['bundle']).toBe('/b');
    expect(r.flags['detach']).toBe(true);
    expect(r.flags['pid-file']).toBe('/p');
    expect(r.seen).toEqual(new Set(['bundle', 'detach', 'pid-file']));
  });

  it('"--" ends flag parsing and is dropped', () => {
    const r = parseArgs(['-d', '--', '--bundle', 'x', '--'], createFlags, I);
    expect(r.flags['detach']).toBe(true);
    expect(r.flags['bundle']).toBe('');
    expect(r.positional).toEqual(['--bundle', 'x', '--']);
    expect(parseArgs(['a', '--', '-b'], createFlags, I).positional).toEqual(['a', '-b']);
  });

  it('non-interspersed: stops at the first positional argument (exec)', () => {
    const r = parseArgs(['-t', '--env', 'A=1', 'myid', 'sh', '-c', 'ls -l', '--bundle', 'x'], createFlags, N);
    expect(r.flags['tty']).toBe(true);
    expect(r.flags['env']).toEqual(['A=1']);
    expect(r.flags['bundle']).toBe('');
    expect(r.positional).toEqual(['myid', 'sh', '-c', 'ls -l', '--bundle', 'x']);
    // unknown flags after the id belong to the command and are not errors
    expect(parseArgs(['myid', '--nope'], createFlags, N).positional).toEqual(['myid', '--nope']);
    // "--" after the id is kept for the caller; before it, it is consumed
    expect(parseArgs(['myid', '--', 'ls'], createFlags, N).positional).toEqual(['myid', '--', 'ls']);
    expect(parseArgs(['-t', '--', '-myid', 'ls'], createFlags, N).positional).toEqual(['-myid', 'ls']);
  });

  it('rejects flag definitions that reuse a name', () => {
    expect(() =>
      parseArgs([], [
        { name: 'a', kind: 'bool', usage: '' },
        { name: 'b', alias: ['a'], kind: 'bool', usage: '' },
      ], I),
    ).toThrow(TypeError);
  });

  it('typed getters', () => {
    const r = parseArgs(['-b', '/b', '-d', '--preserve-fds=2', '-e', 'X=1'], createFlags, I);
    expect(getString(r, 'bundle')).toBe('/b');
    expect(getBool(r, 'detach')).toBe(true);
    expect(getInt(r, 'preserve-fds')).toBe(2);
    expect(getStrings(r, 'env')).toEqual(['X=1']);
    expect(() => getString(r, 'detach')).toThrow(TypeError);
    expect(() => getBool(r, 'nope')).toThrow(TypeError);
  });
});

describe('splitGlobal', () => {
  const globalFlags: FlagDef[] = [
    { name: 'root', kind: 'string', usage: 'root directory', default: '/run/tsrun' },
    { name: 'debug', kind: 'bool', usage: 'debug' },
    { name: 'log', kind: 'string', usage: 'log file' },
    { name: 'systemd-cgroup', kind: 'bool', usage: 'systemd' },
  ];

  it('parses global flags and splits off the command', () => {
    const s = splitGlobal(
      ['--root', '/r', '-debug', '--log=/l', 'exec', '-t', 'id', 'sh', '--root', 'x'],
      globalFlags,
    );
    expect(s.command).toBe('exec');
    expect(s.rest).toEqual(['-t', 'id', 'sh', '--root', 'x']);
    expect(s.global.flags).toEqual({ root: '/r', debug: true, log: '/l', 'systemd-cgroup': false });
    expect(s.global.seen).toEqual(new Set(['root', 'debug', 'log']));
  });

  it('handles no command and "--"', () => {
    const none = splitGlobal(['--debug'], globalFlags);
    expect(none.command).toBeUndefined();
    expect('command' in none).toBe(false);
    expect(none.rest).toEqual([]);
    expect(none.global.flags['root']).toBe('/run/tsrun');
    const dd = splitGlobal(['--', 'list', '-q'], globalFlags);
    expect(dd.command).toBe('list');
    expect(dd.rest).toEqual(['-q']);
  });

  it('rejects unknown global flags', () => {
    expect(usageError(() => splitGlobal(['--bundle', 'x', 'create'], globalFlags))).toBe(
      'flag provided but not defined: -bundle',
    );
  });
});

describe('formatHelp', () => {
  it('produces runc-like sections with aligned options', () => {
    const text = formatHelp({
      name: 'tsrun create',
      usage: 'create a container',
      argsUsage: '<container-id>\n\nWhere "<container-id>" is your name for the instance.',
      description: 'The create command creates an instance of a container for a bundle.\nSecond line.',
      flags: [
        { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory' },
        { name: 'pid-file', kind: 'string', usage: 'write the pid to `FILE`' },
        { name: 'root', kind: 'string', usage: 'root directory', default: '/run/tsrun' },
        { name: 'preserve-fds', kind: 'int', usage: 'pass N additional fds', placeholder: 'N' },
        { name: 'env', alias: ['e'], kind: 'strings', usage: 'set env', default: ['A=1', 'B'] },
        { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach' },
        { name: 'secret', kind: 'bool', usage: 'not shown', hidden: true },
      ],
    });
    expect(text).toBe(
      [
        'NAME:',
        '   tsrun create - create a container',
        '',
        'USAGE:',
        '   tsrun create [command options] <container-id>',
        '',
        '   Where "<container-id>" is your name for the instance.',
        '',
        'DESCRIPTION:',
        '   The create command creates an instance of a container for a bundle.',
        '   Second line.',
        '',
        'OPTIONS:',
        '   --bundle value, -b value  path to the root of the bundle directory',
        '   --pid-file FILE           write the pid to FILE',
        '   --root value              root directory (default: "/run/tsrun")',
        '   --preserve-fds N          pass N additional fds (default: 0)',
        '   --env value, -e value     set env (default: "A=1", "B")',
        '   --detach, -d              detach',
        '',
      ].join('\n'),
    );
  });

  it('omits empty sections', () => {
    expect(formatHelp({ name: 'tsrun list', usage: 'lists containers', flags: [] })).toBe(
      ['NAME:', '   tsrun list - lists containers', '', 'USAGE:', '   tsrun list [arguments...]', ''].join('\n'),
    );
  });
});
