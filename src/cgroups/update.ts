// Merging an update's resources patch into the container's saved resources.
// Apply the merged result with applyResources(mgr, merged, { update: true, warn }).
import type {
  LinuxHugepageLimit,
  LinuxInterfacePriority,
  LinuxResources,
  LinuxThrottleDevice,
  LinuxWeightDevice,
} from '../oci/types';

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
