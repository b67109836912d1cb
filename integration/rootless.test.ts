// User namespaces in depth: root in the container is an unprivileged id on
// the host, whether tsrun runs as root or as an ordinary user (rootless).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TSRUN } from './helpers';
import type { Spec } from '../src/oci/types';

const sb = new Sandbox('userns');
const USER = 'tsrun-it';
const OTHER = 'tsrun-it2';
let uid = 0;
let gid = 0;
let subStart = 0;

function ensureUser(name: string): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', name]).status !== 0) {
    const r = spawnSync('useradd', ['-M', '-s', '/bin/sh', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  }
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Subordinate ids: useradd adds them when the uidmap tools are there; make sure. */
function ensureSubids(name: string): number {
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = readFileSync(file, 'utf8');
    if (!text.split('\n').some((l) => l.startsWith(`${name}:`))) writeFileSync(file, text + `${name}:${300000 + (name === OTHER ? 65536 : 0)}:65536\n`);
  }
  const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!;
  return Number(line.split(':')[1]);
}

/** A copy of the built runtime the test users can read wherever the
 * checkout lives (CI may clone under a private directory). */
let userTsrun = TSRUN;
function installForUsers(): void {
  const app = join(sb.dir, 'app');
  for (const part of ['bin', 'cmd/launch.cjs', 'dist', 'native/build', 'node_modules/koffi']) {
    cpSync(join(REPO, part), join(app, part), { recursive: true, verbatimSymlinks: true });
  }
  spawnSync('chmod', ['-R', 'a+rX', app]);
  userTsrun = join(app, 'bin/tsrun');
}

/** Runs tsrun as the unprivileged user, with its own XDG_RUNTIME_DIR. */
function asUser(name: string, args: string[], input = '') {
  const xdg = join(sb.dir, `xdg-${name}`);
  const r = spawnSync('runuser', ['-u', name, '--', 'env', `XDG_RUNTIME_DIR=${xdg}`, userTsrun, ...args], { encoding: 'utf8', input, timeout: 20000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function rootlessBundle(args: string[], mutate?: (s: Spec) => void): string {
  const b = sb.bundle(args, (s) => {
    s.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
    s.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
    s.linux!.resources = undefined;
    s.mounts = s.mounts!.filter((m) => m.type !== 'sysfs' && m.type !== 'cgroup' && m.destination !== '/dev/pts');
    s.mounts!.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    mutate?.(s);
  });
  chmodSync(b, 0o755);
  return b;
}

/** The rootfs belongs to host root, which a mapped container root cannot
 * write: mount points must exist beforehand (as in any rootless image). */
function premakeTargets(bundle: string): void {
  mkdirSync(join(bundle, 'rootfs/shared'), { recursive: true });
  writeFileSync(join(bundle, 'rootfs/secret'), '');
}

beforeAll(() => {
  ({ uid, gid } = ensureUser(USER));
  ensureUser(OTHER);
  subStart = ensureSubids(USER);
  ensureSubids(OTHER);
  chmodSync(sb.dir, 0o755);
  installForUsers();
  for (const name of [USER, OTHER]) {
    const xdg = join(sb.dir, `xdg-${name}`);
    mkdirSync(xdg, { mode: 0o700 });
    const u = ensureUser(name);
    chownSync(xdg, u.uid, u.gid);
  }
});
afterAll(() => {
  for (const name of [USER, OTHER]) {
    const list = asUser(name, ['list', '-q']).stdout.split('\n').filter(Boolean);
    for (const id of list) asUser(name, ['delete', '--force', id]);
  }
  sb.cleanup();
});

describe('run as root with a user namespace', () => {
  it('container root is host 100000; multiple ranges; a root-only 0600 host file stays unreadable when bind-mounted', () => {
    const secret = join(sb.dir, 'secret');
    writeFileSync(secret, 'top secret\n', { mode: 0o600 });
    const shared = join(sb.dir, 'shared-root');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const b = sb.bundle(['sh', '-c', 'cat /proc/self/uid_map; cat /secret; echo cat=$?; touch /shared/by-root; su -s /bin/sh nobody -c "touch /shared/by-nobody" 2>/dev/null; echo done'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [
        { containerID: 0, hostID: 100000, size: 1000 },
        { containerID: 65534, hostID: 165534, size: 1 },
      ];
      s.linux!.gidMappings = [
        { containerID: 0, hostID: 100000, size: 1000 },
        { containerID: 65534, hostID: 165534, size: 1 },
      ];
      s.mounts!.push({ destination: '/secret', type: 'bind', source: secret, options: ['bind', 'ro'] });
      s.mounts!.push({ destination: '/shared', type: 'bind', source: shared, options: ['bind'] });
    });
    premakeTargets(b);
    const r = sb.run(b);
    expect(r.stdout).toMatch(/^\s*0\s+100000\s+1000$/m);
    expect(r.stdout).toMatch(/^\s*65534\s+165534\s+1$/m);
    expect(r.stdout).not.toContain('top secret');
    expect(r.stdout).toMatch(/cat=[1-9]/);
    expect(statSync(join(shared, 'by-root')).uid).toBe(100000);
  });

  it('rejects overlapping and out-of-range mappings before creating anything', () => {
    for (const maps of [
      [
        { containerID: 0, hostID: 100000, size: 10 },
        { containerID: 5, hostID: 200000, size: 10 },
      ],
      [{ containerID: 0, hostID: 4294967290, size: 100 }],
    ]) {
      const id = sb.id();
      const b = sb.bundle(['true'], (s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = maps;
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 10 }];
      });
      const r = sb.tsrun(['run', '--bundle', b, id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/mapping|overlap|range/i);
      expect(sb.tsrun(['state', id]).code).not.toBe(0);
    }
  });
});

describe('joining a user namespace', () => {
  it('a second container joins the first one\'s user namespace by path and sees its mappings', () => {
    const first = sb.id();
    const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const a = sb.bundle(['sleep', '60'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = maps;
      s.linux!.gidMappings = maps;
    });
    expect(sb.runDetached(a, first).code).toBe(0);
    const pid = JSON.parse(sb.tsrun(['state', first]).stdout).pid as number;
    const b = sb.bundle(['sh', '-c', 'cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user'], (s) => {
      s.linux!.namespaces!.push({ type: 'user', path: `/proc/${pid}/ns/user` });
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^\s*0\s+100000\s+65536$/m);
    expect(r.stdout.trim().split('\n').pop()).toBe(readlinkSync(`/proc/${pid}/ns/user`));
    expect(sb.tsrun(['delete', '--force', first]).code).toBe(0);
  });
});

describe('id-mapped mounts', () => {
  it('a host-root-owned directory appears root-owned inside and writes map back to host root, without chown', () => {
    const data = join(sb.dir, 'idmapped');
    mkdirSync(data, { mode: 0o755 });
    writeFileSync(join(data, 'f'), 'x');
    const b = sb.bundle(['sh', '-c', 'stat -c %u:%g /data/f /etc/passwd; touch /data/new && echo wrote'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts!.push({ destination: '/data', type: 'bind', source: data, options: ['bind', 'idmap'] });
    });
    mkdirSync(join(b, 'rootfs/data'));
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['0:0', '65534:65534', 'wrote', '']);
    expect(statSync(join(data, 'new')).uid).toBe(0);
  });

  it('refuses mappings that differ from the container\'s, and id-mapping a non-bind mount', () => {
    for (const mount of [
      { destination: '/data', type: 'bind', source: '/tmp', options: ['bind'], uidMappings: [{ containerID: 0, hostID: 5000, size: 1 }] },
      { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] },
    ]) {
      const b = sb.bundle(['true'], (s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.mounts!.push(mount);
      });
      const r = sb.tsrun(['run', '--bundle', b, sb.id()]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/id mappings different|only bind mounts can be id-mapped/);
    }
  });
});

describe('rootless: tsrun run by an unprivileged user', () => {
  it('container root is the user on the host; files it writes are the user\'s', () => {
    const dir = join(sb.dir, 'rl-shared');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
    const b = rootlessBundle(['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /shared/made-inside'], (s) => {
      s.mounts!.push({ destination: '/shared', type: 'bind', source: dir, options: ['bind'] });
    });
    premakeTargets(b);
    const r = asUser(USER, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('0');
    expect(r.stdout).toMatch(new RegExp(`^\\s*0\\s+${uid}\\s+1$`, 'm'));
    expect(statSync(join(dir, 'made-inside')).uid).toBe(uid);
  });

  it('multi-range mappings through newuidmap: container uid 1 is the first subordinate id', () => {
    const dir = join(sb.dir, 'rl-sub');
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    const b = rootlessBundle(['sh', '-c', 'cat /proc/self/uid_map; id -u; touch /shared/by-uid1'], (s) => {
      s.linux!.uidMappings = [
        { containerID: 0, hostID: uid, size: 1 },
        { containerID: 1, hostID: subStart, size: 65536 },
      ];
      s.linux!.gidMappings = [
        { containerID: 0, hostID: gid, size: 1 },
        { containerID: 1, hostID: subStart, size: 65536 },
      ];
      s.process!.user = { uid: 1, gid: 1 };
      s.mounts!.push({ destination: '/shared', type: 'bind', source: dir, options: ['bind'] });
    });
    premakeTargets(b);
    const r = asUser(USER, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^\\s*1\\s+${subStart}\\s+65536$`, 'm'));
    expect(statSync(join(dir, 'by-uid1')).uid).toBe(subStart);
  });

  it('networking: loopback only by default; --network slirp4netns reaches a listener on the host\'s loopback', async () => {
    const { createServer } = await import('node:net');
    const server = createServer((c) => c.end('hello-from-host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const bundle = (args: string[]) =>
      rootlessBundle(args, (s) => {
        s.linux!.namespaces!.push({ type: 'network' });
      });
    try {
      const none = await new Promise<ReturnType<typeof asUser>>((r) => setImmediate(() => r(asUser(USER, ['run', '--bundle', bundle(['sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]), sb.id()]))));
      expect(none.stdout.trim()).toBe('lo');
      const id = sb.id();
      const b = bundle(['sh', '-c', `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; nc 10.0.2.2 ${port}`]);
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const xdg = join(sb.dir, `xdg-${USER}`);
        const p = spawn('runuser', ['-u', USER, '--', 'env', `XDG_RUNTIME_DIR=${xdg}`, userTsrun, 'run', '--network', 'slirp4netns', '--bundle', b, id]);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('tap0');
      expect(r.stdout).toContain('hello-from-host');
      expect(spawnSync('pgrep', ['-u', USER, 'slirp4netns']).status).not.toBe(0);
    } finally {
      server.close();
    }
  });

  it('refuses mappings /etc/subuid does not grant, with one clear line and nothing left', () => {
    const b = rootlessBundle(['true'], (s) => {
      s.linux!.uidMappings = [{ containerID: 0, hostID: 5000000, size: 10 }];
    });
    const id = sb.id();
    const r = asUser(USER, ['run', '--bundle', b, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not allowed .* by \/etc\/subuid/);
    expect(asUser(USER, ['state', id]).code).not.toBe(0);
  });

  it('a rootfs the user cannot read is one clear error, nothing left', () => {
    const b = rootlessBundle(['true']);
    chmodSync(join(b, 'rootfs'), 0o700);
    const id = sb.id();
    const r = asUser(USER, ['run', '--bundle', b, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/rootfs .* cannot be read by this user/);
    expect(asUser(USER, ['state', id]).code).not.toBe(0);
  });

  it('a config without a user namespace is refused clearly', () => {
    const b = sb.bundle(['true']);
    chmodSync(b, 0o755);
    const r = asUser(USER, ['run', '--bundle', b, sb.id()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/needs a user namespace/);
  });

  it('lifecycle commands work for the user; other users and root\'s containers stay out of reach', () => {
    const id = sb.id();
    const b = rootlessBundle(['sleep', '60']);
    const xdg = join(sb.dir, `xdg-${USER}`);
    expect(spawnSync('runuser', ['-u', USER, '--', 'env', `XDG_RUNTIME_DIR=${xdg}`, userTsrun, 'run', '-d', '--bundle', b, id], { stdio: 'ignore', timeout: 20000 }).status).toBe(0);
    expect(asUser(USER, ['list', '-q']).stdout).toContain(id);
    expect(JSON.parse(asUser(USER, ['state', id]).stdout).status).toBe('running');
    const ex = asUser(USER, ['exec', id, 'sh', '-c', 'id -u; exit 3']);
    expect(ex.stdout.trim()).toBe('0');
    expect(ex.code).toBe(3);
    // Another user cannot read or signal it, even pointing at the same root.
    const other = asUser(OTHER, ['--root', join(xdg, 'tsrun'), 'kill', id, 'KILL']);
    expect(other.code).not.toBe(0);
    expect(JSON.parse(asUser(USER, ['state', id]).stdout).status).toBe('running');
    // Root's containers are not visible to the user.
    const rootId = sb.id();
    expect(sb.runDetached(sb.bundle(['sleep', '60']), rootId).code).toBe(0);
    const peek = asUser(USER, ['--root', sb.root, 'kill', rootId, 'KILL']);
    expect(peek.code).not.toBe(0);
    expect(JSON.parse(sb.tsrun(['state', rootId]).stdout).status).toBe('running');
    expect(sb.tsrun(['delete', '--force', rootId]).code).toBe(0);

    expect(asUser(USER, ['kill', id, 'KILL']).code).toBe(0);
    for (let i = 0; i < 50 && JSON.parse(asUser(USER, ['state', id]).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.1']);
    expect(asUser(USER, ['delete', id]).code).toBe(0);
    expect(asUser(USER, ['list', '-q']).stdout).not.toContain(id);
  });
});
