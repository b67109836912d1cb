import { describe, expect, it } from 'vitest';
import { allocate4, hostRange, staleLeases, type LeaseFile } from '../../src/network/ipam';
import { broadcast4, contains4, formatIPv4, formatIPv6, overlaps4, parseCidr4, parseCidr6, parseIPv4, parseIPv6 } from '../../src/network/ip';

const ip = (s: string) => parseIPv4(s)!;

describe('addresses', () => {
  it('parses and formats IPv4', () => {
    expect(formatIPv4(ip('10.213.0.1'))).toBe('10.213.0.1');
    expect(ip('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['10.213.0', '10.213.0.256', '010.1.1.1', '1.2.3.4 ', 'a.b.c.d']) expect(parseIPv4(bad)).toBeUndefined();
  });

  it('parses prefixes and clears host bits', () => {
    const c = parseCidr4('10.213.0.77/24');
    expect(formatIPv4(c.network)).toBe('10.213.0.0');
    expect(formatIPv4(broadcast4(c))).toBe('10.213.0.255');
    expect(contains4(c, ip('10.213.0.200'))).toBe(true);
    expect(contains4(c, ip('10.213.1.1'))).toBe(false);
    expect(overlaps4(parseCidr4('10.0.0.0/8'), c)).toBe(true);
    expect(overlaps4(parseCidr4('10.213.1.0/24'), c)).toBe(false);
    expect(() => parseCidr4('10.213.0.0/33')).toThrow(/invalid subnet/);
  });

  it('parses and formats IPv6 (RFC 5952)', () => {
    expect(formatIPv6(parseIPv6('fd74:7372:7500:0:0:0:0:1')!)).toBe('fd74:7372:7500::1');
    expect(formatIPv6(parseIPv6('::')!)).toBe('::');
    expect(formatIPv6(parseIPv6('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
    expect(formatIPv6(parseIPv6('::ffff:10.1.2.3')!)).toBe('::ffff:a01:203');
    expect(parseIPv6('1::2::3')).toBeUndefined();
    expect(parseIPv6('12345::')).toBeUndefined();
    expect(formatIPv6(parseCidr6('fd74:7372:7500::99/64').network)).toBe('fd74:7372:7500::');
  });
});

describe('IPAM', () => {
  const net = parseCidr4('10.213.0.0/24');
  const gw = ip('10.213.0.1');

  it('hands out host addresses, never the network, broadcast or gateway address', () => {
    const got: number[] = [];
    for (;;) {
      const a = allocate4(net, gw, got);
      if (a === undefined) break;
      got.push(a);
    }
    expect(got.length).toBe(253);
    expect(new Set(got).size).toBe(253);
    expect(got).not.toContain(gw);
    expect(got).not.toContain(net.network);
    expect(got).not.toContain(broadcast4(net));
    expect(formatIPv4(got[0]!)).toBe('10.213.0.2');
  });

  it('goes round from the last address, so a released one is not reused at once', () => {
    expect(formatIPv4(allocate4(net, gw, [ip('10.213.0.2')], ip('10.213.0.9'))!)).toBe('10.213.0.10');
    // wraps at the end of the subnet
    expect(formatIPv4(allocate4(net, gw, [], ip('10.213.0.254'))!)).toBe('10.213.0.2');
    // a last address outside the subnet is ignored
    expect(formatIPv4(allocate4(net, gw, [], ip('192.0.2.1'))!)).toBe('10.213.0.2');
  });

  it('reports a full subnet', () => {
    const tiny = parseCidr4('10.213.9.0/30');
    const g = ip('10.213.9.1');
    const first = allocate4(tiny, g, []);
    expect(formatIPv4(first!)).toBe('10.213.9.2');
    expect(allocate4(tiny, g, [first!])).toBeUndefined();
  });

  it('refuses subnets without room for a container', () => {
    expect(() => hostRange(parseCidr4('10.213.9.0/31'))).toThrow(/too small/);
    expect(hostRange(parseCidr4('10.213.9.0/30'))).toEqual({ first: ip('10.213.9.1'), last: ip('10.213.9.2') });
  });

  it('finds leases whose container is gone', () => {
    const file: LeaseFile = {
      bridge: 'b',
      network: 'n',
      subnet: '10.213.0.0/24',
      gateway: '10.213.0.1',
      createdBridge: true,
      leases: [
        { ip: '10.213.0.2', owner: '/run/tsrun/a', hostIf: 'tsva', created: '' },
        { ip: '10.213.0.3', owner: '/run/tsrun/b', hostIf: 'tsvb', created: '' },
      ],
    };
    expect(staleLeases(file, (p) => p.endsWith('/a')).map((l) => l.ip)).toEqual(['10.213.0.3']);
  });
});
