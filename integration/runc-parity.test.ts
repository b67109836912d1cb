// Behaviours clients depend on because runc has them (runc 1.1.5 is the
// yardstick): each checked against tsrun here, and against Debian's runc
// where it is installed, so a test of our reading cannot drift from runc's.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('runc-parity');
afterAll(() => sb.cleanup());

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const runtimes: [string, string][] = [['tsrun', TSRUN], ...(RUNC ? [['runc', RUNC] as [string, string]] : [])];

function cmd(bin: string, args: string[], input = ''): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), ...args], {
    encoding: 'utf8',
    input,
    timeout: 20000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The hierarchies' directories under /sys/fs/cgroup on these hybrid hosts. */
const CGROUP_V1_NAMES = ['pids', 'memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer', 'systemd', 'unified', 'hugetlb'];

/** rmdir of a cgroup the test made, if it is there. */
function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not there, or not ours to remove
  }
}

/** A detached container (stdio to /dev/null so that no pipe is held open). */
function detached(bin: string, bundle: string, id: string, verb: 'run' | 'create' = 'run'): void {
  const args = verb === 'run' ? ['run', '-d', '--bundle', bundle, id] : ['create', '--bundle', bundle, id];
  const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), ...args], { stdio: 'ignore', timeout: 20000 });
  expect(r.status, `${bin} ${args.join(' ')}`).toBe(0);
}

describe.each(runtimes)('%s', (_name, bin) => {
  it('runs a `runc spec` bundle unchanged (ambient capabilities without inheritable are dropped)', () => {
    const b = sb.bundle(['sh', '-c', 'grep -E "^Cap(Amb|Eff)" /proc/self/status']);
    const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps };
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CapAmb:\t0000000000000000');
    expect(r.stdout).toContain('CapEff:\t0000000020000420');
  });

  it('kill with signal 0 checks the container and succeeds', () => {
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id);
    expect(cmd(bin, ['kill', id, '0']).code).toBe(0);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it('exec into a created container works', () => {
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id, 'create');
    const r = cmd(bin, ['exec', id, 'echo', 'exec-in-created']);
    expect(r.stdout).toBe('exec-in-created\n');
    expect(r.code).toBe(0);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it("exec's own failures exit 255; the program's status passes through", () => {
    expect(cmd(bin, ['exec', 'no-such-container', 'true']).code).toBe(255);
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id);
    expect(cmd(bin, ['exec', id, 'sh', '-c', 'exit 3']).code).toBe(3);
    expect(cmd(bin, ['exec', id, '/no/such/binary']).code).toBe(255);
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });

  it('--log creates the log file even when nothing fails; --debug adds level=debug lines', () => {
    const log = join(sb.dir, `log-${sb.id()}`);
    const id = sb.id();
    const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), '--log', log, 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(log)).toBe(true);
    const d = cmd(bin, ['--debug', 'run', '--bundle', sb.bundle(['true']), id]);
    expect(d.code).toBe(0);
    expect(d.stderr).toContain('level=debug');
    // The phrases runc 1.1.5's debug.bats looks for.
    for (const phrase of ['nsexec container setup', 'child process in init()', 'init: closing the pipe to signal completion']) expect(d.stderr).toContain(phrase);
    const jsonLog = join(sb.dir, `json-${sb.id()}`);
    expect(cmd(bin, ['--log', jsonLog, '--log-format', 'json', '--debug', 'run', '--bundle', sb.bundle(['true']), sb.id()]).code).toBe(0);
    expect(readFileSync(jsonLog, 'utf8')).toContain('"level":"debug"');
  });

  it('--version has a commit line', () => {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^commit: \S+$/m);
  });
});

describe.each(runtimes)('%s: process set-up', (_name, bin) => {
  it('a non-root process can start in a working directory only root can enter', () => {
    const b = sb.bundle(['sh', '-c', 'pwd; id -u'], (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.cwd = '/root';
    });
    chmodSync(join(b, 'rootfs/root'), 0o700);
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/root\n1000\n');
  });

  it("a non-root process owns its stdio (runc's fixStdioPermissions)", () => {
    const b = sb.bundle(['sh', '-c', 'stat -L -c %u /proc/self/fd/1'], (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
    });
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stdout).toBe('1000\n');
  });

  it('createContainer hooks run in the rootfs', () => {
    const out = join(sb.dir, `hook-cwd-${sb.id()}`);
    const b = sb.bundle(['true'], (s) => {
      s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `pwd > ${out}`] }] };
    });
    expect(cmd(bin, ['run', '--bundle', b, sb.id()]).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(`${join(b, 'rootfs')}\n`);
  });
});

describe.each(runtimes)('%s: cgroups', (_name, bin) => {
  it('create in a pre-existing frozen cgroup fails at once', () => {
    const path = `/tsrun-parity-frozen-${process.pid}-${_name}`;
    const freezer = `/sys/fs/cgroup/freezer${path}`;
    mkdirSync(freezer);
    writeFileSync(join(freezer, 'freezer.state'), 'FROZEN');
    try {
      const b = sb.bundle(['true'], (s) => (s.linux!.cgroupsPath = path));
      const r = spawnSync(bin, ['--root', join(sb.dir, `root-${bin.split('/').pop()}`), 'run', '-d', '--bundle', b, sb.id()], { encoding: 'utf8', timeout: 15000, stdio: ['ignore', 'ignore', 'pipe'] });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/unexpectedly frozen/);
    } finally {
      if (existsSync(freezer)) {
        writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
        rmdirSync(freezer);
      }
      for (const h of CGROUP_V1_NAMES) rmdirQuietly(`/sys/fs/cgroup/${h}${path}`);
    }
  });

  it('delete --force removes a container whose processes made sub-cgroups', () => {
    const id = sb.id();
    const b = sb.bundle(['sh', '-c', 'mkdir /sys/fs/cgroup/pids/sub && echo $$ > /sys/fs/cgroup/pids/sub/cgroup.procs && sleep 100'], (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
      s.linux!.namespaces = s.linux!.namespaces!.filter((n, i, all) => all.findIndex((m) => m.type === n.type) === i);
      s.mounts = s.mounts!.map((m) => (m.destination === '/sys/fs/cgroup' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro') } : m));
      s.linux!.cgroupsPath = `/tsrun-parity/${id}`;
    });
    detached(bin, b, id);
    for (let i = 0; i < 50 && !existsSync(`/sys/fs/cgroup/pids/tsrun-parity/${id}/sub`); i++) spawnSync('sleep', ['0.05']);
    expect(existsSync(`/sys/fs/cgroup/pids/tsrun-parity/${id}/sub`)).toBe(true);
    const r = cmd(bin, ['delete', '--force', id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(`/sys/fs/cgroup/pids/tsrun-parity/${id}`)).toBe(false);
    for (const h of CGROUP_V1_NAMES) rmdirQuietly(`/sys/fs/cgroup/${h}/tsrun-parity`);
  });
});

describe.each(runtimes)('%s: checkpoint arguments (checked before CRIU is needed)', (_name, bin) => {
  it('checkpoint -h works; a bad --parent-path is named', () => {
    const help = spawnSync(bin, ['checkpoint', '-h'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout.split('\n')[1]).toMatch(/(runc|tsrun) checkpoint/);
    const id = sb.id();
    detached(bin, sb.bundle(['sleep', '100']), id);
    for (const parent of [join(sb.dir, 'parent-dir'), './parent-dir']) {
      const r = cmd(bin, ['checkpoint', '--parent-path', parent, '--work-path', join(sb.dir, 'work'), '--image-path', join(sb.dir, 'image'), id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('--parent-path');
    }
    expect(cmd(bin, ['delete', '--force', id]).code).toBe(0);
  });
});

describe.each(runtimes)('%s spec', (_name, bin) => {
  it('writes runc\'s namespaces, so that a bundle may add a cgroup namespace', () => {
    const dir = join(sb.dir, `spec-${sb.id()}`);
    mkdirSync(dir);
    expect(spawnSync(bin, ['spec', '--bundle', dir]).status).toBe(0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
  });
});

describe.each(runtimes)('%s: read-only mounts', (_name, bin) => {
  it('a read-only tmpfs and a read-only /dev (devpts and devices still go inside)', () => {
    const b = sb.bundle(['sh', '-c', 'grep -E "^tmpfs /(dev|mnt) " /proc/mounts; ls /dev/null /dev/pts/ptmx'], (s) => {
      s.mounts = s.mounts!.map((m) => (m.destination === '/dev' ? { ...m, options: [...(m.options ?? []), 'ro'] } : m));
      s.mounts!.push({ source: 'tmpfs', destination: '/mnt', type: 'tmpfs', options: ['ro', 'nodev', 'nosuid', 'mode=755'] });
    });
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tmpfs \/dev tmpfs ro,/m);
    expect(r.stdout).toMatch(/^tmpfs \/mnt tmpfs ro,/m);
    expect(r.stdout).toContain('/dev/pts/ptmx');
  });
});

const noNetCls = !readFileSync('/proc/self/mountinfo', 'utf8').includes('net_cls');

describe.each(runtimes)('%s: a setting the host cannot apply', (name, bin) => {
  it.skipIf(!noNetCls)('is refused (linux.resources.network.classID without net_cls), leaving nothing behind', () => {
    const id = sb.id();
    const b = sb.bundle(['true'], (s) => (s.linux!.resources = { ...s.linux!.resources, network: { classID: 0x100001 } }));
    const r = cmd(bin, ['run', '--bundle', b, id]);
    expect(r.code).not.toBe(0);
    if (name === 'tsrun') {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/network\.classID cannot be applied: no cgroup controller "net_cls"/);
    }
    expect(cmd(bin, ['state', id]).code).not.toBe(0);
  });
});

describe('tsrun: the opt-in to run without what the host lacks', () => {
  it.skipIf(!noNetCls)('with io.github.tsrun.ignore-unsupported=true the container runs, with one warning', () => {
    const b = sb.bundle(['echo', 'ran'], (s) => {
      s.linux!.resources = { ...s.linux!.resources, network: { classID: 0x100001 } };
      s.annotations = { 'io.github.tsrun.ignore-unsupported': 'true' };
    });
    const r = cmd(TSRUN, ['run', '--bundle', b, sb.id()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran\n');
    expect(r.stderr).toMatch(/^tsrun: warning: linux\.resources\.network\.classID ignored/);
  });
});

describe.each(runtimes)('%s exec --cgroup', (_name, bin) => {
  it('joins an existing sub-cgroup, per controller or for all; refuses a parent, a missing one, an unknown controller', () => {
    const id = sb.id();
    const path = `/tsrun-parity-sub/${id}`;
    const b = sb.bundle(['sleep', '100'], (s) => {
      s.linux!.cgroupsPath = path;
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup'); // host paths in /proc/self/cgroup
    });
    detached(bin, b, id);
    try {
      const bad = (args: string[], why: RegExp) => {
        const r = cmd(bin, ['exec', ...args, id, 'true']);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(why);
      };
      bad(['--cgroup', '..'], / \.\. is not a sub cgroup path/);
      bad(['--cgroup', 'nonexistent'], / adding pid .*\/nonexistent\/cgroup\.procs: no such file /);
      bad(['--cgroup', 'cpu:nonexistent'], / adding pid .*\/nonexistent\/cgroup\.procs: no such file /);
      bad(['--cgroup', 'whaaat:/'], /unknown controller /);
      mkdirSync(`/sys/fs/cgroup/memory${path}/submem`);
      mkdirSync(`/sys/fs/cgroup/cpu${path}/subcpu`);
      const r = cmd(bin, ['exec', '--cgroup', 'memory:submem', '--cgroup', 'cpu:subcpu', id, 'cat', '/proc/self/cgroup']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`:memory:${path}/submem$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`:cpu:${path}/subcpu$`, 'm'));
    } finally {
      cmd(bin, ['delete', '--force', id]);
      for (const h of CGROUP_V1_NAMES) rmdirQuietly(`/sys/fs/cgroup/${h}/tsrun-parity-sub`);
    }
  });
});

describe.each(runtimes)('%s with a user namespace', (_name, bin) => {
  it('binds a source the container\'s root could not look up itself (a 0700 directory), opened before the user namespace', () => {
    const src = join(sb.dir, `inaccessible-${sb.id()}`);
    mkdirSync(join(src, 'dir'), { recursive: true });
    writeFileSync(join(src, 'dir/foo.txt'), '');
    chmodSync(src, 0o700);
    const b = sb.bundle(['ls', '/tmp/mount-1'], (s) => {
      s.root!.readonly = false;
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ hostID: 100000, containerID: 0, size: 65534 }];
      s.linux!.gidMappings = [{ hostID: 100000, containerID: 0, size: 65534 }];
      s.mounts!.push({ source: join(src, 'dir'), destination: '/tmp/mount-1', options: ['bind'] });
    });
    spawnSync('chown', ['-R', '100000:100000', join(b, 'rootfs')]);
    chmodSync(sb.dir, 0o755); // mkdtemp's 0700 would keep the mapped root from the rootfs itself
    const r = cmd(bin, ['run', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('foo.txt\n');
  });
});
