// A small declarative command-line parser that accepts what runc's CLI (urfave/cli v1 on top of
// Go's `flag` package) accepts, so that containerd, podman and people can call tsrun the same way:
//
//   --name value   --name=value   -name value   -name=value   (single-dash long names are fine)
//   -b value       (aliases, including one-letter ones; letters cannot be grouped: -it is unknown)
//   --detach       --detach=true|false   (a bool never takes the next argument)
//   -e A=1 -e B=2  ("strings" flags repeat)
//   --             (ends flag parsing; it is not kept)
//
// Error wording follows Go's flag package, e.g. `flag provided but not defined: -foo`.

import { UsageError } from './usage-error';

export type FlagKind = 'bool' | 'string' | 'int' | 'strings';

export interface FlagDef {
  /** Canonical name, used as the key in the parse result (e.g. "pid-file"). */
  name: string;
  /** Other names, e.g. ["b"] for -b. */
  alias?: string[];
  kind: FlagKind;
  usage: string;
  /** Value when the flag is absent; otherwise false / "" / 0 / [] by kind. */
  default?: boolean | string | number | readonly string[];
  /** Word shown after the flag name in help ("value" when not given). */
  placeholder?: string;
  /** Accepted but left out of help. */
  hidden?: boolean;
}

export interface ParseOptions {
  /** true: flags may follow positional arguments; false: the first positional argument ends flag parsing. */
  interspersed: boolean;
}

export interface ParsedFlags {
  /** Every defined flag by canonical name: its value, or its default. */
  flags: Record<string, unknown>;
  /** Canonical names of the flags given on the command line. */
  seen: Set<string>;
}

export interface ParsedArgs extends ParsedFlags {
  positional: string[];
}

export interface CommandHelp {
  /** Full name as shown, e.g. "tsrun create". */
  name: string;
  /** One-line summary. */
  usage: string;
  description?: string;
  /** What follows the options in the USAGE line, e.g. "<container-id>"; may span lines. */
  argsUsage?: string;
  flags: readonly FlagDef[];
}

export interface SplitGlobal {
  global: ParsedFlags;
  /** The first positional argument, if any. */
  command?: string;
  /** Everything after the command name, untouched. */
  rest: string[];
}

function zeroValue(def: FlagDef): unknown {
  if (def.default !== undefined) return Array.isArray(def.default) ? [...def.default] : def.default;
  switch (def.kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'int':
      return 0;
    case 'strings':
      return [];
  }
}

function buildLookup(defs: readonly FlagDef[]): Map<string, FlagDef> {
  const lookup = new Map<string, FlagDef>();
  for (const def of defs) {
    for (const n of [def.name, ...(def.alias ?? [])]) {
      if (lookup.has(n)) throw new TypeError(`flag -${n} defined twice`);
      lookup.set(n, def);
    }
  }
  return lookup;
}

/** strconv.ParseBool. */
function parseBool(value: string, name: string): boolean {
  switch (value) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
  }
  throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
}

const INT_RE = /^[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;

/** strconv.ParseInt(s, 0, 64) without digit separators; limited to safe integers. */
function parseInt64(value: string, name: string): number {
  if (!INT_RE.test(value)) {
    throw new UsageError(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
  }
  const neg = value[0] === '-';
  let digits = value[0] === '-' || value[0] === '+' ? value.slice(1) : value;
  // BigInt understands 0x/0o/0b; a bare leading zero means octal, as in Go.
  if (digits.length > 1 && digits[0] === '0' && /^[0-7]+$/.test(digits)) digits = '0o' + digits.slice(1);
  const big = BigInt(digits);
  const n = Number(neg ? -big : big);
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`invalid value ${JSON.stringify(value)} for flag -${name}: value out of range`);
  }
  return n;
}

/**
 * Parse one command's arguments. Values are keyed by canonical flag name; absent flags hold their
 * default. Throws UsageError on an unknown flag, a missing value or a bad bool/int value.
 */
export function parseArgs(argv: readonly string[], flags: readonly FlagDef[], opts: ParseOptions): ParsedArgs {
  const lookup = buildLookup(flags);
  const values: Record<string, unknown> = {};
  for (const def of flags) values[def.name] = zeroValue(def);
  const seen = new Set<string>();
  const positional: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') {
      if (!opts.interspersed) {
        positional.push(...argv.slice(i));
        break;
      }
      positional.push(arg);
      continue;
    }

    const body = arg[1] === '-' ? arg.slice(2) : arg.slice(1);
    if (body.length === 0 || body[0] === '-' || body[0] === '=') {
      throw new UsageError(`bad flag syntax: ${arg}`);
    }
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    const def = lookup.get(name);
    if (def === undefined) throw new UsageError(`flag provided but not defined: -${name}`);

    if (def.kind === 'bool') {
      values[def.name] = value === undefined ? true : parseBool(value, name);
    } else {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
      if (def.kind === 'string') {
        values[def.name] = value;
      } else if (def.kind === 'int') {
        values[def.name] = parseInt64(value, name);
      } else {
        // The first use replaces the default list rather than appending to it.
        const list = seen.has(def.name) ? (values[def.name] as string[]) : [];
        list.push(value);
        values[def.name] = list;
      }
    }
    seen.add(def.name);
  }

  return { flags: values, positional, seen };
}

/**
 * Parse global flags, which come before the command name (`tsrun --root /r create ...`), and split
 * off the command. Parsing stops at the command; its arguments are returned as given.
 */
export function splitGlobal(argv: readonly string[], globalFlags: readonly FlagDef[]): SplitGlobal {
  const parsed = parseArgs(argv, globalFlags, { interspersed: false });
  const [command, ...rest] = parsed.positional;
  const global: ParsedFlags = { flags: parsed.flags, seen: parsed.seen };
  return command === undefined ? { global, rest } : { global, command, rest };
}

// Typed accessors for a parse result; they throw if the flag was not defined with that kind.

function get(p: ParsedFlags, name: string, check: (v: unknown) => boolean, kind: string): unknown {
  const v = p.flags[name];
  if (!check(v)) throw new TypeError(`flag -${name} is not a defined ${kind} flag`);
  return v;
}

export function getBool(p: ParsedFlags, name: string): boolean {
  return get(p, name, (v) => typeof v === 'boolean', 'bool') as boolean;
}

export function getString(p: ParsedFlags, name: string): string {
  return get(p, name, (v) => typeof v === 'string', 'string') as string;
}

export function getInt(p: ParsedFlags, name: string): number {
  return get(p, name, (v) => typeof v === 'number', 'int') as number;
}

export function getStrings(p: ParsedFlags, name: string): string[] {
  return get(p, name, Array.isArray, 'strings') as string[];
}

// ---- help ----

/** A `word` in backquotes in the usage names the placeholder (urfave's convention). */
function unquoteUsage(usage: string): { placeholder: string | undefined; usage: string } {
  const m = /`([^`]*)`/.exec(usage);
  if (m === null) return { placeholder: undefined, usage };
  return { placeholder: m[1], usage: usage.slice(0, m.index) + m[1] + usage.slice(m.index + m[0].length) };
}

function flagRow(def: FlagDef): [string, string] {
  const unq = unquoteUsage(def.usage);
  const placeholder = def.kind === 'bool' ? '' : (def.placeholder ?? unq.placeholder ?? 'value');
  const left = [def.name, ...(def.alias ?? [])]
    .map((n) => (n.length === 1 ? '-' : '--') + n + (placeholder ? ' ' + placeholder : ''))
    .join(', ');
  let dflt = '';
  switch (def.kind) {
    case 'string':
      if (typeof def.default === 'string' && def.default !== '') dflt = ` (default: ${JSON.stringify(def.default)})`;
      break;
    case 'int':
      dflt = ` (default: ${typeof def.default === 'number' ? def.default : 0})`;
      break;
    case 'strings':
      if (Array.isArray(def.default) && def.default.length > 0) {
        dflt = ` (default: ${def.default.map((s) => JSON.stringify(s)).join(', ')})`;
      }
      break;
    case 'bool':
      break;
  }
  return [left, (unq.usage + dflt).trim()];
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l.trim() === '' ? '' : '   ' + l.trimEnd()))
    .join('\n');
}

/** runc-style help: NAME / USAGE / DESCRIPTION / OPTIONS. Ends with a newline. */
export function formatHelp(cmd: CommandHelp): string {
  const visible = cmd.flags.filter((f) => !f.hidden);
  const out: string[] = [];
  out.push('NAME:', `   ${cmd.name} - ${cmd.usage}`, '');
  const usageLine =
    cmd.name + (visible.length > 0 ? ' [command options]' : '') + ' ' + (cmd.argsUsage ?? '[arguments...]');
  out.push('USAGE:', indent(usageLine.trimEnd()), '');
  if (cmd.description !== undefined && cmd.description.trim() !== '') {
    out.push('DESCRIPTION:', indent(cmd.description.replace(/^\n+|\s+$/g, '')), '');
  }
  if (visible.length > 0) {
    const rows = visible.map(flagRow);
    const width = Math.max(...rows.map(([l]) => l.length)) + 2;
    out.push('OPTIONS:');
    for (const [left, right] of rows) out.push(('   ' + left.padEnd(width) + right).trimEnd());
    out.push('');
  }
  return out.join('\n');
}
