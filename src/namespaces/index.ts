// Which namespaces a container gets: created new (clone flags) or joined
// (setns by path), and in what order. Pure: no syscalls here.
import { ConfigError } from '../errors';
import type { LinuxIDMapping, LinuxNamespaceType, Spec } from '../oci/types';

export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const NS_FLAG: Record<LinuxNamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The name of each namespace under /proc/<pid>/ns/. */
export const NS_PROC_NAME: Record<LinuxNamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

export interface NamespaceJoin {
  type: LinuxNamespaceType;
  path: string;
  flag: number;
}

export interface NamespacePlan {
  /** Joined in this order (user first: it grants the rights to join the rest). */
  joins: NamespaceJoin[];
  /** Namespaces created by clone3 for the init. */
  cloneFlags: number;
  /** Created by the init after it has been placed in its cgroup. */
  newCgroupns: boolean;
  /** Created by stage 0 with unshare, so offsets can be written before the init enters it. */
  newTimens: boolean;
  has(type: LinuxNamespaceType): boolean;
  isNew(type: LinuxNamespaceType): boolean;
}

export const JOIN_ORDER: LinuxNamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

export function planNamespaces(spec: Spec): NamespacePlan {
  const list = spec.linux?.namespaces ?? [];
  const byType = new Map(list.map((ns) => [ns.type, ns]));
  const joins: NamespaceJoin[] = [];
  let cloneFlags = 0;
  for (const type of JOIN_ORDER) {
    const ns = byType.get(type);
    if (!ns) continue;
    if (ns.path) joins.push({ type, path: ns.path, flag: NS_FLAG[type] });
    else if (type !== 'cgroup' && type !== 'time') cloneFlags |= NS_FLAG[type];
  }
  const newCgroupns = byType.has('cgroup') && !byType.get('cgroup')!.path;
  const newTimens = byType.has('time') && !byType.get('time')!.path;
  return {
    joins,
    cloneFlags,
    newCgroupns,
    newTimens,
    has: (type) => byType.has(type),
    isNew: (type) => byType.has(type) && !byType.get(type)!.path,
  };
}

/** Checks the combinations the kernel or the spec forbid, with one clear line each. */
export function checkNamespaceConfig(spec: Spec, ns: NamespacePlan): void {
  const linux = spec.linux ?? {};
  const hasMaps = (linux.uidMappings?.length ?? 0) > 0 || (linux.gidMappings?.length ?? 0) > 0;
  if (hasMaps && !ns.isNew('user')) {
    throw new ConfigError(
      ns.has('user')
        ? 'config.json: uidMappings/gidMappings cannot be set when joining an existing user namespace'
        : 'config.json: uidMappings/gidMappings need a user namespace in linux.namespaces',
    );
  }
  if (ns.isNew('user') && !((linux.uidMappings?.length ?? 0) > 0 && (linux.gidMappings?.length ?? 0) > 0)) {
    throw new ConfigError('config.json: a new user namespace needs both linux.uidMappings and linux.gidMappings');
  }
  if ((spec.hostname || spec.domainname) && !ns.isNew('uts') && !ns.has('uts')) {
    throw new ConfigError('config.json: hostname and domainname need a uts namespace in linux.namespaces');
  }
  if (linux.timeOffsets && !ns.isNew('time')) {
    throw new ConfigError('config.json: linux.timeOffsets need a new time namespace in linux.namespaces');
  }
  for (const m of [linux.uidMappings, linux.gidMappings]) checkMappingsOverlap(m);
}

function checkMappingsOverlap(maps: LinuxIDMapping[] | undefined): void {
  if (!maps) return;
  const sorted = [...maps].sort((a, b) => a.hostID - b.hostID);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.hostID + prev.size > sorted[i]!.hostID) {
      throw new ConfigError(`config.json: id mappings overlap on the host at id ${sorted[i]!.hostID}`);
    }
  }
}

/** The text the kernel expects in /proc/<pid>/uid_map and gid_map. */
export function idMapText(maps: LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** The host id that a container id maps to, or undefined when unmapped. */
export function mapToHost(maps: LinuxIDMapping[] | undefined, id: number): number | undefined {
  if (!maps || maps.length === 0) return id;
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The time namespace offsets file's content. */
export function timeOffsetsText(spec: Spec): string {
  const offs = spec.linux?.timeOffsets ?? {};
  return Object.entries(offs)
    .map(([clock, o]) => {
      const id = clock === 'monotonic' ? 'monotonic' : clock === 'boottime' ? 'boottime' : clock;
      return `${id} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`;
    })
    .join('');
}
