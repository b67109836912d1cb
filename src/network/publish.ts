// Published ports: `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`, as
// docker and podman write them (pure).
import { InvalidArgumentError } from '../errors';
import { parseIPv4 } from './ip';

export interface PublishSpec {
  /** Host address to match; undefined: every local address of the host. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp';
}

function port(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new InvalidArgumentError(`invalid --publish "${spec}": "${text}" is not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new InvalidArgumentError(`invalid --publish "${spec}": port ${n} is out of range 1-65535`);
  return n;
}

export function parsePublish(spec: string): PublishSpec {
  const usage = 'expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp], e.g. 127.0.0.1:8080:80';
  let rest = spec.trim();
  let proto: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw new InvalidArgumentError(`invalid --publish "${spec}": protocol "${p}" is not tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  if (rest.startsWith('[')) throw new InvalidArgumentError(`invalid --publish "${spec}": IPv6 host addresses are not supported for published ports`);
  const parts = rest.split(':');
  let hostIp: string | undefined;
  if (parts.length === 3) {
    hostIp = parts[0]!;
    if (hostIp === '' || hostIp === '0.0.0.0') hostIp = undefined;
    else if (parseIPv4(hostIp) === undefined) throw new InvalidArgumentError(`invalid --publish "${spec}": "${hostIp}" is not an IPv4 address`);
  } else if (parts.length !== 2) {
    throw new InvalidArgumentError(`invalid --publish "${spec}": ${usage}`);
  }
  const [hp, cp] = parts.slice(-2) as [string, string];
  return { ...(hostIp ? { hostIp } : {}), hostPort: port(hp, spec), containerPort: port(cp, spec), proto };
}

export function formatPublish(p: PublishSpec): string {
  return `${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.proto}`;
}

/** Do two publishes claim the same host port? */
export function publishConflicts(a: PublishSpec, b: PublishSpec): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (!a.hostIp || !b.hostIp || a.hostIp === b.hostIp);
}
