// Networking with real containers (issue 7): bridges, veth pairs and
// addresses over rtnetlink, IPAM under parallel creates, published ports
// through nftables, isolation between networks, teardown, and `tsrun jail`.
// All traffic stays between this machine's own containers, their bridges
// and 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namesFor, type NetworkLease } from '../src/network/index';
import { Rtnl } from '../src/network/rtnl';
import type { Spec } from '../src/oci/types';
import { hostLeftovers, Sandbox, TSRUN, type Result } from './helpers';

const sb = new Sandbox('net');
const LEASES = process.env.TSRUN_NET_STATE ?? '/run/tsrun-net';
// Networks of our own, defined in <root>/networks.json: bridges and subnets
// no one else uses.
const NETS = {
  'tsit-a': { bridge: 'tsitA', subnet: '10.213.200.0/24' },
  'tsit-b': { bridge: 'tsitB', subnet: '10.213.201.0/24' },
  'tsit-tiny': { bridge: 'tsitT', subnet: '10.213.202.0/30' },
  'tsit-host': { bridge: 'tsitH', subnet: '10.213.204.0/24' },
  'tsit-v6': { bridge: 'tsitV', subnet: '10.213.203.0/24', subnet6: 'fd74:7372:75cb::/64', masquerade: true },
};
const PORT_BASE = 20000 + (process.pid % 20000);

beforeAll(() => {
  chmodSync(sb.dir, 0o755);
  mkdirSync(sb.root, { recursive: true });
  writeFileSync(join(sb.root, 'networks.json'), JSON.stringify({ networks: NETS }));
});

afterAll(() => {
  sb.cleanup();
});

/** Busybox sleeping, with CAP_NET_RAW for ping; extra mutations after. */
function bundle(args: string[] = ['sleep', '600'], mutate?: (s: Spec) => void): string {
  return sb.bundle(args, (s) => {
    const c = s.process!.capabilities!;
    for (const set of [c.bounding!, c.effective!, c.permitted!]) set.push('CAP_NET_RAW');
    mutate?.(s);
  });
}

/** tsrun with stdio that a detached container may keep (no pipes to wait on). */
function tsrunQuiet(args: string[]): Result {
  const errFile = join(sb.dir, `err.${Math.random().toString(36).slice(2)}`);
  const err = openSync(errFile, 'w');
  const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', 'ignore', err], timeout: 30000 });
  closeSync(err);
  const stderr = readFileSync(errFile, 'utf8');
  rmSync(errFile);
  return { code: r.status ?? -1, stdout: '', stderr };
}

function lease(id: string): NetworkLease {
  const st = JSON.parse(readFileSync(join(sb.root, id, 'state.json'), 'utf8')) as { network?: NetworkLease };
  expect(st.network, `container ${id} has a network lease`).toBeDefined();
  return st.network!;
}

/** A detached container on a network; returns its id and lease. */
function up(network: string, b = bundle(), extra: string[] = []): { id: string; net: NetworkLease } {
  const id = sb.id();
  const r = tsrunQuiet(['run', '--detach', '--bundle', b, '--network', network, ...extra, id]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { id, net: lease(id) };
}

function sh(id: string, script: string): Result {
  return sb.tsrun(['exec', id, 'sh', '-c', script], { timeout: 30000 });
}

function shDetached(id: string, script: string): void {
  expect(tsrunQuiet(['exec', '--detach', id, 'sh', '-c', script]).code).toBe(0);
}

function del(id: string): void {
  const r = sb.tsrun(['delete', '--force', id]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

function nftTables(): string[] {
  const r = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

function leaseOwners(): string[] {
  const out: string[] = [];
  if (!existsSync(LEASES)) return out;
  for (const f of readdirSync(LEASES).filter((n) => n.endsWith('.json'))) {
    const file = JSON.parse(readFileSync(join(LEASES, f), 'utf8')) as { leases: { owner: string; ip: string }[] };
    for (const l of file.leases) out.push(l.owner);
  }
  return out;
}

/** What a container's network could leave behind. */
function netLeftovers(id: string): string[] {
  const owner = join(sb.root, id);
  const { hostIf, table } = namesFor(owner);
  const out: string[] = [];
  if (existsSync(`/sys/class/net/${hostIf}`)) out.push(`veth ${hostIf}`);
  if (leaseOwners().includes(owner)) out.push(`lease of ${owner}`);
  if (nftTables().some((t) => t.endsWith(` ${table}`))) out.push(`nft table ${table}`);
  if (existsSync(owner)) out.push(`state dir ${owner}`);
  return [...out, ...hostLeftovers(id)];
}

/** A TCP server on the host in a child process (spawnSync blocks our own
 * event loop): answers "echo:<what it got>". Resolves once listening. */
async function hostServer(ip: string, port: number): Promise<() => void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer(s=>s.on('data',d=>s.end('echo:'+d))).listen(${port},'${ip}',()=>console.log('ready'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (c) => reject(new Error(`host server exited (${c})`)));
  });
  return () => child.kill('SIGKILL');
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function httpGetRetry(port: number, path: string, ms = 10000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await httpGet(port, path);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function withIpForward<T>(value: string, fn: () => T): T {
  const path = '/proc/sys/net/ipv4/ip_forward';
  const old = readFileSync(path, 'utf8').trim();
  writeFileSync(path, value);
  try {
    return fn();
  } finally {
    writeFileSync(path, old);
  }
}

describe('bridge networks', () => {
  it('connects two containers on one bridge to each other and to the gateway', async () => {
    const a = up('tsit-a');
    const b = up('tsit-a');
    expect(a.net.ip).not.toBe(b.net.ip);
    expect(a.net.gateway).toBe('10.213.200.1');
    expect(a.net.ifname).toBe('eth0');
    expect(existsSync(`/sys/class/net/${a.net.hostIf}/master`)).toBe(true);
    expect(readFileSync(`/sys/class/net/${a.net.hostIf}/master/uevent`, 'utf8')).toContain('INTERFACE=tsitA');

    // Inside: lo and eth0 up, the address, the default route, the MTU.
    const inside = sh(a.id, 'cat /sys/class/net/lo/flags /sys/class/net/eth0/flags /sys/class/net/eth0/mtu /sys/class/net/eth0/address; ip -4 addr show eth0; ip route');
    expect(inside.code).toBe(0);
    const [loFlags, ethFlags, mtu, mac] = inside.stdout.split('\n');
    expect(Number(loFlags) & 1).toBe(1);
    expect(Number(ethFlags) & 1).toBe(1);
    expect(Number(mtu)).toBe(a.net.mtu);
    expect(mac).toBe(a.net.mac);
    expect(inside.stdout).toContain(`inet ${a.net.ip}/24`);
    expect(inside.stdout).toMatch(/default via 10\.213\.200\.1 dev eth0/);

    // By IP: ping and a TCP exchange with busybox nc.
    const ping = sh(a.id, `ping -c1 -W2 ${b.net.ip}`);
    expect(ping.stdout).toContain('1 packets received');
    shDetached(b.id, `echo pong-from-b | nc -l -p 7000`);
    const tcp = sh(a.id, `for i in $(seq 1 50); do nc ${b.net.ip} 7000 && exit 0; sleep 0.1; done; exit 1`);
    expect(tcp.stdout).toContain('pong-from-b');
    expect(tcp.code).toBe(0);

    // A listener on the host, bound to the bridge's gateway address.
    const stop = await hostServer('10.213.200.1', PORT_BASE);
    try {
      const r = sh(a.id, `echo hello-gw | nc 10.213.200.1 ${PORT_BASE}`);
      expect(r.stdout).toContain('echo:hello-gw');
    } finally {
      stop();
    }

    // Teardown: the bridge stays while b uses it, then goes with b.
    del(a.id);
    expect(netLeftovers(a.id)).toEqual([]);
    expect(existsSync('/sys/class/net/tsitA')).toBe(true);
    expect(sh(b.id, 'ping -c1 -W2 10.213.200.1').stdout).toContain('1 packets received');
    del(b.id);
    expect(netLeftovers(b.id)).toEqual([]);
    expect(existsSync('/sys/class/net/tsitA')).toBe(false);
    expect(nftTables().filter((t) => t.includes('tsitA'))).toEqual([]);
    expect(existsSync(join(LEASES, 'tsitA.json'))).toBe(false);
  });

  it('keeps containers on different networks apart', () => {
    const a = up('tsit-a');
    const b = up('tsit-b');
    expect(b.net.ip.startsWith('10.213.201.')).toBe(true);
    shDetached(a.id, 'while true; do echo from-a | nc -l -p 7001; done');
    // Reachable from its own network's gateway side (sanity check of the listener)...
    const same = up('tsit-a');
    expect(sh(same.id, `for i in $(seq 1 50); do nc ${a.net.ip} 7001 && exit 0; sleep 0.1; done; exit 1`).stdout).toContain('from-a');
    // ...but not from the other network, whether or not the host forwards.
    for (const fwd of ['0', '1']) {
      withIpForward(fwd, () => {
        expect(sh(b.id, `ping -c1 -W1 ${a.net.ip}`).code, `ping across networks with ip_forward=${fwd}`).not.toBe(0);
        const r = sh(b.id, `nc -w 1 ${a.net.ip} 7001 </dev/null`);
        expect(r.stdout, `tcp across networks with ip_forward=${fwd}`).not.toContain('from-a');
      });
    }
    for (const c of [a, b, same]) del(c.id);
    for (const c of [a, b, same]) expect(netLeftovers(c.id)).toEqual([]);
  });

  it('gives 20 containers created in parallel distinct addresses that all reach the gateway', async () => {
    const b = bundle();
    const ids = Array.from({ length: 20 }, () => sb.id());
    const codes = await Promise.all(
      ids.map(
        (id) =>
          new Promise<{ code: number; err: string }>((resolve) => {
            const p = spawn(TSRUN, ['--root', sb.root, 'create', '--bundle', b, '--network', 'tsit-a', id], { stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            p.stderr!.on('data', (d) => (err += d));
            p.on('exit', (code) => resolve({ code: code ?? -1, err }));
          }),
      ),
    );
    expect(codes.filter((c) => c.code !== 0)).toEqual([]);
    const ips = ids.map((id) => lease(id).ip);
    expect(new Set(ips).size).toBe(20);
    for (const ip of ips) expect(ip).toMatch(/^10\.213\.200\.\d+$/);
    for (const id of ids) expect(sb.tsrun(['start', id]).code).toBe(0);
    for (const id of ids) {
      const r = sh(id, 'ping -c1 -W2 10.213.200.1');
      expect(r.stdout, `${id}: ${r.stderr}`).toContain('1 packets received');
    }
    await Promise.all(ids.map((id) => new Promise((resolve) => spawn(TSRUN, ['--root', sb.root, 'delete', '--force', id], { stdio: 'ignore' }).on('exit', resolve))));
    for (const id of ids) expect(netLeftovers(id)).toEqual([]);
    expect(existsSync('/sys/class/net/tsitA')).toBe(false);
  }, 120000);

  it('publishes a port on 127.0.0.1 with nftables and removes the rule on delete', async () => {
    const port = PORT_BASE + 1;
    const b = bundle(['httpd', '-f', '-p', '80', '-h', '/www']);
    mkdirSync(join(b, 'rootfs/www'));
    writeFileSync(join(b, 'rootfs/www/index.html'), 'published-by-tsrun\n');
    const c = up('tsit-a', b, ['--publish', `127.0.0.1:${port}:80`]);
    expect(c.net.publish).toEqual([`127.0.0.1:${port}:80/tcp`]);
    expect(nftTables()).toContain(`table ip ${c.net.nftTable}`);
    const r = await httpGetRetry(port, '/index.html');
    expect(r.status).toBe(200);
    expect(r.body).toBe('published-by-tsrun\n');
    // A second container may not take the same host port.
    const id2 = sb.id();
    const clash = tsrunQuiet(['create', '--bundle', bundle(), '--network', 'tsit-a', '--publish', `${port}:80`, id2]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/already published/);
    expect(netLeftovers(id2)).toEqual([]);
    del(c.id);
    expect(netLeftovers(c.id)).toEqual([]);
    await expect(httpGet(port, '/index.html')).rejects.toThrow();
  });

  it('adds IPv6 addresses and outbound masquerade when the network asks for them', () => {
    const fwd = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    try {
      const a = up('tsit-v6');
      const b = up('tsit-v6');
      expect(a.net.ip6).toMatch(/^fd74:7372:75cb::[0-9a-f]+$/);
      expect(a.net.gateway6).toBe('fd74:7372:75cb::1');
      const r = sh(a.id, `ip -6 addr show eth0; ip -6 route; ping -6 -c1 -W2 fd74:7372:75cb::1; ping -6 -c1 -W2 ${b.net.ip6}`);
      expect(r.stdout).toContain(`inet6 ${a.net.ip6}/64`);
      expect(r.stdout).toMatch(/default via fd74:7372:75cb::1 dev eth0/);
      expect(r.stdout.match(/1 packets received/g)).toHaveLength(2);
      // Masquerade of the subnet's outbound traffic (not exercised: no traffic leaves this machine).
      const table = spawnSync('nft', ['list', 'table', 'inet', 'tsrun-n-tsitV'], { encoding: 'utf8' }).stdout;
      expect(table).toContain('ip saddr 10.213.203.0/24 oifname != "tsitV"');
      expect(table).toContain('masquerade');
      expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('1');
      del(a.id);
      del(b.id);
      for (const c of [a, b]) expect(netLeftovers(c.id)).toEqual([]);
      expect(nftTables().filter((t) => t.includes('tsitV'))).toEqual([]);
    } finally {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', fwd);
    }
  });

  it('uses a bridge the host already has, and leaves it there', () => {
    const rt = new Rtnl();
    try {
      rt.createBridge('tsitH');
      const c = up('tsit-host');
      expect(readFileSync(`/sys/class/net/${c.net.hostIf}/master/uevent`, 'utf8')).toContain('INTERFACE=tsitH');
      expect(sh(c.id, 'ping -c1 -W2 10.213.204.1').stdout).toContain('1 packets received');
      del(c.id);
      expect(netLeftovers(c.id)).toEqual([]);
      expect(existsSync('/sys/class/net/tsitH')).toBe(true);
      expect(nftTables().filter((t) => t.includes('tsitH'))).toEqual([]);
    } finally {
      rt.deleteLink('tsitH');
      rt.close();
    }
  });

  it('takes the network from the annotation (containerd, podman)', () => {
    const b = bundle(['sleep', '600'], (s) => {
      s.annotations = { 'io.github.tsrun.network': 'tsit-b' };
    });
    const id = sb.id();
    expect(tsrunQuiet(['create', '--bundle', b, id]).code).toBe(0);
    expect(lease(id).network).toBe('tsit-b');
    del(id);
    expect(netLeftovers(id)).toEqual([]);
  });

  it('leaves the default (no --network) and a joined namespace as they were', () => {
    const r = sb.run(bundle(['sh', '-c', 'ls /sys/class/net']));
    expect(r.stdout.trim()).toBe('lo');
    // --network none: loopback only, and up.
    const none = sb.tsrun(['run', '--bundle', bundle(['sh', '-c', 'ls /sys/class/net; cat /sys/class/net/lo/flags']), '--network', 'none', sb.id()]);
    expect(none.stdout.split('\n').slice(0, 2)).toEqual(['lo', '0x9']);
    // Joining a network namespace by path (here: another container's) still works.
    const a = up('tsit-a');
    const pid = JSON.parse(readFileSync(join(sb.root, a.id, 'state.json'), 'utf8')).pid as number;
    const joined = sb.run(
      bundle(['sh', '-c', 'ip -4 addr show eth0'], (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${pid}/ns/net` } : n));
      }),
    );
    expect(joined.stdout).toContain(`inet ${a.net.ip}/24`);
    del(a.id);
    expect(netLeftovers(a.id)).toEqual([]);
  });
});

describe('bad network input', () => {
  function refused(args: string[], msg: RegExp, b = bundle()): void {
    const before = readdirSync('/sys/class/net').filter((n) => n.startsWith('tsv')).sort();
    const id = sb.id();
    const r = tsrunQuiet(['create', '--bundle', b, ...args, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
    expect(netLeftovers(id)).toEqual([]);
    expect(readdirSync('/sys/class/net').filter((n) => n.startsWith('tsv')).sort()).toEqual(before);
  }

  it('refuses an unknown network', () => {
    refused(['--network', 'no-such-net'], /unknown network "no-such-net" \(--network\): known networks are none, tsrun0, tsit-a/);
  });

  it('refuses a bad --publish', () => {
    refused(['--network', 'tsit-a', '--publish', '127.0.0.1:80'], /invalid --publish "127.0.0.1:80"/);
    refused(['--network', 'tsit-a', '--publish', '8080:99999'], /port 99999 is out of range/);
    refused(['--publish', '8080:80'], /--publish needs a network/);
  });

  it('refuses a network without a new network namespace', () => {
    refused(['--network', 'tsit-a'], /needs a new network namespace/, bundle(['true'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    }));
  });

  it('refuses when the subnet is exhausted, and frees the address on delete', () => {
    const first = up('tsit-tiny');
    expect(first.net.ip).toBe('10.213.202.2');
    refused(['--network', 'tsit-tiny'], /network "tsit-tiny" has no free address left in 10\.213\.202\.0\/30/);
    del(first.id);
    const again = up('tsit-tiny');
    expect(again.net.ip).toBe('10.213.202.2');
    del(again.id);
    expect(existsSync('/sys/class/net/tsitT')).toBe(false);
  });

  it('releases the lease with delete --force after a crashed create', () => {
    // A create killed while its init waits: the lease is there, tsrun is not.
    const id = sb.id();
    const b = bundle(['true'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '10'] }] };
    });
    const p = spawn(TSRUN, ['--root', sb.root, 'create', '--bundle', b, '--network', 'tsit-a', id], { stdio: 'ignore' });
    const owner = join(sb.root, id);
    const deadline = Date.now() + 10000;
    while (!leaseOwners().includes(owner) || !existsSync(`/sys/class/net/${namesFor(owner).hostIf}`)) {
      if (Date.now() > deadline) throw new Error('the create never got its lease');
      spawnSync('sleep', ['0.05']);
    }
    p.kill('SIGKILL');
    spawnSync('sleep', ['0.2']);
    expect(leaseOwners()).toContain(owner);
    del(id);
    expect(netLeftovers(id)).toEqual([]);
  });
});

describe('tsrun jail', () => {
  const www = join(sb.dir, 'www');
  const secret = join(sb.dir, 'host-secret.txt');

  beforeAll(() => {
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'hello from a jailed httpd\n');
    writeFileSync(secret, 'not for the jail\n');
  });

  function jail(args: string[]): Result {
    return sb.tsrun(['jail', ...args], { timeout: 30000 });
  }

  it('serves a file from a jailed busybox httpd on a published port', async () => {
    const port = PORT_BASE + 2;
    const name = `jail-it-${process.pid}`;
    const p = spawn(TSRUN, ['--root', sb.root, 'jail', '--name', name, '--network', 'bridge', '--publish', `127.0.0.1:${port}:80`, '--ro', `${www}:/www`, '--memory', '64m', '--pids', '32', '--', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number>((resolve) => p.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
    try {
      const r = await httpGetRetry(port, '/index.html');
      expect(r.status).toBe(200);
      expect(r.body).toBe('hello from a jailed httpd\n');
      const net = lease(name);
      expect(net.network).toBe('tsrun0');
      expect(net.ip).toMatch(/^10\.213\.0\./);
    } finally {
      // httpd is pid 1 with no SIGTERM handler: the second signal kills it.
      p.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      p.kill('SIGTERM');
    }
    const code = await exited;
    expect(err).toBe('');
    expect(code).toBe(137);
    expect(netLeftovers(name)).toEqual([]);
    await expect(httpGet(port, '/index.html')).rejects.toThrow();
    // The jail's temporary bundle is gone too.
    expect(readdirSync('/tmp').filter((n) => n.startsWith('tsrun-jail-') && statSync(join('/tmp', n)).mtimeMs > Date.now() - 60000)).toEqual([]);
  }, 60000);

  it('sees only its own processes and cannot write the host or read what was not exposed', () => {
    const r = jail([
      '--rw',
      `${www}:/data`,
      '--',
      'sh',
      '-c',
      [
        'echo "procs: $(ls /proc | grep "^[0-9]" | tr "\\n" " ")"',
        'echo "ps: $(busybox ps -o pid | tail -n +2 | tr -d " " | tr "\\n" " ")"',
        '(echo x > /etc/tsrun-jail-probe) 2>/dev/null && echo etc-writable || echo etc-readonly',
        `cat ${secret} 2>/dev/null && echo secret-readable || echo secret-hidden`,
        'cat /etc/shadow | wc -c',
        'ls /root /home | wc -l',
        'echo written-in-jail > /data/out.txt && echo data-writable',
        'cat /sys/class/net/lo/flags; ls /sys/class/net',
        'grep CapEff /proc/self/status',
      ].join('; '),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // A pid namespace of its own: pid 1 is the jail's sh, and only the few
    // processes of the pipeline exist (host pids would be many and large).
    for (const what of ['procs', 'ps']) {
      const pids = new RegExp(`${what}: ([\\d ]*)`).exec(r.stdout)![1]!.trim().split(' ').map(Number);
      expect(pids[0], `${what}: ${pids}`).toBe(1);
      expect(pids.length, `${what}: ${pids}`).toBeLessThanOrEqual(6);
      expect(Math.max(...pids), `${what}: ${pids}`).toBeLessThan(30);
    }
    expect(r.stdout).toContain('etc-readonly');
    expect(existsSync('/etc/tsrun-jail-probe')).toBe(false);
    expect(r.stdout).toContain('secret-hidden');
    expect(r.stdout).toMatch(/\n0\n/); // /etc/shadow masked
    expect(r.stdout).toContain('data-writable');
    expect(readFileSync(join(www, 'out.txt'), 'utf8')).toBe('written-in-jail\n');
    expect(r.stdout).toContain('0x9\nlo\n');
    expect(r.stdout).toContain('CapEff:\t0000000000000000');
    rmSync(join(www, 'out.txt'));
  });

  it('runs as a mapped host uid with --uid and applies limits', () => {
    const out = join(sb.dir, 'uid-out');
    mkdirSync(out);
    chmodSync(out, 0o777);
    const r = jail(['--uid', '4242', '--rw', out, '--pids', '16', '--memory', '32m', '--', 'sh', '-c', `id -u; cat /proc/self/uid_map; touch ${out}/f; cat /sys/fs/cgroup/pids.max 2>/dev/null || true`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('0');
    expect(r.stdout).toMatch(/^\s*0\s+4242\s+1$/m);
    expect(statSync(join(out, 'f')).uid).toBe(4242);
  });

  it('passes the exit code through and refuses bad flags with one line', () => {
    expect(jail(['--', 'sh', '-c', 'exit 7']).code).toBe(7);
    for (const [args, msg] of [
      [['--publish', '8080:80', '--', 'true'], /--publish needs a network/],
      [['--network', 'bridge', '--publish', 'x', '--', 'true'], /invalid --publish "x"/],
      [['--ro', '/no/such/dir', '--', 'true'], /--ro \/no\/such\/dir: no such file/],
      [['--network', 'nope', '--', 'true'], /unknown network "nope"/],
      [[], /which program/],
    ] as [string[], RegExp][]) {
      const r = jail(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
    expect(readdirSync(sb.root).filter((n) => n.startsWith('jail-'))).toEqual([]);
  });

  it('documents its flags in --help', () => {
    const r = sb.tsrun(['jail', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--rootfs', '--ro', '--rw', '--uid', '--network', '--publish', '--memory', '--cpus', '--pids', '--cap']) expect(r.stdout).toContain(f);
  });
});
