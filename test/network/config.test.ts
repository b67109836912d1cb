import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNetworks, parseNetworkDef, parseNetworksFile, resolveNetwork } from '../../src/network/config';
import { formatIPv4, formatIPv6 } from '../../src/network/ip';
import { containerTableScript, networkTableScript } from '../../src/network/nft';
import { parseIPv4 } from '../../src/network/ip';
import type { Spec } from '../../src/oci/types';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-netcfg-'));
const none = join(dir, 'no-such-system-file.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spec(ns: Spec['linux'] = { namespaces: [{ type: 'network' }] }, annotations?: Record<string, string>): Spec {
  return { ociVersion: '1.2.0', root: { path: 'rootfs' }, linux: ns, ...(annotations ? { annotations } : {}) };
}

describe('network definitions', () => {
  it('has the built-in default network', () => {
    const nets = loadNetworks(join(dir, 'empty'), none);
    const d = nets.get('tsrun0')!;
    expect(d.bridge).toBe('tsrun0');
    expect(formatIPv4(d.subnet.network)).toBe('10.213.0.0');
    expect(d.subnet.prefix).toBe(24);
    expect(formatIPv4(d.gateway)).toBe('10.213.0.1');
    expect(d.masquerade).toBe(false);
  });

  it('reads definitions, with defaults for bridge and gateway', () => {
    const [d] = parseNetworksFile(JSON.stringify({ networks: { web: { subnet: '10.213.7.0/24', subnet6: 'fd74:7372:7507::/64', mtu: 1400 } } }), 'f.json');
    expect(d!.bridge).toBe('web');
    expect(formatIPv4(d!.gateway)).toBe('10.213.7.1');
    expect(formatIPv6(d!.gateway6!)).toBe('fd74:7372:7507::1');
    expect(d!.mtu).toBe(1400);
  });

  it('rejects bad definitions with the file and network named', () => {
    expect(() => parseNetworkDef('x', { subnet: '10.213.7.0/24', gateway: '10.213.8.1' }, 'f.json')).toThrow(/network "x" in f.json: gateway 10.213.8.1 is not a host address/);
    expect(() => parseNetworkDef('x', { subnet: '10.213.7.0/31' }, 'f.json')).toThrow(/too small/);
    expect(() => parseNetworkDef('x', { subnet: '10.213.7.0/24', bridge: 'a-name-far-too-long' }, 'f.json')).toThrow(/invalid bridge name/);
    expect(() => parseNetworkDef('x', { subnet: '10.213.7.0/24', colour: 'red' } as never, 'f.json')).toThrow(/unknown field "colour"/);
    expect(() => parseNetworkDef('none', { subnet: '10.213.7.0/24' }, 'f.json')).toThrow(/invalid network name/);
    expect(() => parseNetworksFile('{"nets": {}}', 'f.json')).toThrow(/expected \{"networks"/);
    expect(() => parseNetworksFile('{', 'f.json')).toThrow(/invalid JSON/);
  });

  it('reads <root>/networks.json over the system file', () => {
    const root = join(dir, 'root1');
    require('node:fs').mkdirSync(root, { recursive: true });
    const sys = join(dir, 'sys.json');
    writeFileSync(sys, JSON.stringify({ networks: { a: { subnet: '10.213.10.0/24' }, b: { subnet: '10.213.11.0/24' } } }));
    writeFileSync(join(root, 'networks.json'), JSON.stringify({ networks: { b: { subnet: '10.213.12.0/24' } } }));
    const nets = loadNetworks(root, sys);
    expect(formatIPv4(nets.get('a')!.subnet.network)).toBe('10.213.10.0');
    expect(formatIPv4(nets.get('b')!.subnet.network)).toBe('10.213.12.0');
  });

  it('refuses one bridge with two subnets', () => {
    const root = join(dir, 'root2');
    require('node:fs').mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'networks.json'), JSON.stringify({ networks: { a: { bridge: 'br', subnet: '10.213.10.0/24' }, b: { bridge: 'br', subnet: '10.213.11.0/24' } } }));
    expect(() => loadNetworks(root, none)).toThrow(/both use bridge br/);
  });
});

describe('choosing a network', () => {
  const root = join(dir, 'empty');
  it('is none by default', () => {
    expect(resolveNetwork(spec(), {}, root, none)).toBeUndefined();
  });

  it('brings lo up only when none is asked for explicitly', () => {
    expect(resolveNetwork(spec(), { network: 'none' }, root, none)).toEqual({ loopbackOnly: true });
    expect(resolveNetwork(spec(undefined, { 'io.github.tsrun.network': 'none' }), {}, root, none)).toEqual({ loopbackOnly: true });
    // no new network namespace: nothing to do
    expect(resolveNetwork(spec({ namespaces: [{ type: 'network', path: '/run/netns/x' }] }), { network: 'none' }, root, none)).toBeUndefined();
  });

  it('takes the flag over the annotation', () => {
    const s = spec(undefined, { 'io.github.tsrun.network': 'nope', 'io.github.tsrun.publish': '127.0.0.1:8080:80, 9090:90/udp' });
    const r = resolveNetwork(s, { network: 'tsrun0' }, root, none);
    expect(r && 'def' in r && r.def.name).toBe('tsrun0');
    expect(r && 'def' in r && r.publish).toEqual([
      { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'tcp' },
      { hostPort: 9090, containerPort: 90, proto: 'udp' },
    ]);
    expect(() => resolveNetwork(s, {}, root, none)).toThrow(/unknown network "nope" \(annotation io.github.tsrun.network\): known networks are none, tsrun0/);
  });

  it('accepts bridge as the default network', () => {
    const r = resolveNetwork(spec(), { network: 'bridge' }, root, none);
    expect(r && 'def' in r && r.def.name).toBe('tsrun0');
  });

  it('needs a new network namespace', () => {
    expect(() => resolveNetwork(spec({ namespaces: [{ type: 'pid' }] }), { network: 'tsrun0' }, root, none)).toThrow(/needs a new network namespace: add \{"type": "network"\}/);
    expect(() => resolveNetwork(spec({ namespaces: [{ type: 'network', path: '/proc/1/ns/net' }] }), { network: 'tsrun0' }, root, none)).toThrow(/joins \/proc\/1\/ns\/net/);
  });

  it('checks --publish', () => {
    expect(() => resolveNetwork(spec(), { publish: ['8080:80'] }, root, none)).toThrow(/--publish needs a network/);
    expect(() => resolveNetwork(spec(), { network: 'tsrun0', publish: ['8080'] }, root, none)).toThrow(/invalid --publish "8080"/);
    expect(() => resolveNetwork(spec(), { network: 'tsrun0', publish: ['8080:80', '127.0.0.1:8080:81'] }, root, none)).toThrow(/published twice/);
  });
});

describe('nftables scripts', () => {
  const [def] = parseNetworksFile(JSON.stringify({ networks: { n: { bridge: 'tsbr', subnet: '10.213.7.0/24', masquerade: true } } }), 'f');
  it('isolates the network and masquerades when asked', () => {
    const s = networkTableScript(def!, 'tsrun-n-tsbr');
    expect(s.startsWith('add table inet tsrun-n-tsbr\ndelete table inet tsrun-n-tsbr\ntable inet tsrun-n-tsbr {')).toBe(true);
    expect(s).toContain('iifname "tsbr" ip daddr 127.0.0.0/8 drop');
    expect(s).toContain('oifname "tsbr" iifname != "tsbr" ct state new drop');
    expect(s).toContain('ip saddr 10.213.7.0/24 oifname != "tsbr" ip daddr != 10.213.7.0/24 masquerade');
    expect(networkTableScript({ ...def!, masquerade: false }, 't')).not.toContain('ip saddr 10.213.7.0/24');
  });

  it('DNATs published ports from the host and, unless on loopback, from outside', () => {
    const s = containerTableScript('tsrun-c-1', parseIPv4('10.213.7.5')!, [
      { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'tcp' },
      { hostPort: 5353, containerPort: 53, proto: 'udp' },
    ]);
    const [pre, out] = s.split('chain output');
    expect(pre).not.toContain('127.0.0.1');
    expect(pre).toContain('fib daddr type local udp dport 5353 dnat to 10.213.7.5:53');
    expect(out).toContain('ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.213.7.5:80');
    expect(out).toContain('fib daddr type local udp dport 5353 dnat to 10.213.7.5:53');
  });
});
