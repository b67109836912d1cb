// Writing a new user namespace's uid/gid maps. Root writes any mapping
// directly. An unprivileged user may write only one line mapping its own id
// (and must deny setgroups first); anything else goes through the setuid
// helpers newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
import { childProcess } from '../sys/node-lazy';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, TsrunError } from '../errors';
import type { LinuxIDMapping } from '../oci/types';
import { idMapText } from './index';

export interface Identity {
  uid: number;
  gid: number;
  /** The user's name, for /etc/subuid lookups. */
  name?: string;
}

export type MapMethod = 'direct' | 'helper';

/** How the maps will be written, decided before anything is created.
 * (`find` locates the helpers; a parameter so tests can take them away.) */
export function mapMethod(uidMaps: LinuxIDMapping[], gidMaps: LinuxIDMapping[], me: Identity, find: (name: string) => string | undefined = findTool): MapMethod {
  if (me.uid === 0) return 'direct';
  const ownOnly = (maps: LinuxIDMapping[], id: number) => maps.length === 1 && maps[0]!.size === 1 && maps[0]!.hostID === id;
  if (ownOnly(uidMaps, me.uid) && ownOnly(gidMaps, me.gid)) return 'direct';
  for (const [tool, maps, file, id] of [
    ['newuidmap', uidMaps, '/etc/subuid', me.uid],
    ['newgidmap', gidMaps, '/etc/subgid', me.gid],
  ] as const) {
    if (!find(tool)) {
      throw new ConfigError(`these ${tool === 'newuidmap' ? 'uid' : 'gid'} mappings need ${tool} (Debian's uidmap package): an unprivileged user can only map its own id directly`);
    }
    checkSubordinate(maps, file, me, id);
  }
  return 'helper';
}

/** Whether setgroups(2) stays allowed in the namespace: a direct,
 * unprivileged gid mapping requires denying it. */
export function setgroupsAllowed(method: MapMethod, me: Identity): boolean {
  return me.uid === 0 || method === 'helper';
}

export function writeIdMaps(pid: number, uidMaps: LinuxIDMapping[], gidMaps: LinuxIDMapping[], method: MapMethod, me: Identity): void {
  if (method === 'helper') {
    for (const [tool, maps] of [
      ['newuidmap', uidMaps],
      ['newgidmap', gidMaps],
    ] as const) {
      const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
      try {
        childProcess().execFileSync(findTool(tool)!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
        throw new TsrunError(`${tool} ${args.join(' ')} failed: ${err || (e as Error).message}`);
      }
    }
    return;
  }
  if (uidMaps.length) writeFileSync(`/proc/${pid}/uid_map`, idMapText(uidMaps));
  if (gidMaps.length) {
    if (me.uid !== 0) writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    writeFileSync(`/proc/${pid}/gid_map`, idMapText(gidMaps));
  }
}

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return undefined;
}

/** Every mapped host range must be the user's own id or inside one of its
 * subordinate ranges: a clear error here beats newuidmap's. */
function checkSubordinate(maps: LinuxIDMapping[], file: string, me: Identity, ownId: number): void {
  const ranges = subordinateRanges(file, me, ownId);
  for (const m of maps) {
    const inOwn = m.size === 1 && m.hostID === ownId;
    const inSub = ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
    if (!inOwn && !inSub) {
      throw new ConfigError(`mapping of host ids ${m.hostID}-${m.hostID + m.size - 1} is not allowed for ${me.name ?? me.uid} by ${file}`);
    }
  }
}

export function subordinateRanges(file: string, me: Identity, ownId: number): { start: number; count: number }[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length === 3 && (f[0] === me.name || f[0] === String(ownId)))
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}

/** The calling user, with its name from /etc/passwd. */
export function currentIdentity(): Identity {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  let name: string | undefined;
  try {
    name = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => Number(f[2]) === uid)?.[0];
  } catch {
    // no passwd
  }
  return { uid, gid, name };
}
