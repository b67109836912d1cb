// IPv4 and IPv6 addresses and prefixes, as plain values (pure; no I/O).
// IPv4 addresses are unsigned 32-bit numbers, IPv6 ones 128-bit bigints.
import { ConfigError } from '../errors';

export interface Cidr4 {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
}

export interface Cidr6 {
  network: bigint;
  prefix: number;
}

export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const s = m[i]!;
    if (s.length > 1 && s[0] === '0') return undefined; // no octal-looking octets
    const n = Number(s);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

export function formatIPv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export function ipv4Bytes(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseCidr4(text: string, what = 'subnet'): Cidr4 {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const addr = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) throw new ConfigError(`invalid ${what} "${text}": expected an IPv4 prefix such as 10.213.0.0/24`);
  return { network: (addr & mask4(prefix)) >>> 0, prefix };
}

export function formatCidr4(c: Cidr4): string {
  return `${formatIPv4(c.network)}/${c.prefix}`;
}

export function contains4(c: Cidr4, addr: number): boolean {
  return ((addr & mask4(c.prefix)) >>> 0) === c.network;
}

export function broadcast4(c: Cidr4): number {
  return (c.network | ~mask4(c.prefix)) >>> 0;
}

/** Do two prefixes share any address? */
export function overlaps4(a: Cidr4, b: Cidr4): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.network & mask4(p)) >>> 0) === ((b.network & mask4(p)) >>> 0);
}

// ---- IPv6 ----

const MAX128 = (1n << 128n) - 1n;

export function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
export function formatIPv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

export function ipv6Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE((v >> 64n) & 0xffffffffffffffffn, 0);
  b.writeBigUInt64BE(v & 0xffffffffffffffffn, 8);
  return b;
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (MAX128 << BigInt(128 - prefix)) & MAX128;
}

export function parseCidr6(text: string, what = 'subnet6'): Cidr6 {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const addr = m ? parseIPv6(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 128)) throw new ConfigError(`invalid ${what} "${text}": expected an IPv6 prefix such as fd00:7473:7275::/64`);
  return { network: addr & mask6(prefix), prefix };
}

export function contains6(c: Cidr6, addr: bigint): boolean {
  return (addr & mask6(c.prefix)) === c.network;
}
