// `runc update` flags → a LinuxResources patch, and merging a patch into the
// container's saved resources. Apply the merged result with
// applyResources(mgr, merged, { update: true, warn }).
import { ConfigError, InvalidArgumentError } from '../errors';
import type {
  LinuxHugepageLimit,
  LinuxInterfacePriority,
  LinuxResources,
  LinuxThrottleDevice,
  LinuxWeightDevice,
} from '../oci/types';
import { validateResources } from './validate';

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

type Kind = 'mem' | 'int' | 'uint' | 'str';
interface FlagDef {
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

const FLAGS: FlagDef[] = [
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
        throw new InvalidArgumentError(`invalid value for --${flag}: ${(e as Error).message}`);
      }
    case 'int':
    case 'uint': {
      const re = kind === 'int' ? /^[-+]?\d+$/ : /^\+?\d+$/;
      const n = Number(raw);
      if (!re.test(raw.trim()) || !Number.isSafeInteger(n)) {
        throw new InvalidArgumentError(`invalid value for --${flag}: ${JSON.stringify(raw)} is not ${kind === 'int' ? 'an integer' : 'a non-negative integer'}`);
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
  const given: { def: FlagDef; name: string; value: string }[] = [];
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
    if (!def) throw new InvalidArgumentError(`update: flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new InvalidArgumentError(`update: flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    given.push({ def, name, value });
  }

  for (const g of given) {
    if (g.def.names[0] === 'l3-cache-schema' || g.def.names[0] === 'mem-bw-schema') {
      throw new InvalidArgumentError(`update: --${g.name}: Intel RDT is not supported by tsrun`);
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

// ---- merge ----

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keys where 0 means "leave as is" (runc's update -r template is all zeros). */
function dropZeros<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  const out = defined(o);
  for (const k of keys) if (out[k] === 0) delete out[k];
  return out;
}

function upsert<T>(base: T[] | undefined, patch: T[] | undefined, same: (a: T, b: T) => boolean, merge: (a: T, b: T) => T): T[] | undefined {
  if (!patch || patch.length === 0) return base?.map((x) => ({ ...x }));
  const out = (base ?? []).map((x) => ({ ...x }));
  for (const p of patch) {
    let i = -1;
    for (let j = out.length - 1; j >= 0; j--) {
      if (same(out[j]!, p)) {
        i = j;
        break;
      }
    }
    if (i >= 0) out[i] = merge(out[i]!, p);
    else out.push({ ...p });
  }
  return out;
}

const sameDev = (a: { major: number; minor: number }, b: { major: number; minor: number }) => a.major === b.major && a.minor === b.minor;

/** The container's resources after an update: fields the patch sets replace
 * the base's, 0 in limits/weights means "unchanged", per-device and per-size
 * lists are updated entry by entry, and device rules are never changed
 * (as with runc update). Neither argument is modified. */
export function mergeResources(base: LinuxResources | undefined, patch: LinuxResources): LinuxResources {
  const b: LinuxResources = structuredClone(base ?? {});
  const out: LinuxResources = b;

  if (patch.memory) {
    const p = dropZeros(patch.memory, ['limit', 'reservation', 'swap']);
    delete p.kernel;
    delete p.kernelTCP;
    // As runc: lifting the memory limit without a word about swap lifts swap too.
    if (p.limit === -1 && p.swap === undefined && b.memory?.swap !== undefined) p.swap = -1;
    out.memory = { ...b.memory, ...p };
  }
  if (patch.cpu) {
    const p = dropZeros(patch.cpu, ['shares', 'quota', 'period', 'realtimePeriod', 'realtimeRuntime']);
    if (p.cpus === '') delete p.cpus;
    if (p.mems === '') delete p.mems;
    out.cpu = { ...b.cpu, ...p };
  }
  if (patch.pids) out.pids = { ...patch.pids };
  if (patch.blockIO) {
    const p = patch.blockIO;
    const bio = { ...b.blockIO, ...dropZeros({ weight: p.weight, leafWeight: p.leafWeight }, ['weight', 'leafWeight']) };
    bio.weightDevice = upsert<LinuxWeightDevice>(b.blockIO?.weightDevice, p.weightDevice, sameDev, (x, y) => ({
      ...x,
      ...defined(y),
    }));
    for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      bio[k] = upsert<LinuxThrottleDevice>(b.blockIO?.[k], p[k], sameDev, (x, y) => ({ ...x, rate: y.rate }));
    }
    out.blockIO = defined(bio);
  }
  if (patch.hugepageLimits) {
    out.hugepageLimits = upsert<LinuxHugepageLimit>(
      b.hugepageLimits,
      patch.hugepageLimits,
      (x, y) => x.pageSize === y.pageSize,
      (_x, y) => ({ ...y }),
    );
  }
  if (patch.network) {
    const n = { ...b.network };
    if (patch.network.classID !== undefined) n.classID = patch.network.classID;
    const pr = upsert<LinuxInterfacePriority>(b.network?.priorities, patch.network.priorities, (x, y) => x.name === y.name, (_x, y) => ({ ...y }));
    if (pr) n.priorities = pr;
    out.network = n;
  }
  if (patch.rdma) out.rdma = { ...b.rdma, ...structuredClone(patch.rdma) };
  if (patch.unified) out.unified = { ...b.unified, ...patch.unified };
  return out;
}
