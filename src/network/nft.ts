// nftables rules for published ports, outbound masquerade and isolation
// between networks. Each network and each container with published ports
// gets a table of its own, so teardown is one `delete table` (no rule
// handles to find). Rules are written as nft scripts (pure) and applied with
// Debian's `nft` in one atomic transaction.
import { childProcess } from '../sys/node-lazy';
import { TsrunError } from '../errors';
import { formatCidr4, formatIPv4 } from './ip';
import type { NetworkDef } from './config';
import type { PublishSpec } from './publish';

export const NET_TABLE_PREFIX = 'tsrun-n-';
export const CONTAINER_TABLE_PREFIX = 'tsrun-c-';

function q(s: string): string {
  return `"${s}"`;
}

/** The network's table (family inet: the isolation covers IPv6 too):
 * containers' traffic to 127.0.0.0/8 dropped (the
 * bridge routes loopback-sourced packets for published ports), new
 * connections routed into the bridge from elsewhere dropped unless
 * DNAT'ed to a published port (so networks cannot reach each other),
 * loopback-sourced packets masqueraded to the gateway address, and with
 * `masquerade` the subnet's outbound traffic. */
export function networkTableScript(def: NetworkDef, table: string): string {
  const br = q(def.bridge);
  const subnet = formatCidr4(def.subnet);
  const lines = [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  chain guard {`,
    `    type filter hook prerouting priority -300; policy accept;`,
    `    iifname ${br} ip daddr 127.0.0.0/8 drop`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority 0; policy accept;`,
    `    oifname ${br} iifname != ${br} ct status dnat accept`,
    `    oifname ${br} iifname != ${br} ct state new drop`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority 100; policy accept;`,
    `    oifname ${br} ip saddr 127.0.0.0/8 masquerade`,
    ...(def.masquerade ? [`    ip saddr ${subnet} oifname != ${br} ip daddr != ${subnet} masquerade`] : []),
    `  }`,
    `}`,
  ];
  return lines.join('\n') + '\n';
}

/** A container's table: DNAT of its published ports, for packets arriving
 * from elsewhere (prerouting) and from the host itself (output). */
export function containerTableScript(table: string, containerIp: number, publish: PublishSpec[]): string {
  const rule = (p: PublishSpec) =>
    `    ${p.hostIp ? `ip daddr ${p.hostIp}` : 'fib daddr type local'} ${p.proto} dport ${p.hostPort} dnat to ${formatIPv4(containerIp)}:${p.containerPort}`;
  const external = publish.filter((p) => !p.hostIp?.startsWith('127.'));
  const lines = [
    `add table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority -100; policy accept;`,
    ...external.map(rule),
    `  }`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    ...publish.map(rule),
    `  }`,
    `}`,
  ];
  return lines.join('\n') + '\n';
}

export function deleteTableScript(table: string, family: 'ip' | 'inet' = 'ip'): string {
  // add first: deleting a table that is not there is then not an error.
  return `add table ${family} ${table}\ndelete table ${family} ${table}\n`;
}

export function nftAvailable(): boolean {
  try {
    childProcess().execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function applyNft(script: string, what: string): void {
  try {
    childProcess().execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new TsrunError(`${what}: nft is not installed (Debian's nftables package is needed for published ports and masquerade)`);
    const detail = (err.stderr ?? '').split('\n').find((l) => l.startsWith('Error')) ?? err.message;
    throw new TsrunError(`${what}: nft: ${detail.trim()}`);
  }
}
