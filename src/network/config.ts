// Named networks and how a container asks for one.
//
// Definitions: the built-in "tsrun0" (bridge tsrun0, 10.213.0.0/24), then
// /etc/tsrun/networks.json, then <state root>/networks.json; a later file
// overrides an earlier definition of the same name. The file:
//   { "networks": { "NAME": { "bridge": "tsbr1", "subnet": "10.213.1.0/24",
//       "gateway": "10.213.1.1", "mtu": 1500, "subnet6": "fd74:7372:7501::/64",
//       "masquerade": false } } }
// Only "subnet" is required; the bridge defaults to the name.
//
// A container's network: `--network NAME` on create/run, else the
// annotation io.github.tsrun.network; published ports from `--publish`, else
// the annotation io.github.tsrun.publish (comma-separated). Default: none.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, InvalidArgumentError } from '../errors';
import type { Spec } from '../oci/types';
import { contains4, contains6, formatIPv4, parseCidr4, parseCidr6, parseIPv4, parseIPv6, broadcast4, type Cidr4, type Cidr6 } from './ip';
import { hostRange } from './ipam';
import { parsePublish, type PublishSpec } from './publish';

export const NETWORK_ANNOTATION = 'io.github.tsrun.network';
export const PUBLISH_ANNOTATION = 'io.github.tsrun.publish';
export const SYSTEM_NETWORKS_FILE = '/etc/tsrun/networks.json';
export const DEFAULT_NETWORK = 'tsrun0';

export interface NetworkDef {
  name: string;
  bridge: string;
  subnet: Cidr4;
  gateway: number;
  subnet6?: Cidr6;
  gateway6?: bigint;
  /** undefined: the host's uplink MTU, at most 1500. */
  mtu?: number;
  /** Outbound NAT to the host's other interfaces (turns IPv4 forwarding on). */
  masquerade: boolean;
  /** Where it was defined, for error messages. */
  source: string;
}

interface RawNetwork {
  bridge?: unknown;
  subnet?: unknown;
  gateway?: unknown;
  subnet6?: unknown;
  gateway6?: unknown;
  mtu?: unknown;
  masquerade?: unknown;
}

const BUILTIN: Record<string, RawNetwork> = {
  [DEFAULT_NETWORK]: { bridge: DEFAULT_NETWORK, subnet: '10.213.0.0/24' },
};

/** Names that mean the default network, as docker and podman users write it. */
const ALIASES: Record<string, string> = { bridge: DEFAULT_NETWORK, default: DEFAULT_NETWORK };

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

export function parseNetworkDef(name: string, raw: RawNetwork, source: string): NetworkDef {
  const where = `network "${name}" in ${source}`;
  if (!NAME_RE.test(name) || name === 'none' || name === 'host') throw new ConfigError(`${source}: invalid network name "${name}"`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: must be an object`);
  const known = ['bridge', 'subnet', 'gateway', 'subnet6', 'gateway6', 'mtu', 'masquerade'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw new ConfigError(`${where}: unknown field "${k}" (known: ${known.join(', ')})`);
  const bridge = raw.bridge ?? name;
  if (typeof bridge !== 'string' || !IFNAME_RE.test(bridge) || bridge === '.' || bridge === '..') {
    throw new ConfigError(`${where}: invalid bridge name ${JSON.stringify(bridge)} (at most 15 letters, digits, "_", "-", ".")`);
  }
  if (typeof raw.subnet !== 'string') throw new ConfigError(`${where}: "subnet" (an IPv4 prefix such as 10.213.1.0/24) is required`);
  const subnet = parseCidr4(raw.subnet, `subnet of ${where}`);
  const range = (() => {
    try {
      return hostRange(subnet);
    } catch (e) {
      throw new ConfigError(`${where}: ${(e as Error).message}`);
    }
  })();
  let gateway = range.first;
  if (raw.gateway !== undefined) {
    const g = typeof raw.gateway === 'string' ? parseIPv4(raw.gateway) : undefined;
    if (g === undefined) throw new ConfigError(`${where}: invalid gateway ${JSON.stringify(raw.gateway)}`);
    if (!contains4(subnet, g) || g === subnet.network || g === broadcast4(subnet)) {
      throw new ConfigError(`${where}: gateway ${formatIPv4(g)} is not a host address of ${raw.subnet}`);
    }
    gateway = g;
  }
  let subnet6: Cidr6 | undefined;
  let gateway6: bigint | undefined;
  if (raw.subnet6 !== undefined) {
    if (typeof raw.subnet6 !== 'string') throw new ConfigError(`${where}: "subnet6" must be a string`);
    subnet6 = parseCidr6(raw.subnet6, `subnet6 of ${where}`);
    if (subnet6.prefix > 120) throw new ConfigError(`${where}: subnet6 /${subnet6.prefix} is too small (at most /120)`);
    gateway6 = subnet6.network + 1n;
    if (raw.gateway6 !== undefined) {
      const g = typeof raw.gateway6 === 'string' ? parseIPv6(raw.gateway6) : undefined;
      if (g === undefined || !contains6(subnet6, g) || g === subnet6.network) throw new ConfigError(`${where}: invalid gateway6 ${JSON.stringify(raw.gateway6)}`);
      gateway6 = g;
    }
  } else if (raw.gateway6 !== undefined) {
    throw new ConfigError(`${where}: "gateway6" needs "subnet6"`);
  }
  let mtu: number | undefined;
  if (raw.mtu !== undefined) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 576 || raw.mtu > 65535) throw new ConfigError(`${where}: "mtu" must be an integer from 576 to 65535`);
    mtu = raw.mtu;
  }
  if (raw.masquerade !== undefined && typeof raw.masquerade !== 'boolean') throw new ConfigError(`${where}: "masquerade" must be true or false`);
  return { name, bridge, subnet, gateway, ...(subnet6 ? { subnet6, gateway6 } : {}), ...(mtu ? { mtu } : {}), masquerade: raw.masquerade === true, source };
}

export function parseNetworksFile(text: string, source: string): NetworkDef[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  const nets = (doc as { networks?: unknown })?.networks;
  if (typeof doc !== 'object' || doc === null || typeof nets !== 'object' || nets === null || Array.isArray(nets)) {
    throw new ConfigError(`${source}: expected {"networks": {"NAME": {"subnet": "10.213.1.0/24", ...}}}`);
  }
  return Object.entries(nets as Record<string, RawNetwork>).map(([name, raw]) => parseNetworkDef(name, raw, source));
}

/** Every defined network: built-in, system-wide, then the state root's. */
export function loadNetworks(root: string, systemFile = SYSTEM_NETWORKS_FILE): Map<string, NetworkDef> {
  const out = new Map<string, NetworkDef>();
  for (const [name, raw] of Object.entries(BUILTIN)) out.set(name, parseNetworkDef(name, raw, 'the built-in networks'));
  for (const file of [systemFile, join(root, 'networks.json')]) {
    if (!existsSync(file)) continue;
    for (const def of parseNetworksFile(readFileSync(file, 'utf8'), file)) out.set(def.name, def);
  }
  // Two networks may not share a bridge with different subnets.
  const byBridge = new Map<string, NetworkDef>();
  for (const def of out.values()) {
    const other = byBridge.get(def.bridge);
    if (other && (other.subnet.network !== def.subnet.network || other.subnet.prefix !== def.subnet.prefix)) {
      throw new ConfigError(`networks "${other.name}" and "${def.name}" both use bridge ${def.bridge} with different subnets`);
    }
    byBridge.set(def.bridge, def);
  }
  return out;
}

/** What a container asked for: a network and its published ports, or
 * (an explicit "none" with a new network namespace) loopback only, up. */
export type NetworkRequest = { def: NetworkDef; publish: PublishSpec[] } | { loopbackOnly: true };

export interface NetworkChoice {
  /** --network; undefined: the annotation decides. */
  network?: string;
  /** --publish; empty: the annotation decides. */
  publish?: string[];
}

/** The network a container gets (undefined: none), checked against its
 * config before anything is created, so bad input leaves nothing behind. */
export function resolveNetwork(spec: Spec, choice: NetworkChoice, root: string, systemFile?: string): NetworkRequest | undefined {
  const ann = spec.annotations ?? {};
  const fromFlag = choice.network !== undefined && choice.network !== '';
  const name = (fromFlag ? choice.network! : ann[NETWORK_ANNOTATION]?.trim()) || 'none';
  const publishText = choice.publish?.length
    ? choice.publish
    : (ann[PUBLISH_ANNOTATION] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  const how = fromFlag ? '--network' : `annotation ${NETWORK_ANNOTATION}`;
  if (name === 'none') {
    if (publishText.length) throw new InvalidArgumentError(`--publish needs a network: add --network ${DEFAULT_NETWORK} (or another named network)`);
    // Asked for explicitly: lo up in a new namespace, as runc does. Left
    // implicit, tsrun does not touch the namespace (no cost).
    const explicit = fromFlag || ann[NETWORK_ANNOTATION] !== undefined;
    const fresh = (spec.linux?.namespaces ?? []).some((n) => n.type === 'network' && !n.path);
    return explicit && fresh ? { loopbackOnly: true } : undefined;
  }
  const publish = publishText.map(parsePublish);
  const nets = loadNetworks(root, systemFile);
  const def = nets.get(ALIASES[name] ?? name);
  if (!def) {
    throw new ConfigError(
      `unknown network "${name}" (${how}): known networks are none, ${[...nets.keys()].join(', ')}; define more in ${SYSTEM_NETWORKS_FILE} or ${join(root, 'networks.json')}`,
    );
  }
  const ns = (spec.linux?.namespaces ?? []).find((n) => n.type === 'network');
  if (!ns) throw new ConfigError(`network "${def.name}" needs a new network namespace: add {"type": "network"} to linux.namespaces in config.json`);
  if (ns.path) throw new ConfigError(`network "${def.name}" needs a new network namespace, but config.json joins ${ns.path}; remove its path or use --network none`);
  for (let i = 0; i < publish.length; i++) {
    for (let j = 0; j < i; j++) {
      if (publish[i]!.hostPort === publish[j]!.hostPort && publish[i]!.proto === publish[j]!.proto) {
        throw new InvalidArgumentError(`--publish: host port ${publish[i]!.hostPort}/${publish[i]!.proto} is published twice`);
      }
    }
  }
  return { def, publish };
}
