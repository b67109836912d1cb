// IP address management: addresses handed out from a network's subnet and
// recorded in a lease file per bridge, changed only under a lock file beside
// it (src/sys/lock-file.ts), so parallel creates never get the same address
// and a crashed tsrun never leaves the lock held. The lease files live in one
// host-wide directory (bridges are host-wide, whatever the state root).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, TsrunError } from '../errors';
import { broadcast4, contains4, formatIPv4, type Cidr4 } from './ip';
import { writeFileAtomic } from '../sys/atomic-file';
import { withLockFile } from '../sys/lock-file';
import type { PublishSpec } from './publish';

/** Where lease files live: tmpfs, like bridges gone after a reboot. */
export function leaseDir(): string {
  return process.env.TSRUN_NET_STATE ?? '/run/tsrun-net';
}

export interface Lease {
  /** IPv4 address (dotted). */
  ip: string;
  ip6?: string;
  /** The owning container's state directory (<root>/<id>): its key. */
  owner: string;
  /** The host end of its veth pair. */
  hostIf: string;
  /** Its own nftables table (published ports), if any. */
  nftTable?: string;
  publish?: PublishSpec[];
  created: string;
}

export interface LeaseFile {
  bridge: string;
  network: string;
  subnet: string;
  gateway: string;
  /** tsrun created the bridge, so it removes it with the last lease. */
  createdBridge: boolean;
  /** The network's own nftables table (isolation, masquerade), if made. */
  nftTable?: string;
  /** The last address handed out: allocation goes round from there, so a
   * released address is not reused at once (stale neighbour caches). */
  last?: string;
  leases: Lease[];
}

// ---- pure allocation ----

/** The usable host addresses of a subnet: not the network or broadcast address, not the gateway. */
export function hostRange(subnet: Cidr4): { first: number; last: number } {
  if (subnet.prefix > 30) throw new ConfigError(`subnet /${subnet.prefix} is too small: a network needs at least a /30 (a gateway and one container)`);
  return { first: subnet.network + 1, last: broadcast4(subnet) - 1 };
}

/** The next free address after `last` (round-robin), or undefined when the subnet is full. */
export function allocate4(subnet: Cidr4, gateway: number, used: Iterable<number>, last?: number): number | undefined {
  const { first, last: end } = hostRange(subnet);
  const taken = new Set(used);
  taken.add(gateway);
  const size = end - first + 1;
  const start = last !== undefined && contains4(subnet, last) && last >= first && last <= end ? last - first + 1 : 0;
  for (let i = 0; i < size; i++) {
    const cand = first + ((start + i) % size);
    if (!taken.has(cand)) return cand;
  }
  return undefined;
}

/** Leases whose container no longer exists (a create killed before its
 * rollback, a state root wiped by hand): their addresses may be reused. */
export function staleLeases(file: LeaseFile, exists: (path: string) => boolean = existsSync): Lease[] {
  return file.leases.filter((l) => !exists(l.owner));
}

// ---- the files ----

export function leasePath(bridge: string): string {
  return join(leaseDir(), `${bridge}.json`);
}

export function readLeaseFile(bridge: string): LeaseFile | undefined {
  let text: string;
  try {
    text = readFileSync(leasePath(bridge), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as LeaseFile;
  } catch {
    throw new TsrunError(`lease file ${leasePath(bridge)} is corrupt`);
  }
}

export function writeLeaseFile(f: LeaseFile): void {
  const path = leasePath(f.bridge);
  writeFileAtomic(path, JSON.stringify(f, null, 1), 0o600);
}

export function removeLeaseFile(bridge: string): void {
  rmSync(leasePath(bridge), { force: true });
}

/** Every bridge with a lease file. */
export function leaseBridges(): string[] {
  try {
    return readdirSync(leaseDir())
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5));
  } catch {
    return [];
  }
}

/** Runs fn holding the exclusive lock of one bridge's leases (a lock
 * file: a crashed tsrun's lock is broken, so it never wedges the network). */
export async function withLeaseLock<T>(bridge: string, fn: () => Promise<T> | T, timeoutMs = 20000): Promise<T> {
  const dir = leaseDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withLockFile(join(dir, `${bridge}.lock`), fn, {
    timeoutMs,
    busy: () => new TsrunError(`the leases of bridge ${bridge} are locked by another tsrun process`),
    retryMs: () => 2 + Math.random() * 5,
  });
}

export function describeFull(file: LeaseFile): string {
  return `network "${file.network}" has no free address left in ${file.subnet} (${file.leases.length} in use, gateway ${file.gateway})`;
}

export { formatIPv4 };
