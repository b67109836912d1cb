// What runtime-spec 1.3 added for Linux, checked from inside real
// containers: linux.netDevices (host devices moved into the container's
// network namespace with their addresses) and linux.memoryPolicy
// (set_mempolicy before the program runs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Spec } from '../src/oci/types';
import { hostLeftovers, Sandbox } from './helpers';

const sb = new Sandbox('spec13');
const tag = `ts${process.pid % 100000}`;
const dummies: string[] = [];

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A host interface with an IPv4 and an IPv6 address: one end of a veth
 * pair (this kernel has no dummy driver). */
function dummy(n: number, v4: string, v6: string): string {
  const name = `${tag}d${n}`;
  ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`);
  dummies.push(name, `${name}p`);
  ip('addr', 'add', v4, 'dev', name);
  ip('addr', 'add', v6, 'dev', name, 'nodad');
  return name;
}

/** create fails with one line matching message, leaving no state and nothing on the host. */
function createRefused(mutate: (s: Spec) => void, message: RegExp): void {
  const b = sb.bundle(['true'], mutate);
  const id = sb.id();
  const r = sb.tsrun(['create', '--bundle', b, id]);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(existsSync(`${sb.root}/${id}`)).toBe(false);
  expect(hostLeftovers(id)).toEqual([]);
}

const hostHas = (name: string) => existsSync(`/sys/class/net/${name}`);

afterAll(() => {
  sb.cleanup();
  for (const d of dummies) if (hostHas(d)) spawnSync('ip', ['link', 'del', d]);
});

describe('linux.netDevices', () => {
  it('moves a host device in under its new name, up, with its permanent global addresses; it is gone from the host', () => {
    const dev = dummy(0, '192.0.2.10/24', '2001:db8::10/64');
    const b = sb.bundle(['sh', '-c', 'ip -o link show eth5; ip -o addr show dev eth5'], (s) => {
      s.linux!.netDevices = { [dev]: { name: 'eth5' } };
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/eth5(@\S+)?: <[^>]*\bUP\b/);
    expect(r.stdout).toMatch(/inet 192\.0\.2\.10\/24/);
    expect(r.stdout).toMatch(/inet6 2001:db8::10\/64/);
    // A virtual device ends with the namespace (the spec: never moved back).
    expect(hostHas(dev)).toBe(false);
  });

  it('keeps the host name when none is given, and fills in a "%d" template', () => {
    const a = dummy(1, '192.0.2.11/24', '2001:db8::11/64');
    const c = dummy(2, '192.0.2.12/24', '2001:db8::12/64');
    const b = sb.bundle(['sh', '-c', `ip -o link show ${a} && ip -o link show | grep -c ': net[0-9]'`], (s) => {
      s.linux!.netDevices = { [a]: {}, [c]: { name: 'net%d' } };
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe('1');
  });

  it('refuses a device that does not exist, a name taken in the container, a bad name, and no network namespace, leaving nothing behind', () => {
    const cases: [(s: Spec) => void, RegExp][] = [
      [(s) => (s.linux!.netDevices = { [`${tag}none`]: {} }), /no network device "ts\d+none" on the host/],
      [(s) => (s.linux!.netDevices = { [dummy(3, '192.0.2.13/24', '2001:db8::13/64')]: { name: 'lo' } }), /a network device named "lo" already exists in the container/],
      [(s) => (s.linux!.netDevices = { 'a/b': {} }), /invalid network device name "a\/b"/],
      [
        (s) => {
          s.linux!.netDevices = { x: {} };
          s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
        },
        /needs a network namespace/,
      ],
    ];
    for (const [mutate, message] of cases) createRefused(mutate, message);
    // The device whose move was refused stays on the host.
    expect(readdirSync('/sys/class/net')).toContain(`${tag}d3`);
  });
});

describe('linux.memoryPolicy', () => {
  it('MPOL_BIND on node 0 is the policy of the container\'s program (and of exec\'d ones)', () => {
    const b = sb.bundle(['sh', '-c', 'grep -m1 -o "bind:[0-9-]*" /proc/self/numa_maps'], (s) => {
      s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' };
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('bind:0');
    const id = sb.id();
    const d = sb.bundle(['sleep', '30'], (s) => {
      s.linux!.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] };
    });
    expect(sb.runDetached(d, id).code).toBe(0);
    const e = sb.tsrun(['exec', id, 'sh', '-c', 'grep -m1 -o "interleave[^ ]*" /proc/self/numa_maps']);
    expect(e.stdout.trim()).toBe('interleave=static:0');
    sb.tsrun(['delete', '--force', id]);
  });

  it('refuses what the mode does not take, and what the kernel refuses, with one line', () => {
    const cases: [object, RegExp][] = [
      [{ mode: 'MPOL_DEFAULT', nodes: '0' }, /mode MPOL_DEFAULT takes no nodes/],
      [{ mode: 'MPOL_BIND' }, /mode MPOL_BIND needs at least one node/],
      [{ mode: 'MPOL_BIND', nodes: '0-x' }, /invalid node list "0-x"/],
      [{ mode: 'MPOL_BIND', nodes: '1000' }, /memory policy MPOL_BIND on nodes 1000: the kernel refused/],
    ];
    for (const [mp, message] of cases) createRefused((s) => (s.linux!.memoryPolicy = mp as never), message);
  });
});

describe('linux.intelRdt', () => {
  it('schemata and enableMonitoring are refused with one line (no resctrl support), not skipped', () => {
    createRefused((s) => (s.linux!.intelRdt = { closID: 'c1', schemata: ['L3:0=ff'], enableMonitoring: true }), /linux\.intelRdt .*is not supported by tsrun/);
  });
});
