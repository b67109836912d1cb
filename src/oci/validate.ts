// Parse and validate config.json (OCI runtime-spec 1.x, Linux).
//
// The checker is a small tree of closures built once at module load from the table below
// (one entry per spec field); walking a typical config.json costs well under a millisecond.
// Unknown properties are ignored, as the spec requires. Errors are ConfigError with one line
// naming the JSON path, e.g. `config.json: process.args[1] must be a string`.
//
// Normalisation (validateSpec mutates and returns its argument):
//  - optional fields set to JSON null are deleted (Go's encoding/json treats null as absent);
//  - process.user defaults to {uid: 0, gid: 0}, and a missing uid/gid to 0 (like runc);
//  - uint64 fields: JSON.parse cannot represent 2^64-1 exactly and yields 2^64; any value
//    >= 2^64-2048 (the largest double below 2^64) means "all ones"/unlimited and is stored as
//    UINT64_MAX (the number 2^64, which JSON.stringify writes back as 18446744073709552000 and
//    which parses back to itself). Use u64ToBigInt() for the exact 64-bit value.
//  - rlimits soft/hard accept 0..2^53-1 exactly, or unlimited (see above); values in between
//    would silently lose precision and are rejected.

import { ConfigError } from '../errors';
import type { LinuxIDMapping, Spec } from './types';

/** uint64 "all ones" (2^64-1) as stored after validation: the double 2^64. */
export const UINT64_MAX = 2 ** 64;
/** RLIM_INFINITY as stored in POSIXRlimit.soft/hard after validation. */
export const RLIM_INFINITY = UINT64_MAX;
const U64_ALL_ONES_THRESHOLD = 2 ** 64 - 2048;
const U64_ALL_ONES_BIG = (1n << 64n) - 1n;

/** Exact 64-bit value of a validated uint64 field (UINT64_MAX → 0xffffffffffffffffn). */
export function u64ToBigInt(n: number): bigint {
  return n >= U64_ALL_ONES_THRESHOLD ? U64_ALL_ONES_BIG : BigInt(n);
}

// ---------------------------------------------------------------------------------------
// Checker combinators

/** Internal: a failure at a JSON path; converted to ConfigError by validateSpec. */
class PathError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Returns the (possibly normalised) value, or throws PathError. */
type Check = (v: unknown, path: string) => unknown;

function fail(path: string, detail: string): never {
  throw new PathError(path, detail);
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
function joinKey(path: string, key: string): string {
  if (!IDENT.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

/** A value quoted for an error message, cut short so the message stays one readable line. */
function show(v: string): string {
  const q = JSON.stringify(v);
  return q.length > 80 ? `${q.slice(0, 76)}..."` : q;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str: Check = (v, p) => (typeof v === 'string' ? v : fail(p, 'must be a string'));
const bool: Check = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'must be a boolean'));

function oneOf(values: readonly string[]): Check {
  const set = new Set(values);
  const list = values.map((x) => JSON.stringify(x)).join(', ');
  return (v, p) => {
    if (typeof v !== 'string') fail(p, 'must be a string');
    if (!set.has(v)) fail(p, `must be one of ${list} (got ${show(v)})`);
    return v;
  };
}

function pattern(re: RegExp, what: string): Check {
  return (v, p) => {
    if (typeof v !== 'string') fail(p, 'must be a string');
    if (!re.test(v)) fail(p, `must be ${what} (got ${show(v)})`);
    return v;
  };
}

function uint(max: number): Check {
  return (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'must be a non-negative integer');
    if (v > max) fail(p, `must be at most ${max}`);
    return v;
  };
}

function sint(min: number, max: number, shown = `${min} and ${max}`): Check {
  return (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(p, 'must be an integer');
    if (v < min || v > max) fail(p, `must be between ${shown}`);
    return v;
  };
}

const u16 = uint(0xffff);
const u32 = uint(0xffffffff);
const i32 = sint(-(2 ** 31), 2 ** 31 - 1);
// 2^63-1 is not representable; JSON.parse yields 2^63 for it.
const i64 = sint(-(2 ** 63), 2 ** 63, '-9223372036854775808 and 9223372036854775807');

const u64: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'must be a non-negative integer');
  if (v > UINT64_MAX) fail(p, 'must be at most 18446744073709551615');
  return v >= U64_ALL_ONES_THRESHOLD ? UINT64_MAX : v;
};

/** uint64 that must be exact: 0..2^53-1, or 2^64-1 meaning unlimited. */
const rlimitValue: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(p, 'must be a non-negative integer');
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  if (v >= U64_ALL_ONES_THRESHOLD && v <= UINT64_MAX) return RLIM_INFINITY;
  return fail(p, 'must be at most 9007199254740991, or 18446744073709551615 (unlimited)');
};

interface ArrOpts {
  nonEmpty?: boolean;
}
function arr(item: Check, opts: ArrOpts = {}): Check {
  return (v, p) => {
    if (!Array.isArray(v)) fail(p, 'must be an array');
    if (opts.nonEmpty && v.length === 0) fail(p, 'must not be empty');
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const n = item(x, `${p}[${i}]`);
      if (n !== x) v[i] = n;
    }
    return v;
  };
}

function mapOf(value: Check): Check {
  return (v, p) => {
    if (!isPlainObject(v)) fail(p, 'must be an object');
    for (const k of Object.keys(v)) {
      const x = v[k];
      const n = value(x, joinKey(p, k));
      if (n !== x) v[k] = n;
    }
    return v;
  };
}

interface ObjOpts {
  required?: readonly string[];
  /** Fill in absent fields before checking (Go zero-value behaviour). */
  defaults?: Record<string, () => unknown>;
}
function obj(props: Record<string, Check>, opts: ObjOpts = {}): Check {
  const keys = Object.keys(props);
  const required = opts.required ?? [];
  const defaults = opts.defaults;
  return (v, p) => {
    if (!isPlainObject(v)) fail(p, 'must be an object');
    for (const k of keys) {
      let x = v[k];
      if (x === null) {
        delete v[k];
        x = undefined;
      }
      if (x === undefined && defaults && k in defaults) {
        x = v[k] = defaults[k]!();
      }
      if (x === undefined) {
        if (required.includes(k)) fail(joinKey(p, k), 'is required');
        continue;
      }
      const n = props[k]!(x, joinKey(p, k));
      if (n !== x) v[k] = n;
    }
    return v;
  };
}

/** Run `check`, then a semantic refinement on the checked value. */
function refine<T>(check: Check, more: (v: T, path: string) => void): Check {
  return (v, p) => {
    const n = check(v, p);
    more(n as T, p);
    return n;
  };
}

// ---------------------------------------------------------------------------------------
// Semantic refinements

function isAbs(s: string): boolean {
  return s.startsWith('/');
}
function absPath(what = 'an absolute path'): Check {
  return refine<string>(str, (s, p) => {
    if (!isAbs(s)) fail(p, `must be ${what} (got ${show(s)})`);
  });
}

const MAX_ID_MAP_EXTENTS = 340; // kernel limit since Linux 4.15
const U32_SPAN = 2 ** 32;

const idMapping = refine<LinuxIDMapping>(
  obj({ containerID: u32, hostID: u32, size: u32 }, { required: ['containerID', 'hostID', 'size'] }),
  (m, p) => {
    if (m.size === 0) fail(`${p}.size`, 'must be greater than 0');
    if (m.containerID + m.size > U32_SPAN) fail(p, `containerID + size overflows 2^32 (${m.containerID} + ${m.size})`);
    if (m.hostID + m.size > U32_SPAN) fail(p, `hostID + size overflows 2^32 (${m.hostID} + ${m.size})`);
  },
);

function overlaps(a0: number, an: number, b0: number, bn: number): boolean {
  return a0 < b0 + bn && b0 < a0 + an;
}

const idMappings = refine<LinuxIDMapping[]>(arr(idMapping), (maps, p) => {
  if (maps.length > MAX_ID_MAP_EXTENTS) fail(p, `has ${maps.length} entries (the kernel allows at most ${MAX_ID_MAP_EXTENTS})`);
  for (let i = 1; i < maps.length; i++) {
    const a = maps[i]!;
    for (let j = 0; j < i; j++) {
      const b = maps[j]!;
      if (overlaps(a.containerID, a.size, b.containerID, b.size)) fail(`${p}[${i}]`, `container ID range overlaps ${p}[${j}]`);
      if (overlaps(a.hostID, a.size, b.hostID, b.size)) fail(`${p}[${i}]`, `host ID range overlaps ${p}[${j}]`);
    }
  }
});

// ---------------------------------------------------------------------------------------
// Enumerations from the spec (defs-linux.json)

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export const SECCOMP_ARCHS = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
] as const;
const SCHEDULER_POLICIES = [
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
];
const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
];
// The spec lists the first four; runc also accepts the recursive forms, and so do we.
const ROOTFS_PROPAGATION = ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'];
export const MEMORY_POLICY_MODES = [
  'MPOL_DEFAULT',
  'MPOL_BIND',
  'MPOL_INTERLEAVE',
  'MPOL_WEIGHTED_INTERLEAVE',
  'MPOL_PREFERRED',
  'MPOL_PREFERRED_MANY',
  'MPOL_LOCAL',
];
export const MEMORY_POLICY_FLAGS = ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'];

// ---------------------------------------------------------------------------------------
// The table: config.json, field by field

const strings = arr(str);
const stringMap = mapOf(str);

const hook = obj(
  {
    path: absPath(),
    args: strings,
    env: strings,
    timeout: (v, p) =>
      typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : fail(p, 'must be a positive integer'),
  },
  { required: ['path'] },
);
const hooks = arr(hook);

const mount = obj(
  {
    destination: str,
    type: str,
    source: str,
    options: strings,
    uidMappings: idMappings,
    gidMappings: idMappings,
  },
  { required: ['destination'] },
);

const rlimit = obj(
  {
    type: pattern(/^RLIMIT_[A-Z]+$/, 'an RLIMIT_* name'),
    soft: rlimitValue,
    hard: rlimitValue,
  },
  { required: ['type', 'soft', 'hard'] },
);
const rlimits = refine<{ type: string; soft: number; hard: number }[]>(arr(rlimit), (list, p) => {
  const seen = new Map<string, number>();
  list.forEach((r, i) => {
    const prev = seen.get(r.type);
    if (prev !== undefined) fail(p, `has ${JSON.stringify(r.type)} twice ([${prev}] and [${i}])`);
    seen.set(r.type, i);
    if (r.soft > r.hard) fail(`${p}[${i}]`, `soft limit ${r.soft} exceeds hard limit ${r.hard}`);
  });
});

const cpuList = pattern(/^[0-9, -]*$/, 'a CPU list like "0-3,7"');

const processCheck = obj(
  {
    terminal: bool,
    consoleSize: obj({ height: u64, width: u64 }, { required: ['height', 'width'] }),
    user: obj(
      { uid: u32, gid: u32, umask: u32, additionalGids: arr(u32), username: str },
      { defaults: { uid: () => 0, gid: () => 0 } },
    ),
    args: arr(str, { nonEmpty: true }),
    commandLine: str,
    env: strings,
    cwd: absPath(),
    capabilities: obj({
      bounding: strings,
      effective: strings,
      inheritable: strings,
      permitted: strings,
      ambient: strings,
    }),
    rlimits,
    noNewPrivileges: bool,
    apparmorProfile: str,
    oomScoreAdj: sint(-1000, 1000),
    scheduler: obj(
      {
        policy: oneOf(SCHEDULER_POLICIES),
        nice: i32,
        priority: i32,
        flags: arr(oneOf(SCHEDULER_FLAGS)),
        runtime: u64,
        deadline: u64,
        period: u64,
      },
      { required: ['policy'] },
    ),
    selinuxLabel: str,
    ioPriority: obj(
      { class: oneOf(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']), priority: i32 },
      { required: ['class'] },
    ),
    execCPUAffinity: obj({ initial: cpuList, final: cpuList }),
  },
  { required: ['cwd'], defaults: { user: () => ({ uid: 0, gid: 0 }) } },
);

const namespace = obj(
  { type: oneOf(NAMESPACE_TYPES), path: absPath() },
  { required: ['type'] },
);
const namespaces = refine<{ type: string }[]>(arr(namespace), (list, p) => {
  const seen = new Set<string>();
  for (const ns of list) {
    if (seen.has(ns.type)) fail(p, `has ${JSON.stringify(ns.type)} twice`);
    seen.add(ns.type);
  }
});

const device = refine<{ type: string; major?: number; minor?: number }>(
  obj(
    {
      type: oneOf(['c', 'b', 'u', 'p']),
      path: str,
      // podman copies a device's whole st_mode (file type bits included);
      // only the permission bits are used.
      fileMode: uint(0o177777),
      major: i64,
      minor: i64,
      uid: u32,
      gid: u32,
    },
    { required: ['type', 'path'] },
  ),
  (d, p) => {
    if (d.type === 'p') return;
    if (d.major === undefined) fail(`${p}.major`, `is required for device type "${d.type}"`);
    if (d.minor === undefined) fail(`${p}.minor`, `is required for device type "${d.type}"`);
  },
);

const deviceCgroup = obj(
  {
    allow: bool,
    type: oneOf(['a', 'b', 'c', '']),
    major: i64,
    minor: i64,
    // As runc: letters other than r, w and m are ignored ("rwa" is "rw").
    access: pattern(/^[a-zA-Z]*$/, 'letters ("r", "w", "m")'),
  },
  { required: ['allow'] },
);

const blkDev = { major: i64, minor: i64 };
const throttle = arr(obj({ ...blkDev, rate: u64 }, { required: ['major', 'minor'] }));

const resources = obj({
  devices: arr(deviceCgroup),
  memory: obj({
    limit: i64,
    reservation: i64,
    swap: i64,
    kernel: i64,
    kernelTCP: i64,
    swappiness: u64,
    disableOOMKiller: bool,
    useHierarchy: bool,
    checkBeforeUpdate: bool,
  }),
  cpu: obj({
    shares: u64,
    quota: i64,
    burst: u64,
    period: u64,
    realtimeRuntime: i64,
    realtimePeriod: u64,
    cpus: str,
    mems: str,
    idle: i64,
  }),
  pids: obj({ limit: i64 }, { required: ['limit'] }),
  blockIO: obj({
    weight: u16,
    leafWeight: u16,
    weightDevice: arr(obj({ ...blkDev, weight: u16, leafWeight: u16 }, { required: ['major', 'minor'] })),
    throttleReadBpsDevice: throttle,
    throttleWriteBpsDevice: throttle,
    throttleReadIOPSDevice: throttle,
    throttleWriteIOPSDevice: throttle,
  }),
  hugepageLimits: arr(
    obj(
      { pageSize: pattern(/^[1-9][0-9]*[KMG]B$/, 'a page size like "2MB"'), limit: u64 },
      { required: ['pageSize', 'limit'] },
    ),
  ),
  network: obj({
    classID: u32,
    priorities: arr(obj({ name: str, priority: u32 }, { required: ['name', 'priority'] })),
  }),
  rdma: mapOf(obj({ hcaHandles: u32, hcaObjects: u32 })),
  unified: stringMap,
});

const seccomp = obj(
  {
    defaultAction: oneOf(SECCOMP_ACTIONS),
    defaultErrnoRet: u32,
    architectures: arr(oneOf(SECCOMP_ARCHS)),
    flags: arr(oneOf(SECCOMP_FLAGS)),
    listenerPath: str,
    listenerMetadata: str,
    syscalls: arr(
      obj(
        {
          names: arr(str, { nonEmpty: true }),
          action: oneOf(SECCOMP_ACTIONS),
          errnoRet: u32,
          args: arr(
            obj(
              { index: u32, value: u64, valueTwo: u64, op: oneOf(SECCOMP_OPERATORS) },
              { required: ['index', 'value', 'op'] },
            ),
          ),
        },
        { required: ['names', 'action'] },
      ),
    ),
  },
  { required: ['defaultAction'] },
);

const timeOffset = obj({ secs: i64, nanosecs: u32 });

const linux = refine<{
  namespaces?: { type: string; path?: string }[];
  uidMappings?: unknown[];
  gidMappings?: unknown[];
}>(
  obj({
    uidMappings: idMappings,
    gidMappings: idMappings,
    sysctl: stringMap,
    resources,
    cgroupsPath: str,
    namespaces,
    devices: arr(device),
    netDevices: mapOf(obj({ name: str })),
    seccomp,
    rootfsPropagation: oneOf(ROOTFS_PROPAGATION),
    maskedPaths: strings,
    readonlyPaths: strings,
    mountLabel: str,
    intelRdt: obj({
      closID: str,
      l3CacheSchema: str,
      memBwSchema: pattern(/^MB:[^\n]*$/, 'a schema line starting with "MB:"'),
      schemata: strings,
      enableMonitoring: bool,
    }),
    memoryPolicy: obj({ mode: oneOf(MEMORY_POLICY_MODES), nodes: str, flags: arr(oneOf(MEMORY_POLICY_FLAGS)) }),
    personality: obj({ domain: oneOf(['LINUX', 'LINUX32']), flags: strings }),
    timeOffsets: obj({ boottime: timeOffset, monotonic: timeOffset }),
  }),
  (l, p) => {
    const hasUserNs = l.namespaces?.some((ns) => ns.type === 'user') ?? false;
    if (!hasUserNs) {
      if (l.uidMappings?.length) fail(`${p}.uidMappings`, 'are set but linux.namespaces has no "user" namespace');
      if (l.gidMappings?.length) fail(`${p}.gidMappings`, 'are set but linux.namespaces has no "user" namespace');
    }
  },
);

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const ociVersion: Check = (v, p) => {
  if (v === undefined) fail(p, 'is required');
  if (typeof v !== 'string') fail(p, 'must be a string');
  const m = SEMVER.exec(v);
  if (!m) fail(p, `must be a semantic version like "1.2.0" (got ${show(v)})`);
  return v;
};

const spec = obj(
  {
    ociVersion,
    process: processCheck,
    root: obj({ path: str, readonly: bool }, { required: ['path'] }),
    hostname: str,
    domainname: str,
    mounts: arr(mount),
    hooks: obj({
      prestart: hooks,
      createRuntime: hooks,
      createContainer: hooks,
      startContainer: hooks,
      poststart: hooks,
      poststop: hooks,
    }),
    annotations: stringMap,
    linux,
  },
  { required: ['ociVersion'] },
);

// ---------------------------------------------------------------------------------------
// Entry points

/** Validate (and normalise in place, see the header) a parsed config.json. */
export function validateSpec(value: unknown, source = 'config.json'): Spec {
  if (!isPlainObject(value)) throw new ConfigError(`${source}: must be a JSON object`);
  try {
    // The version first: a 2.x document may not even have the 1.x shape.
    value.ociVersion = ociVersion(value.ociVersion ?? undefined, 'ociVersion');
    const major = (value.ociVersion as string).split('.', 1)[0];
    if (major !== '1') {
      throw new ConfigError(`${source}: unsupported ociVersion ${JSON.stringify(value.ociVersion)} (tsrun supports 1.x)`);
    }
    spec(value, '');
  } catch (err) {
    if (err instanceof PathError) {
      throw new ConfigError(err.path ? `${source}: ${err.path} ${err.detail}` : `${source}: ${err.detail}`);
    }
    throw err;
  }
  const s = value as unknown as Spec;
  if (s.root === undefined) throw new ConfigError(`${source}: root.path is required`);
  return s;
}

/** Parse config.json text, then validateSpec(). */
export function parseConfig(text: string, source = 'config.json'): Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: invalid JSON: ${describeJsonError(err, text)}`, { cause: err });
  }
  return validateSpec(value, source);
}

/**
 * One line for a JSON syntax error. V8's messages do not always carry a position (and may quote
 * a chunk of the input), so on failure only, re-scan the text to find the first offending
 * character and report it with line:column.
 */
function describeJsonError(err: unknown, text: string): string {
  const v8msg = (err instanceof Error ? err.message : String(err)).split('\n', 1)[0]!;
  let found: { pos: number; msg: string } | undefined;
  try {
    found = locateJsonError(text);
  } catch {
    found = undefined; // e.g. RangeError on absurd nesting: fall back to V8's message
  }
  if (!found) return v8msg;
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < found.pos; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `${found.msg} at line ${line} column ${found.pos - lineStart + 1} (position ${found.pos})`;
}

class JsonSyntax extends Error {
  constructor(
    readonly pos: number,
    msg: string,
  ) {
    super(msg);
  }
}

/** Minimal JSON recogniser (RFC 8259); returns the first error, or undefined if `text` is valid. */
function locateJsonError(text: string): { pos: number; msg: string } | undefined {
  let i = 0;
  const n = text.length;
  const unexpected = (what?: string): never => {
    if (i >= n) throw new JsonSyntax(i, what ? `unexpected end of input, expected ${what}` : 'unexpected end of input');
    const c = JSON.stringify(text[i]);
    throw new JsonSyntax(i, what ? `unexpected ${c}, expected ${what}` : `unexpected ${c}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) unexpected('\'"\' to end the string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new JsonSyntax(i, 'control character in string');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 1, i + 5))) throw new JsonSyntax(i - 1, 'bad \\u escape in string');
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else {
          throw new JsonSyntax(i - 1, 'bad escape in string');
        }
      } else {
        i++;
      }
    }
  };
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') unexpected('a double-quoted property name');
        string();
        ws();
        if (text[i] !== ':') unexpected("':' after property name");
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        unexpected("',' or '}' after property value");
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        unexpected("',' or ']' after array element");
      }
    } else if (c === '"') {
      string();
    } else if (c === 't' || c === 'f' || c === 'n') {
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      if (text.startsWith(word, i)) i += word.length;
      else unexpected('a value');
    } else {
      NUM.lastIndex = i;
      const m = NUM.exec(text);
      if (!m || m[0] === '-' || m[0].length === 0) unexpected('a value');
      i += m![0].length;
    }
  };
  try {
    value();
    ws();
    if (i < n) unexpected('end of input after the JSON value');
  } catch (e) {
    if (e instanceof JsonSyntax) return { pos: e.pos, msg: e.message };
    throw e;
  }
  return undefined;
}
