// Wiring a container into a bridge network, and taking it out again.
//
// attachNetwork runs while the container's init waits (after its namespaces
// exist, before it mounts and execs):
//   1. under the bridge's lease lock: drop stale leases, pick a free
//      address, create the bridge with the gateway address if it is missing
//      (and the network's nftables table), record the lease;
//   2. a veth pair: the host end (tsv<hash>) on the bridge, the peer created
//      straight in the container's network namespace (IFLA_NET_NS_FD) and
//      named eth0 there, with the network's MTU and a MAC from its address;
//   3. inside that namespace, over a netlink socket opened there: lo and
//      eth0 up, the address(es), the default route via the gateway;
//   4. published ports: the container's nftables table.
// Any failure undoes what was done, so a failed create leaves nothing.
//
// detachNetwork, from delete: the veth, the container's table and its
// lease go; the bridge (and the network's table) go with the last lease if
// tsrun created them.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, TsrunError } from '../errors';
import type { NetworkRequest, NetworkDef } from './config';
import { broadcast4, contains4, formatCidr4, formatIPv4, formatIPv6, ipv4Bytes, ipv6Bytes, mask4, parseIPv4, parseIPv6 } from './ip';
import {
  allocate4,
  describeFull,
  leaseBridges,
  readLeaseFile,
  removeLeaseFile,
  staleLeases,
  withLeaseLock,
  writeLeaseFile,
  type Lease,
  type LeaseFile,
} from './ipam';
import { applyNft, containerTableScript, CONTAINER_TABLE_PREFIX, deleteTableScript, NET_TABLE_PREFIX, networkTableScript, nftAvailable } from './nft';
import { formatPublish, publishConflicts, type PublishSpec } from './publish';
import { NetlinkError, Rtnl } from './rtnl';

export { resolveNetwork, type NetworkRequest, type NetworkChoice, NETWORK_ANNOTATION, PUBLISH_ANNOTATION } from './config';

/** What a container got: recorded in its state (StoredState.network). */
export interface NetworkLease {
  network: string;
  bridge: string;
  ip: string;
  prefix: number;
  gateway: string;
  ip6?: string;
  prefix6?: number;
  gateway6?: string;
  mac: string;
  mtu: number;
  /** Host end of the veth pair. */
  hostIf: string;
  /** Name inside the container. */
  ifname: string;
  publish?: string[];
  nftTable?: string;
}

export interface AttachContext {
  /** The container's state directory (<root>/<id>): the lease's owner. */
  owner: string;
  /** Host pid of the container's init. */
  pid: number;
  warn: (msg: string) => void;
}

/** Short stable names from the container's state directory. */
export function namesFor(owner: string): { hostIf: string; table: string } {
  const h = createHash('sha256').update(owner).digest('hex').slice(0, 10);
  return { hostIf: `tsv${h}`, table: `${CONTAINER_TABLE_PREFIX}${h}` };
}

/** A locally administered MAC from the IPv4 address: stable per address. */
export function macFor(ip: number, prefix = 0x02): string {
  return [prefix, 0x74, ...ipv4Bytes(ip)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The MTU of the host's default-route interfaces (at most 1500): the
 * container's packets may leave through them. */
export function uplinkMtu(): number {
  let mtu = 1500;
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000') continue;
      const m = Number(readFileSync(`/sys/class/net/${f[0]}/mtu`, 'utf8'));
      if (m >= 576) mtu = Math.min(mtu, m);
    }
  } catch {
    // no routes: keep 1500
  }
  return mtu;
}

function setSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new TsrunError(`cannot set ${path.replace('/proc/sys/', '').replace(/\//g, '.')}=${value}: ${(e as NodeJS.ErrnoException).code}`);
  }
}

/** Creates the bridge if it is missing (gateway address, MTU, up) and, when
 * nft is there, the network's table. Called under the lease lock. */
function ensureBridge(rt: Rtnl, def: NetworkDef, file: LeaseFile, mtu: number, wantsNft: boolean): number {
  let br = rt.link(def.bridge);
  if (br && br.kind !== 'bridge') throw new ConfigError(`network "${def.name}": ${def.bridge} exists on the host and is not a bridge`);
  const created = !br;
  const hadTable = !!file.nftTable;
  try {
    if (!br) {
      rt.createBridge(def.bridge, { mtu, mac: macFor(def.gateway, 0x06) });
      file.createdBridge = true;
      br = rt.link(def.bridge);
      if (!br) throw new TsrunError(`bridge ${def.bridge} vanished after it was created`);
    }
    rt.addAddress(br.index, ipv4Bytes(def.gateway), def.subnet.prefix, { broadcast: ipv4Bytes(broadcast4(def.subnet)), existOk: true, what: def.bridge });
    if (def.subnet6 && def.gateway6 !== undefined) rt.addAddress(br.index, ipv6Bytes(def.gateway6), def.subnet6.prefix, { nodad: true, existOk: true, what: def.bridge });
    if (!(br.flags & 1)) rt.setUp(br.index, def.bridge);
    if (!file.nftTable && (wantsNft || nftAvailable())) {
      const table = `${NET_TABLE_PREFIX}${def.bridge}`;
      applyNft(networkTableScript(def, table), `network "${def.name}"`);
      file.nftTable = table;
      // Published ports on 127.0.0.1 are DNAT'ed to the bridge: the kernel
      // routes loopback-sourced packets there only with route_localnet (the
      // table's guard chain drops what containers send to 127.0.0.0/8).
      setSysctl(`/proc/sys/net/ipv4/conf/${def.bridge}/route_localnet`, '1');
    }
    if (def.masquerade) setSysctl('/proc/sys/net/ipv4/ip_forward', '1');
    return br.index;
  } catch (e) {
    // Leave the host as it was when no container uses the network yet.
    if (file.leases.length === 0) {
      if (created) rt.deleteLink(def.bridge);
      if (!hadTable && file.nftTable) {
        try {
          applyNft(deleteTableScript(file.nftTable, 'inet'), `network "${def.name}"`);
        } catch {
          // best effort
        }
        delete file.nftTable;
      }
    }
    throw e;
  }
}

export async function attachNetwork(req: NetworkRequest, ctx: AttachContext): Promise<NetworkLease | undefined> {
  if ('loopbackOnly' in req) {
    const inner = Rtnl.inNetnsOf(ctx.pid);
    try {
      const lo = inner.link('lo');
      if (lo) inner.setUp(lo.index, 'lo');
    } finally {
      inner.close();
    }
    return undefined;
  }
  const { def } = req;
  const { hostIf, table } = namesFor(ctx.owner);
  const mtu = def.mtu ?? uplinkMtu();
  const wantsNft = req.publish.length > 0 || def.masquerade;
  let lease: NetworkLease | undefined;
  const host = new Rtnl();
  try {
    let bridgeIndex = 0;
    await withLeaseLock(def.bridge, () => {
      const file: LeaseFile = readLeaseFile(def.bridge) ?? {
        bridge: def.bridge,
        network: def.name,
        subnet: formatCidr4(def.subnet),
        gateway: formatIPv4(def.gateway),
        createdBridge: false,
        leases: [],
      };
      if (file.subnet !== formatCidr4(def.subnet) && file.leases.length) {
        throw new ConfigError(`network "${def.name}": bridge ${def.bridge} is in use with subnet ${file.subnet}, not ${formatCidr4(def.subnet)}`);
      }
      Object.assign(file, { network: def.name, subnet: formatCidr4(def.subnet), gateway: formatIPv4(def.gateway) });
      for (const stale of staleLeases(file)) {
        ctx.warn(`network "${def.name}": reclaiming ${stale.ip} from ${stale.owner}, which no longer exists`);
        undoLease(host, stale);
      }
      file.leases = file.leases.filter((l) => existsSync(l.owner) && l.owner !== ctx.owner);
      checkPublishConflicts(req.publish, ctx.owner);
      const used = file.leases.map((l) => parseIPv4(l.ip)!).filter((n) => n !== undefined);
      const ip = allocate4(def.subnet, def.gateway, used, file.last ? parseIPv4(file.last) : undefined);
      if (ip === undefined) throw new TsrunError(describeFull(file));
      bridgeIndex = ensureBridge(host, def, file, mtu, wantsNft);
      const ip6 = def.subnet6 ? def.subnet6.network + BigInt(ip - def.subnet.network) : undefined;
      lease = {
        network: def.name,
        bridge: def.bridge,
        ip: formatIPv4(ip),
        prefix: def.subnet.prefix,
        gateway: formatIPv4(def.gateway),
        ...(ip6 !== undefined ? { ip6: formatIPv6(ip6), prefix6: def.subnet6!.prefix, gateway6: formatIPv6(def.gateway6!) } : {}),
        mac: macFor(ip),
        mtu,
        hostIf,
        ifname: 'eth0',
        ...(req.publish.length ? { publish: req.publish.map(formatPublish), nftTable: table } : {}),
      };
      file.last = lease.ip;
      file.leases.push({
        ip: lease.ip,
        ...(lease.ip6 ? { ip6: lease.ip6 } : {}),
        owner: ctx.owner,
        hostIf,
        ...(lease.nftTable ? { nftTable: lease.nftTable, publish: req.publish } : {}),
        created: new Date().toISOString(),
      });
      writeLeaseFile(file);
    });
    try {
      wire(host, bridgeIndex, lease!, ctx.pid);
      if (req.publish.length) applyNft(containerTableScript(table, parseIPv4(lease!.ip)!, req.publish), 'published ports');
    } catch (e) {
      await detachNetwork(ctx.owner).catch(() => {});
      throw e;
    }
    return lease!;
  } finally {
    host.close();
  }
}

/** The veth pair and everything inside the container's namespace. */
function wire(host: Rtnl, bridgeIndex: number, lease: NetworkLease, pid: number): void {
  // A leftover from an earlier container with the same state directory.
  host.deleteLink(lease.hostIf);
  let nsFd: number;
  try {
    nsFd = openSync(`/proc/${pid}/ns/net`, 'r');
  } catch (e) {
    throw new TsrunError(`cannot open the network namespace of the container init ${pid}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    host.createVeth(lease.hostIf, lease.ifname, { mtu: lease.mtu, master: bridgeIndex, peerNetnsFd: nsFd, peerMac: lease.mac });
  } finally {
    closeSync(nsFd);
  }
  const hostEnd = host.link(lease.hostIf);
  if (!hostEnd) throw new TsrunError(`veth ${lease.hostIf} vanished after it was created`);
  host.setUp(hostEnd.index, lease.hostIf);

  const inner = Rtnl.inNetnsOf(pid);
  try {
    const lo = inner.link('lo');
    if (lo) inner.setUp(lo.index, 'lo');
    const eth = inner.link(lease.ifname);
    if (!eth) throw new TsrunError(`${lease.ifname} did not appear in the container's network namespace`);
    const ip = parseIPv4(lease.ip)!;
    const subnet = { network: (ip & mask4(lease.prefix)) >>> 0, prefix: lease.prefix };
    inner.addAddress(eth.index, ipv4Bytes(ip), lease.prefix, { broadcast: ipv4Bytes(broadcast4(subnet)), what: lease.ifname });
    if (lease.ip6) inner.addAddress(eth.index, ipv6Bytes(parseIPv6(lease.ip6)!), lease.prefix6!, { nodad: true, what: lease.ifname });
    inner.setUp(eth.index, lease.ifname);
    const gw = parseIPv4(lease.gateway)!;
    if (!contains4(subnet, gw)) throw new TsrunError(`gateway ${lease.gateway} is outside ${lease.ip}/${lease.prefix}`);
    inner.addDefaultRoute(ipv4Bytes(gw), eth.index);
    if (lease.gateway6) inner.addDefaultRoute(ipv6Bytes(parseIPv6(lease.gateway6)!), eth.index);
  } finally {
    inner.close();
  }
}

/** Deletes a lease's veth and table; errors are not fatal here (teardown). */
function undoLease(host: Rtnl, l: Lease): void {
  try {
    host.deleteLink(l.hostIf);
  } catch {
    // best effort
  }
  if (l.nftTable) {
    try {
      applyNft(deleteTableScript(l.nftTable), 'published ports');
    } catch {
      // best effort
    }
  }
}

function checkPublishConflicts(publish: PublishSpec[], owner: string): void {
  if (!publish.length) return;
  for (const bridge of leaseBridges()) {
    for (const l of readLeaseFile(bridge)?.leases ?? []) {
      if (l.owner === owner || !existsSync(l.owner)) continue;
      for (const theirs of l.publish ?? []) {
        const mine = publish.find((p) => publishConflicts(p, theirs));
        if (mine) throw new ConfigError(`--publish ${formatPublish(mine)}: host port ${mine.hostPort}/${mine.proto} is already published by ${l.owner}`);
      }
    }
  }
}

/** Undoes attachNetwork for the container at `owner` (its state directory):
 * works from the lease files alone, so it also cleans up after a create that
 * crashed before recording its lease in the state. */
export async function detachNetwork(owner: string): Promise<void> {
  const bridges = leaseBridges().filter((b) => readLeaseFile(b)?.leases.some((l) => l.owner === owner));
  if (bridges.length === 0) return;
  const host = new Rtnl();
  const errors: string[] = [];
  try {
    for (const bridge of bridges) {
      await withLeaseLock(bridge, () => {
        const file = readLeaseFile(bridge);
        if (!file) return;
        const mine = file.leases.filter((l) => l.owner === owner);
        for (const l of mine) {
          try {
            host.deleteLink(l.hostIf);
          } catch (e) {
            errors.push((e as Error).message);
          }
          if (l.nftTable) {
            try {
              applyNft(deleteTableScript(l.nftTable), 'published ports');
            } catch (e) {
              errors.push((e as Error).message);
            }
          }
        }
        file.leases = file.leases.filter((l) => l.owner !== owner);
        if (file.leases.length === 0) {
          // The last container has gone: so do the network's rules, and the
          // bridge if tsrun made it (a bridge of the host's own stays).
          if (file.createdBridge) {
            try {
              host.deleteLink(bridge);
            } catch (e) {
              if (!(e instanceof NetlinkError)) throw e;
              errors.push(e.message);
            }
          }
          if (file.nftTable) {
            try {
              applyNft(deleteTableScript(file.nftTable, 'inet'), `network "${file.network}"`);
            } catch (e) {
              errors.push((e as Error).message);
            }
          }
          removeLeaseFile(bridge);
        } else {
          writeLeaseFile(file);
        }
      });
    }
  } finally {
    host.close();
  }
  if (errors.length) throw new TsrunError(`network teardown: ${errors.join('; ')}`);
}
