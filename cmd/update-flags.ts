// `tsrun update`'s flags, as runc takes them (its own flag set: runc's
// spellings, one- or two-dash names, memory sizes), into a LinuxResources
// patch for Runtime.update.
import { parseMemoryBytes } from '../src/cgroups/memory-size';
import { validateResources } from '../src/cgroups/validate';
import { ConfigError } from '../src/errors';
import type { LinuxResources } from '../src/oci/types';
import { UsageError } from './usage-error';

export interface UpdateIO {
  /** Reads the --resources file. */
  readFile(path: string): string;
  /** Reads standard input (for --resources -). */
  readStdin(): string;
  warn(m: string): void;
}

export interface ParsedUpdate {
  /** Only the settings the flags asked to change. */
  resources: LinuxResources;
  /** Positional arguments (the container id). */
  args: string[];
}

type Kind = 'mem' | 'int' | 'uint' | 'str';
interface UpdateFlag {
  names: string[];
  kind: Kind;
  set?: (r: LinuxResources, v: number | string) => void;
}

function cpu(r: LinuxResources) {
  return (r.cpu ??= {});
}
function mem(r: LinuxResources) {
  return (r.memory ??= {});
}

const FLAGS: UpdateFlag[] = [
  { names: ['resources', 'r'], kind: 'str' },
  { names: ['blkio-weight'], kind: 'uint', set: (r, v) => v !== 0 && ((r.blockIO ??= {}).weight = v as number) },
  { names: ['cpu-period'], kind: 'uint', set: (r, v) => (cpu(r).period = v as number) },
  { names: ['cpu-quota'], kind: 'int', set: (r, v) => (cpu(r).quota = v as number) },
  { names: ['cpu-burst'], kind: 'uint', set: (r, v) => (cpu(r).burst = v as number) },
  { names: ['cpu-share', 'cpu-shares'], kind: 'uint', set: (r, v) => (cpu(r).shares = v as number) },
  { names: ['cpu-rt-period'], kind: 'uint', set: (r, v) => (cpu(r).realtimePeriod = v as number) },
  { names: ['cpu-rt-runtime'], kind: 'int', set: (r, v) => (cpu(r).realtimeRuntime = v as number) },
  { names: ['cpu-idle'], kind: 'int', set: (r, v) => (cpu(r).idle = v as number) },
  { names: ['cpuset-cpus'], kind: 'str', set: (r, v) => v !== '' && (cpu(r).cpus = v as string) },
  { names: ['cpuset-mems'], kind: 'str', set: (r, v) => v !== '' && (cpu(r).mems = v as string) },
  { names: ['kernel-memory'], kind: 'mem' },
  { names: ['kernel-memory-tcp'], kind: 'mem' },
  { names: ['memory'], kind: 'mem', set: (r, v) => (mem(r).limit = v as number) },
  { names: ['memory-reservation'], kind: 'mem', set: (r, v) => (mem(r).reservation = v as number) },
  { names: ['memory-swap'], kind: 'mem', set: (r, v) => (mem(r).swap = v as number) },
  { names: ['pids-limit'], kind: 'int', set: (r, v) => (r.pids = { limit: v as number }) },
  { names: ['l3-cache-schema'], kind: 'str' },
  { names: ['mem-bw-schema'], kind: 'str' },
];

function parseValue(flag: string, kind: Kind, raw: string): number | string {
  switch (kind) {
    case 'str':
      return raw;
    case 'mem':
      try {
        return parseMemoryBytes(raw);
      } catch (e) {
        throw new UsageError(`invalid value for --${flag}: ${(e as Error).message}`);
      }
    case 'int':
    case 'uint': {
      const re = kind === 'int' ? /^[-+]?\d+$/ : /^\+?\d+$/;
      const n = Number(raw);
      if (!re.test(raw.trim()) || !Number.isSafeInteger(n)) {
        throw new UsageError(`invalid value for --${flag}: ${JSON.stringify(raw)} is not ${kind === 'int' ? 'an integer' : 'a non-negative integer'}`);
      }
      return n;
    }
  }
}

/** Parses `runc update` arguments (everything after "update"). Like runc,
 * -r/--resources (a file, or "-" for stdin, holding a LinuxResources JSON
 * object) makes the other resource flags ignored. */
export function parseUpdateArgs(argv: string[], io: UpdateIO): ParsedUpdate {
  const args: string[] = [];
  const given: { def: UpdateFlag; name: string; value: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const def = FLAGS.find((f) => f.names.includes(name));
    if (!def) throw new UsageError(`update: flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`update: flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    given.push({ def, name, value });
  }

  for (const g of given) {
    if (g.def.names[0] === 'l3-cache-schema' || g.def.names[0] === 'mem-bw-schema') {
      throw new UsageError(`update: --${g.name}: Intel RDT is not supported by tsrun`);
    }
  }

  const resFlag = given.filter((g) => g.def.names[0] === 'resources').pop();
  if (resFlag) {
    const others = given.filter((g) => g.def.names[0] !== 'resources');
    if (others.length > 0) io.warn(`update: --resources given; ignoring ${others.map((o) => `--${o.name}`).join(', ')}`);
    const text = resFlag.value === '-' ? io.readStdin() : io.readFile(resFlag.value);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`update: ${resFlag.value === '-' ? 'stdin' : resFlag.value}: invalid JSON: ${(e as Error).message}`);
    }
    validateResources(parsed);
    const r = parsed;
    if (r.memory && (r.memory.kernel !== undefined || r.memory.kernelTCP !== undefined)) {
      io.warn('Kernel memory settings are ignored and will be removed');
      const { kernel: _k, kernelTCP: _t, ...rest } = r.memory;
      r.memory = rest;
    }
    if (r.devices !== undefined) io.warn('update: linux.resources.devices cannot be changed by update; ignored');
    return { resources: r, args };
  }

  const r: LinuxResources = {};
  for (const g of given) {
    const v = parseValue(g.name, g.def.kind, g.value);
    if (g.def.names[0]!.startsWith('kernel-memory')) {
      io.warn('Kernel memory settings are ignored and will be removed');
      continue;
    }
    g.def.set?.(r, v);
  }
  validateResources(r);
  return { resources: r, args };
}
