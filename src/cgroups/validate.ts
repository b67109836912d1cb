// Checks linux.resources before anything is written, so a bad value never
// leaves a container half-configured. Accepts arbitrary JSON (runc update -r).
import { ConfigError } from '../errors';
import type { LinuxResources } from '../oci/types';

const P = 'linux.resources';

function fail(path: string, msg: string): never {
  throw new ConfigError(`${P}.${path}: ${msg}`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, path: string, min?: number, max?: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, `must be an integer, got ${JSON.stringify(v)}`);
  if (min !== undefined && v < min) fail(path, `must be >= ${min}, got ${v}`);
  if (max !== undefined && v > max) fail(path, `must be <= ${max}, got ${v}`);
}

function obj(v: unknown, path: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) fail(path, 'must be an object');
  return v;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

/** Kernel list syntax for cpuset.cpus/mems: "0-3,5,7-8" (ranges may carry ":used/group"). */
export function isValidCpuList(s: string): boolean {
  if (s === '') return true;
  const items = s.split(',');
  for (const item of items) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/.exec(item);
    if (!m) return false;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return false;
    if (m[3] !== undefined && (Number(m[3]) === 0 || Number(m[4]) === 0 || Number(m[3]) > Number(m[4]))) return false;
  }
  return true;
}

/** Hugepage size as OCI writes it: "2MB", "1GB", "64KB". */
export function isValidPageSize(s: string): boolean {
  return /^[1-9]\d*(KB|MB|GB|TB|PB)$/.test(s);
}

function blkioWeight(v: unknown, path: string): void {
  int(v, path, 0, 1000);
  if (typeof v === 'number' && v !== 0 && v < 10) fail(path, `must be between 10 and 1000, got ${v}`);
}

/** Throws ConfigError naming the first invalid field. */
export function validateResources(res: unknown): asserts res is LinuxResources {
  if (res === undefined) return;
  if (!isObj(res)) throw new ConfigError(`${P}: must be an object`);

  const mem = obj(res.memory, 'memory');
  if (mem) {
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const) int(mem[k], `memory.${k}`, -1);
    int(mem.swappiness, 'memory.swappiness', -1, 100);
    for (const k of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate'] as const) {
      if (mem[k] !== undefined && typeof mem[k] !== 'boolean') fail(`memory.${k}`, 'must be a boolean');
    }
    const limit = mem.limit as number | undefined;
    const swap = mem.swap as number | undefined;
    if (limit !== undefined && swap !== undefined && swap > 0) {
      if (limit === -1) fail('memory.swap', `memory+swap limit ${swap} is finite but memory.limit is unlimited (-1)`);
      if (limit > 0 && swap < limit) fail('memory.swap', `memory+swap limit (${swap}) must be >= memory.limit (${limit})`);
    }
  }

  const cpu = obj(res.cpu, 'cpu');
  if (cpu) {
    int(cpu.shares, 'cpu.shares', 0);
    int(cpu.quota, 'cpu.quota');
    int(cpu.burst, 'cpu.burst', 0);
    int(cpu.period, 'cpu.period', 0);
    int(cpu.realtimeRuntime, 'cpu.realtimeRuntime', -1);
    int(cpu.realtimePeriod, 'cpu.realtimePeriod', 0);
    int(cpu.idle, 'cpu.idle', 0, 1);
    for (const k of ['cpus', 'mems'] as const) {
      const v = cpu[k];
      if (v === undefined) continue;
      if (typeof v !== 'string') fail(`cpu.${k}`, 'must be a string');
      if (!isValidCpuList(v)) fail(`cpu.${k}`, `invalid list ${JSON.stringify(v)} (expected e.g. "0-1,3")`);
    }
  }

  const pids = obj(res.pids, 'pids');
  if (pids) {
    if (pids.limit === undefined) fail('pids.limit', 'is required');
    int(pids.limit, 'pids.limit');
  }

  const bio = obj(res.blockIO, 'blockIO');
  if (bio) {
    blkioWeight(bio.weight, 'blockIO.weight');
    blkioWeight(bio.leafWeight, 'blockIO.leafWeight');
    arr(bio.weightDevice, 'blockIO.weightDevice').forEach((d, i) => {
      const p = `blockIO.weightDevice[${i}]`;
      const o = obj(d, p)!;
      if (!o) fail(p, 'must be an object');
      int(o.major, `${p}.major`, 0);
      int(o.minor, `${p}.minor`, 0);
      if (o.major === undefined || o.minor === undefined) fail(p, 'major and minor are required');
      blkioWeight(o.weight, `${p}.weight`);
      blkioWeight(o.leafWeight, `${p}.leafWeight`);
    });
    for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      arr(bio[k], `blockIO.${k}`).forEach((d, i) => {
        const p = `blockIO.${k}[${i}]`;
        const o = obj(d, p);
        if (!o) fail(p, 'must be an object');
        int(o.major, `${p}.major`, 0);
        int(o.minor, `${p}.minor`, 0);
        if (o.major === undefined || o.minor === undefined) fail(p, 'major and minor are required');
        int(o.rate, `${p}.rate`, 0);
      });
    }
  }

  arr(res.hugepageLimits, 'hugepageLimits').forEach((h, i) => {
    const p = `hugepageLimits[${i}]`;
    const o = obj(h, p);
    if (!o) fail(p, 'must be an object');
    if (typeof o.pageSize !== 'string' || !isValidPageSize(o.pageSize)) {
      fail(`${p}.pageSize`, `invalid page size ${JSON.stringify(o.pageSize)} (expected e.g. "2MB")`);
    }
    if (o.limit === undefined) fail(`${p}.limit`, 'is required');
    int(o.limit, `${p}.limit`, 0);
  });

  const net = obj(res.network, 'network');
  if (net) {
    int(net.classID, 'network.classID', 0, 0xffffffff);
    arr(net.priorities, 'network.priorities').forEach((pr, i) => {
      const p = `network.priorities[${i}]`;
      const o = obj(pr, p);
      if (!o) fail(p, 'must be an object');
      if (typeof o.name !== 'string' || !/^[^\s/]+$/.test(o.name)) fail(`${p}.name`, 'must be an interface name');
      int(o.priority, `${p}.priority`, 0, 0xffffffff);
    });
  }

  const rdma = obj(res.rdma, 'rdma');
  if (rdma) {
    for (const [dev, lim] of Object.entries(rdma)) {
      const p = `rdma.${dev}`;
      if (!/^[^\s/]+$/.test(dev)) fail(p, 'invalid device name');
      const o = obj(lim, p);
      if (!o) fail(p, 'must be an object');
      int(o.hcaHandles, `${p}.hcaHandles`, 0);
      int(o.hcaObjects, `${p}.hcaObjects`, 0);
    }
  }

  arr(res.devices, 'devices').forEach((d, i) => {
    const p = `devices[${i}]`;
    const o = obj(d, p);
    if (!o) fail(p, 'must be an object');
    if (typeof o.allow !== 'boolean') fail(`${p}.allow`, 'must be a boolean');
    if (o.type !== undefined && (typeof o.type !== 'string' || !['a', 'b', 'c'].includes(o.type))) {
      fail(`${p}.type`, `must be "a", "b" or "c", got ${JSON.stringify(o.type)}`);
    }
    int(o.major, `${p}.major`, -1);
    int(o.minor, `${p}.minor`, -1);
    if (o.access !== undefined) {
      if (typeof o.access !== 'string' || !/^[a-zA-Z]+$/.test(o.access)) {
        fail(`${p}.access`, `must be letters ("r", "w", "m"; others are ignored, as runc does), got ${JSON.stringify(o.access)}`);
      }
    }
  });

  const uni = obj(res.unified, 'unified');
  if (uni) {
    for (const [k, v] of Object.entries(uni)) {
      if (!k || k.includes('/') || k.includes('..') || k === '.') fail(`unified`, `key ${JSON.stringify(k)} must be a plain file name`);
      if (typeof v !== 'string') fail(`unified.${k}`, 'must be a string');
    }
  }
}
