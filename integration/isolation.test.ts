// Isolation, seen from inside real containers: every test runs busybox in a
// tsrun container and asserts on what the container itself prints (plus, where
// the question is "did anything reach the host?", on what the host sees).
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Spec } from '../src/oci/types';
import { hostLeftovers, REPO, Sandbox, TSRUN, type Result } from './helpers';

const sb = new Sandbox('iso');
/** Host directories outside the sandbox (symlink-escape targets); removed at the end. */
const hostDirs: string[] = [];

beforeAll(() => {
  // A user-namespaced container's root (host uid 100000) must be able to reach
  // its bundle: mkdtemp makes the sandbox 0700.
  chmodSync(sb.dir, 0o755);
});

afterAll(() => {
  sb.cleanup();
  for (const d of hostDirs) rmSync(d, { recursive: true, force: true });
});

/** Runs `sh -c script` in a fresh busybox container. */
function sh(script: string, mutate?: (spec: Spec) => void): Result {
  return sb.run(sb.bundle(['sh', '-c', script], mutate));
}

/** Like sh(), but the container must succeed; returns its stdout. */
function shOk(script: string, mutate?: (spec: Spec) => void): string {
  const r = sh(script, mutate);
  expect(r.stderr, `container stderr:\n${r.stderr}`).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

function lines(s: string): string[] {
  return s.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** tsrun with explicit stdio (for detached/created containers, which keep their
 * stdio open long after tsrun exits: pipes would make spawnSync wait for them). */
function tsrunIO(args: string[], stdio: StdioOptions): number {
  const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio, timeout: 20000 });
  return r.status ?? 128;
}

/** tsrun with stdout/stderr to files; returns the exit code and both files' text. */
function tsrunToFiles(args: string[], extraFds: number[] = []): Result & { outFile: string; errFile: string } {
  const n = sb.id();
  const outFile = join(sb.dir, `${n}.out`);
  const errFile = join(sb.dir, `${n}.err`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  try {
    const code = tsrunIO(args, ['ignore', out, err, ...extraFds]);
    return { code, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8'), outFile, errFile };
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

function containerPid(id: string): number {
  const r = sb.tsrun(['state', id]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).pid as number;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface MountInfo {
  root: string;
  mountPoint: string;
  options: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

function parseMountinfo(text: string): MountInfo[] {
  return lines(text).map((l) => {
    const [pre, post] = l.split(' - ');
    const f = pre!.split(' ');
    const g = post!.split(' ');
    return { root: f[3]!, mountPoint: f[4]!, options: f[5]!.split(','), fstype: g[0]!, source: g[1]!, superOptions: (g[2] ?? '').split(',') };
  });
}

const hostNs = (name: string) => readlinkSync(`/proc/self/ns/${name}`);

function hostMountsUnder(dir: string): MountInfo[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter(
    (m) => m.mountPoint === dir || m.mountPoint.startsWith(dir + '/'),
  );
}

// ---------------------------------------------------------------------------

describe('pid namespace', () => {
  it('the container process is pid 1 and sees only its own processes', () => {
    // The glob is expanded by the shell itself (no fork): /proc holds only pid 1.
    // (`; true`: busybox sh would exec a last command in place of itself.)
    const out = lines(shOk('echo $$; echo /proc/[0-9]*; ps -o pid,comm; true'));
    expect(out[0]).toBe('1');
    expect(out[1]).toBe('/proc/1');
    // ps, forked by the shell, is pid 2: nothing of the host's.
    expect(out[2]).toMatch(/^PID\s+COMMAND$/);
    expect(out.slice(3).map((l) => l.split(/\s+/))).toEqual([
      ['1', 'sh'],
      ['2', 'ps'],
    ]);
  });
});

describe('uts namespace', () => {
  it('has the configured hostname (default spec: "tsrun")', () => {
    expect(lines(shOk('hostname; cat /proc/sys/kernel/hostname'))).toEqual(['tsrun', 'tsrun']);
  });

  it('sets a custom hostname and domainname without touching the host', () => {
    const hostBefore = readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const domBefore = readFileSync('/proc/sys/kernel/domainname', 'utf8');
    const out = shOk('hostname; cat /proc/sys/kernel/domainname', (s) => {
      s.hostname = 'iso-box';
      s.domainname = 'example.test';
    });
    expect(lines(out)).toEqual(['iso-box', 'example.test']);
    expect(readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(hostBefore);
    expect(readFileSync('/proc/sys/kernel/domainname', 'utf8')).toBe(domBefore);
  });
});

describe('namespaces', () => {
  const NS = ['pid', 'mnt', 'net', 'ipc', 'uts', 'cgroup'];

  it('pid, mnt, net, ipc, uts and cgroup namespaces differ from the host; user is shared', () => {
    const out = lines(shOk(`for n in ${NS.join(' ')} user; do echo "$n $(readlink /proc/self/ns/$n)"; done`));
    const inside = Object.fromEntries(out.map((l) => l.split(' ') as [string, string]));
    for (const n of NS) {
      expect(inside[n], n).toMatch(new RegExp(`^${n}:\\[\\d+\\]$`));
      expect(inside[n], n).not.toBe(hostNs(n));
    }
    // No user namespace in the default spec: the container shares the host's.
    expect(inside.user).toBe(hostNs('user'));
  });

  it('joins an existing network namespace by path', async () => {
    const holder = spawn('unshare', ['-n', 'sleep', '30'], { stdio: 'ignore' });
    try {
      const nsPath = `/proc/${holder.pid}/ns/net`;
      await waitFor(() => {
        try {
          return readlinkSync(nsPath) !== hostNs('net');
        } catch {
          return false;
        }
      });
      const want = readlinkSync(nsPath);
      const out = shOk('readlink /proc/self/ns/net; cat /proc/net/dev', (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: nsPath } : ns));
      });
      expect(lines(out)[0]).toBe(want);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("joining the host's network namespace (/proc/<test pid>/ns/net) shows the host's interfaces", () => {
    const ifaces = (devText: string) =>
      lines(devText)
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .sort();
    const out = shOk('readlink /proc/self/ns/net; cat /proc/net/dev', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : ns));
    });
    const [nsLine, ...rest] = out.split('\n');
    expect(nsLine).toBe(readlinkSync(`/proc/${process.pid}/ns/net`));
    const hostIfaces = ifaces(readFileSync('/proc/1/net/dev', 'utf8'));
    expect(hostIfaces.length).toBeGreaterThan(1);
    expect(ifaces(rest.join('\n'))).toEqual(hostIfaces);
  });

  it('a new cgroup namespace shows the container\'s cgroups as the root', () => {
    const out = shOk('cat /proc/self/cgroup');
    const cg = lines(out);
    expect(cg.length).toBeGreaterThan(1);
    // "<id>:<controllers>:<path>": the path is "/" in every hierarchy.
    for (const l of cg) expect(l, out).toMatch(/^\d+:[^:]*:\/$/);
  });

  it('a new network namespace has only lo', () => {
    const out = shOk('cat /proc/net/dev; echo --; ls /sys/class/net');
    const [dev, sys] = out.split('--\n');
    const names = lines(dev!)
      .slice(2)
      .map((l) => l.split(':')[0]!.trim());
    expect(names).toEqual(['lo']);
    expect(lines(sys!)).toEqual(['lo']);
  });
});

describe('mounts', () => {
  it('mountinfo shows the rootfs as /, proc, /dev tmpfs, devpts, mqueue, ro sysfs and the cgroup mounts, and nothing of the host', () => {
    const b = sb.bundle(['cat', '/proc/self/mountinfo']);
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const mi = parseMountinfo(r.stdout);
    const at = (p: string) => {
      const found = mi.filter((m) => m.mountPoint === p);
      expect(found.length, `mounts on ${p}:\n${r.stdout}`).toBeGreaterThan(0);
      return found[found.length - 1]!;
    };
    const root = at('/');
    expect(root.root.endsWith(`/${basename(b)}/rootfs`), root.root).toBe(true);
    expect(root.options).toContain('ro');
    expect(at('/proc').fstype).toBe('proc');
    expect(at('/dev').fstype).toBe('tmpfs');
    expect(at('/dev/pts').fstype).toBe('devpts');
    expect(at('/dev/shm').fstype).toBe('tmpfs');
    expect(at('/dev/mqueue').fstype).toBe('mqueue');
    const sys = at('/sys');
    expect(sys.fstype).toBe('sysfs');
    expect(sys.options).toContain('ro');
    const cg = mi.filter((m) => m.mountPoint.startsWith('/sys/fs/cgroup/'));
    expect(cg.length).toBeGreaterThan(0);
    for (const m of cg) {
      expect(['cgroup', 'cgroup2']).toContain(m.fstype);
      expect(m.options).toContain('ro');
    }
    // The old root is gone: every mount point is one the config asked for.
    const allowed = /^\/(|proc(\/.*)?|dev(\/(pts|shm|mqueue))?|sys(\/firmware|\/fs\/cgroup(\/[\w.,=-]+)?)?)$/;
    for (const m of mi) expect(m.mountPoint, `unexpected mount ${m.mountPoint}`).toMatch(allowed);
  });

  it('rootfsPropagation "shared": pivot_root works (the mount holding the rootfs is made private first) and / is shared inside', () => {
    const b = sb.bundle(['cat', '/proc/self/mountinfo'], (s) => {
      s.linux!.rootfsPropagation = 'shared';
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const root = r.stdout.split('\n').find((l) => l.split(' ')[4] === '/');
    expect(root, r.stdout).toMatch(/ shared:\d+ /);
  });

  it('a read-only root refuses writes, but a tmpfs on /tmp is writable', () => {
    const r = sh('touch /x; touch /tmp/y && echo tmp-ok', (s) => {
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    });
    expect(r.stderr).toMatch(/touch: \/x: Read-only file system/);
    expect(r.stdout.trim()).toBe('tmp-ok');
  });

  it('root.readonly=false makes the root writable (and the write lands in the bundle rootfs)', () => {
    const b = sb.bundle(['sh', '-c', 'echo hello > /written && cat /written'], (s) => {
      s.root!.readonly = false;
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('hello');
    expect(readFileSync(join(b, 'rootfs/written'), 'utf8')).toBe('hello\n');
  });
});

describe('masked and read-only paths', () => {
  it('a masked file reads as empty (bound /dev/null)', () => {
    expect(readFileSync('/proc/version', 'utf8').length).toBeGreaterThan(0);
    const extra = existsSync('/proc/kcore') ? ' /proc/kcore' : '';
    const out = shOk(`for f in /proc/version /proc/timer_list${extra}; do echo "$f $(cat $f | wc -c) $(stat -c %t:%T $f)"; done`, (s) => {
      s.linux!.maskedPaths!.push('/proc/version');
    });
    const got = lines(out);
    expect(got.length).toBe(extra ? 3 : 2);
    for (const l of got) expect(l).toMatch(/^\S+ 0 1:3$/);
  });

  it('a masked directory is empty', () => {
    expect(readdirSync('/sys/firmware').length).toBeGreaterThan(0);
    expect(readdirSync('/proc/tty').length).toBeGreaterThan(0);
    const out = shOk('ls -A /sys/firmware | wc -l; ls -A /proc/tty | wc -l', (s) => {
      s.linux!.maskedPaths!.push('/proc/tty');
    });
    expect(lines(out)).toEqual(['0', '0']);
  });

  it('readonlyPaths cannot be written (/proc/sys, /proc/irq)', () => {
    expect(existsSync('/proc/irq/default_smp_affinity')).toBe(true);
    const r = sh('echo evil > /proc/sys/kernel/hostname; cat /proc/irq/default_smp_affinity > /proc/irq/default_smp_affinity; hostname');
    expect(r.stderr).toMatch(/can't create \/proc\/sys\/kernel\/hostname: Read-only file system/);
    expect(r.stderr).toMatch(/can't create \/proc\/irq\/default_smp_affinity: Read-only file system/);
    expect(r.stdout.trim()).toBe('tsrun');
  });

  it('a readonlyPaths entry outside /proc is read-only while the rest of a writable root is not', () => {
    const b = sb.bundle(['sh', '-c', 'touch /etc/x; touch /y && echo root-rw'], (s) => {
      s.root!.readonly = false;
      s.linux!.readonlyPaths!.push('/etc');
    });
    const r = sb.run(b);
    expect(r.stderr).toMatch(/touch: \/etc\/x: Read-only file system/);
    expect(r.stdout.trim()).toBe('root-rw');
    expect(existsSync(join(b, 'rootfs/etc/x'))).toBe(false);
  });
});

describe('devices', () => {
  it('has the default device nodes with the right numbers, and the /dev symlinks', () => {
    const out = shOk(
      'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done; ' +
        'for l in fd stdin stdout stderr ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done; ' +
        'echo x > /dev/null && echo null-ok; head -c 3 /dev/zero | od -An -tx1',
    );
    expect(lines(out)).toEqual([
      '/dev/null character special file 1:3 666',
      '/dev/zero character special file 1:5 666',
      '/dev/full character special file 1:7 666',
      '/dev/random character special file 1:8 666',
      '/dev/urandom character special file 1:9 666',
      '/dev/tty character special file 5:0 666',
      '/dev/fd -> /proc/self/fd',
      '/dev/stdin -> /proc/self/fd/0',
      '/dev/stdout -> /proc/self/fd/1',
      '/dev/stderr -> /proc/self/fd/2',
      '/dev/ptmx -> pts/ptmx',
      'null-ok',
      '00 00 00',
    ]);
  });

  it('writing to /dev/full fails with ENOSPC', () => {
    const r = sh('echo x > /dev/full');
    expect(r.stderr).toMatch(/No space left on device/);
    expect(r.code).not.toBe(0);
  });

  it('linux.devices entries are created with their type, numbers, mode and owner', () => {
    const out = shOk('stat -c "%n %F %t:%T %a %u:%g" /dev/fuse /dev/mydev /dev/sub/owned; echo data > /dev/mydev && echo mydev-ok', (s) => {
      s.linux!.devices = [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/mydev', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/sub/owned', type: 'c', major: 1, minor: 5, fileMode: 0o620, uid: 1000, gid: 5 },
      ];
    });
    expect(lines(out)).toEqual([
      '/dev/fuse character special file a:e5 666 0:0',
      '/dev/mydev character special file 1:3 666 0:0',
      '/dev/sub/owned character special file 1:5 620 1000:5',
      'mydev-ok',
    ]);
  });
});

describe('bind mounts', () => {
  it('rw bind: the container writes to the host directory; ro bind: writes fail', () => {
    const rw = mkdtempSync(join(sb.dir, 'rw-'));
    const ro = mkdtempSync(join(sb.dir, 'ro-'));
    writeFileSync(join(ro, 'data'), 'from-host\n');
    const r = sh('echo from-container > /mnt/rw/out; cat /mnt/ro/data; echo nope > /mnt/ro/out; touch /mnt/ro/data', (s) => {
      s.mounts!.push({ destination: '/mnt/rw', type: 'bind', source: rw, options: ['rbind', 'rw'] });
      s.mounts!.push({ destination: '/mnt/ro', type: 'bind', source: ro, options: ['bind', 'ro'] });
    });
    expect(r.stdout).toBe('from-host\n');
    expect(r.stderr).toMatch(/can't create \/mnt\/ro\/out: Read-only file system/);
    expect(r.stderr).toMatch(/touch: \/mnt\/ro\/data: Read-only file system/);
    expect(readFileSync(join(rw, 'out'), 'utf8')).toBe('from-container\n');
    expect(existsSync(join(ro, 'out'))).toBe(false);
    // The ro remount applied to the container's bind only.
    writeFileSync(join(ro, 'still-writable'), 'x');
  });

  it('a file bind mount onto a path that does not exist in the rootfs', () => {
    const f = join(sb.dir, 'conf-file');
    writeFileSync(f, 'key=value\n');
    const out = shOk('cat /etc/app/app.conf; stat -c %F /etc/app/app.conf', (s) => {
      s.mounts!.push({ destination: '/etc/app/app.conf', type: 'bind', source: f, options: ['bind', 'ro'] });
    });
    expect(lines(out)).toEqual(['key=value', 'regular file']);
  });

  it('a bind mount source relative to the bundle', () => {
    const b = sb.bundle(['cat', '/data/hello'], (s) => {
      s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] });
    });
    mkdirSync(join(b, 'data'));
    writeFileSync(join(b, 'data/hello'), 'relative-source\n');
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('relative-source\n');
  });
});

describe('symlinks in the rootfs cannot lead mounts to the host', () => {
  /** A fresh host directory /tmp/tsrun-escape-XXXX and its name. */
  function hostTarget(): { dir: string; name: string } {
    const dir = mkdtempSync('/tmp/tsrun-escape-');
    hostDirs.push(dir);
    return { dir, name: basename(dir) };
  }

  function assertHostUntouched(dir: string): void {
    expect(readdirSync(dir), `host ${dir} was written to`).toEqual([]);
    expect(hostMountsUnder(dir), `host ${dir} got a mount`).toEqual([]);
  }

  for (const kind of ['absolute', 'relative'] as const) {
    it(`tmpfs on /escape/sub with rootfs/escape -> ${kind} /tmp/<hostdir> lands inside the rootfs`, () => {
      const { dir, name } = hostTarget();
      const b = sb.bundle(['sh', '-c', `touch /escape/sub/marker && echo wrote; grep -c " /tmp/${name}/sub " /proc/self/mountinfo`], (s) => {
        s.mounts!.push({ destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
      });
      const rootfs = join(b, 'rootfs');
      mkdirSync(join(rootfs, 'tmp', name));
      symlinkSync(kind === 'absolute' ? dir : `../../../../../../../../..${dir}`, join(rootfs, 'escape'));
      const r = sb.run(b);
      assertHostUntouched(dir);
      expect(r.stderr).toBe('');
      expect(lines(r.stdout)).toEqual(['wrote', '1']);
      expect(statSync(join(rootfs, 'tmp', name, 'sub')).isDirectory()).toBe(true);
      // The marker went to the tmpfs, which is gone with the container.
      expect(readdirSync(join(rootfs, 'tmp', name, 'sub'))).toEqual([]);
    });
  }

  it('a symlink whose target does not exist in the rootfs: directories are created inside the rootfs (like runc), not on the host', () => {
    const { dir, name } = hostTarget();
    const b = sb.bundle(['sh', '-c', `touch /escape/sub/marker && echo wrote`], (s) => {
      s.mounts!.push({ destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs' });
    });
    const rootfs = join(b, 'rootfs');
    symlinkSync(dir, join(rootfs, 'escape'));
    const r = sb.run(b);
    assertHostUntouched(dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('wrote\n');
    expect(statSync(join(rootfs, 'tmp', name, 'sub')).isDirectory()).toBe(true);
  });

  it('a bind mount through a symlinked directory lands inside the rootfs', () => {
    const { dir, name } = hostTarget();
    const src = mkdtempSync(join(sb.dir, 'bsrc-'));
    writeFileSync(join(src, 'payload'), 'payload\n');
    const b = sb.bundle(['cat', '/escape/bound/payload'], (s) => {
      s.mounts!.push({ destination: '/escape/bound', type: 'bind', source: src, options: ['bind'] });
    });
    const rootfs = join(b, 'rootfs');
    mkdirSync(join(rootfs, 'tmp', name));
    symlinkSync(dir, join(rootfs, 'escape'));
    const r = sb.run(b);
    assertHostUntouched(dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('payload\n');
  });

  it('a file bind mount onto a dangling symlink does not create the file on the host', () => {
    const { dir, name } = hostTarget();
    const f = join(sb.dir, 'evil-src');
    writeFileSync(f, 'evil\n');
    const b = sb.bundle(['cat', '/etc/evil'], (s) => {
      s.mounts!.push({ destination: '/etc/evil', type: 'bind', source: f, options: ['bind'] });
    });
    const rootfs = join(b, 'rootfs');
    mkdirSync(join(rootfs, 'tmp', name));
    symlinkSync(join(dir, 'evilfile'), join(rootfs, 'etc/evil'));
    const r = sb.run(b);
    assertHostUntouched(dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('evil\n');
    // Like runc: the missing file is created inside the rootfs, where the symlink points in it.
    expect(lstatSync(join(rootfs, 'tmp', name, 'evilfile')).isFile()).toBe(true);
  });

  it('while a detached container runs, the host has no mount under the symlink target', () => {
    const { dir, name } = hostTarget();
    const b = sb.bundle(['sleep', '30'], (s) => {
      s.mounts!.push({ destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs' });
    });
    const rootfs = join(b, 'rootfs');
    mkdirSync(join(rootfs, 'tmp', name));
    symlinkSync(`../../../../../../../../..${dir}`, join(rootfs, 'escape'));
    const id = sb.id();
    const r = tsrunToFiles(['run', '-d', '--bundle', b, id]);
    try {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const pid = containerPid(id);
      assertHostUntouched(dir);
      // Inside, the tmpfs is at the symlink's in-root target.
      const inside = parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
      expect(inside.filter((m) => m.mountPoint === `/tmp/${name}/sub` && m.fstype === 'tmpfs').length).toBe(1);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
    assertHostUntouched(dir);
    expect(hostLeftovers(id)).toEqual([]);
  });
});

describe('user namespace', () => {
  const userns = (s: Spec) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  };

  it('root inside is host uid 100000: id, uid_map, gid_map, file ownership', () => {
    const shared = mkdtempSync(join(sb.dir, 'shared-'));
    chmodSync(shared, 0o777);
    const b = sb.bundle(
      [
        'sh',
        '-c',
        'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; stat -c %u:%g /bin/busybox; ' +
          'touch /shared/made-inside && echo created; readlink /proc/self/ns/user',
      ],
      (s) => {
        userns(s);
        s.mounts!.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
      },
    );
    // The container's root cannot create directories in a rootfs owned by host root.
    mkdirSync(join(b, 'rootfs/shared'));
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = lines(r.stdout);
    expect(got.slice(0, 2)).toEqual(['0', '0']);
    expect(got[2]!.split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(got[3]!.split(/\s+/)).toEqual(['0', '100000', '65536']);
    // Host root's files are unmapped: nobody/nogroup inside.
    expect(got[4]).toBe('65534:65534');
    expect(got[5]).toBe('created');
    expect(got[6]).not.toBe(hostNs('user'));
    const st = statSync(join(shared, 'made-inside'));
    expect([st.uid, st.gid]).toEqual([100000, 100000]);
  });

  it('device nodes are bind mounts of the host nodes and work', () => {
    const out = shOk('stat -c "%n %F %t:%T" /dev/null /dev/zero /dev/tty; echo x > /dev/null && echo ok; head -c 2 /dev/zero | od -An -tx1', userns);
    expect(lines(out)).toEqual([
      '/dev/null character special file 1:3',
      '/dev/zero character special file 1:5',
      '/dev/tty character special file 5:0',
      'ok',
      '00 00',
    ]);
  });
});

describe('process: capabilities, identity, limits', () => {
  it('has exactly the configured capability sets and no_new_privs', () => {
    const out = shOk('grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/self/status');
    const st = Object.fromEntries(lines(out).map((l) => l.split(/:\s+/) as [string, string]));
    expect(st).toEqual({
      CapInh: '0000000000000000',
      CapPrm: '0000000020000420',
      CapEff: '0000000020000420',
      CapBnd: '0000000020000420',
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
    });
  });

  it('without CAP_SYS_ADMIN or CAP_CHOWN privileged operations fail', () => {
    const r = sh('hostname evil; chown 1:1 /dev/null; hostname');
    expect(r.stderr).toMatch(/hostname: sethostname: Operation not permitted/);
    expect(r.stderr).toMatch(/chown: \/dev\/null: Operation not permitted/);
    expect(r.stdout.trim()).toBe('tsrun');
  });

  it('a different capability set is applied as given', () => {
    // For uid 0, execve makes permitted and effective the bounding set (as with runc).
    const out = shOk('grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status; chown 1:1 /dev/null && echo chown-ok', (s) => {
      s.process!.capabilities = { bounding: ['CAP_CHOWN', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] };
    });
    expect(lines(out)).toEqual(['CapPrm:\t0000000000200001', 'CapEff:\t0000000000200001', 'CapBnd:\t0000000000200001', 'chown-ok']);
  });

  it('runs as uid 1000 gid 1000 with additional gid 2000; a non-root process has no effective capabilities', () => {
    const out = shOk('id; grep -E "^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd):" /proc/self/status', (s) => {
      s.process!.user = { uid: 1000, gid: 1000, additionalGids: [2000] };
    });
    const got = lines(out);
    expect(got[0]).toBe('uid=1000 gid=1000 groups=2000');
    expect(got.slice(1).map((l) => l.split(/\s+/).slice(1).join(' '))).toEqual([
      '1000 1000 1000 1000',
      '1000 1000 1000 1000',
      '2000',
      '0000000000000000',
      '0000000000000000',
      '0000000020000420',
    ]);
  });

  it('ambient capabilities survive execve for a non-root user', () => {
    const out = shOk('grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status', (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      const c = ['CAP_NET_BIND_SERVICE'];
      s.process!.capabilities = { bounding: [...c, 'CAP_KILL'], effective: c, permitted: c, inheritable: c, ambient: c };
    });
    expect(lines(out).map((l) => l.split(/\s+/)[1])).toEqual(['0000000000000400', '0000000000000400', '0000000000000400', '0000000000000420', '0000000000000400']);
  });

  it('applies the umask (default 0022; process.user.umask 0077)', () => {
    expect(shOk('umask').trim()).toBe('0022');
    const out = shOk('umask; touch /tmp/f && stat -c %a /tmp/f', (s) => {
      s.process!.user.umask = 0o077;
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs' });
    });
    expect(lines(out)).toEqual(['0077', '600']);
  });

  it('applies rlimits (default NOFILE 1024; a custom soft/hard pair)', () => {
    expect(shOk('ulimit -n; ulimit -Hn').trim().split('\n')).toEqual(['1024', '1024']);
    const out = shOk('ulimit -n; ulimit -Hn', (s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 2048 }];
    });
    expect(lines(out)).toEqual(['512', '2048']);
  });

  it('honours process.cwd, creating it when missing', () => {
    expect(shOk('pwd', (s) => (s.process!.cwd = '/tmp')).trim()).toBe('/tmp');
    expect(shOk('pwd', (s) => (s.process!.cwd = '/work/dir')).trim()).toBe('/work/dir');
  });

  it('passes exactly process.env (nothing from the host)', () => {
    expect(process.env.VITEST).toBeDefined();
    const out = shOk('echo "$FOO"; env | sort', (s) => {
      s.process!.env = ['PATH=/bin:/sbin', 'FOO=bar baz'];
    });
    const got = lines(out);
    expect(got[0]).toBe('bar baz');
    const names = got.slice(1).map((l) => l.split('=')[0]);
    // PWD and SHLVL come from the shell itself.
    expect(names.filter((n) => !['PWD', 'SHLVL', 'HOME'].includes(n!))).toEqual(['FOO', 'PATH']);
  });
});

describe('file descriptors', () => {
  it('the container sees only 0, 1, 2 (no leaked tsrun fds), even when tsrun got an extra fd', () => {
    const extra = openSync(join(REPO, 'package.json'), 'r');
    try {
      // The shell (pid 1) lists its own descriptors through a forked ls.
      const r = tsrunToFiles(['run', '--bundle', sb.bundle(['sh', '-c', 'ls /proc/$$/fd; true']), sb.id()], [extra]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(['0', '1', '2']);
      // ls listing its own: 0-2 and the directory it has open, nothing else.
      expect(lines(shOk('ls /proc/self/fd; true'))).toEqual(['0', '1', '2', '3']);
    } finally {
      closeSync(extra);
    }
  });

  it('--preserve-fds 1 passes fd 3 through', () => {
    const f = join(sb.dir, 'preserved');
    writeFileSync(f, 'preserved-data\n');
    const fd = openSync(f, 'r');
    try {
      const r = tsrunToFiles(['run', '--preserve-fds', '1', '--bundle', sb.bundle(['sh', '-c', 'ls /proc/$$/fd; cat <&3']), sb.id()], [fd]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toEqual(['0', '1', '2', '3', 'preserved-data']);
    } finally {
      closeSync(fd);
    }
  });
});

describe('the init during setup', () => {
  it('is not dumpable while created: a root observer without CAP_SYS_PTRACE cannot read it; after start it can', async () => {
    const id = sb.id();
    const b = sb.bundle(['sleep', '30']);
    const r = tsrunToFiles(['create', '--bundle', b, id]);
    try {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const pid = containerPid(id);
      const peek = () =>
        spawnSync('setpriv', ['--inh-caps=-sys_ptrace', '--bounding-set=-sys_ptrace', 'readlink', '-v', `/proc/${pid}/exe`], { encoding: 'utf8' });
      const before = peek();
      expect(before.status, `readlink of the created init's exe succeeded: ${before.stdout}`).not.toBe(0);
      expect(before.stderr).toMatch(/Permission denied|Operation not permitted/);
      expect(sb.tsrun(['start', id]).code).toBe(0);
      // After execve the container's process is dumpable again.
      await waitFor(() => peek().status === 0);
      expect(peek().stdout.trim()).toMatch(/\/bin\/busybox$/);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
  });

  it("runs from a sealed copy: the created init's exe is a memfd, not the host binary, and cannot be written", () => {
    const initBin = join(REPO, 'native/build/tsrun-init');
    const hash = () => createHash('sha256').update(readFileSync(initBin)).digest('hex');
    const before = hash();
    const id = sb.id();
    const r = tsrunToFiles(['create', '--bundle', sb.bundle(['true']), id]);
    try {
      expect(r.stderr).toBe('');
      const pid = containerPid(id);
      expect(readlinkSync(`/proc/${pid}/exe`)).toMatch(/^\/memfd:tsrun-init/);
      expect(() => closeSync(openSync(`/proc/${pid}/exe`, 'r+'))).toThrow(/ETXTBSY|EPERM|EACCES/);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
    expect(hash()).toBe(before);
  });
});

describe('console socket', () => {
  const RECEIVER = `
import os, select, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1); s.settimeout(15)
print("LISTENING", flush=True)
conn, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
print("NAME", msg.decode(), flush=True)
print("NFDS", len(fds), flush=True)
out = b""
deadline = time.time() + 15
while time.time() < deadline:
    r, _, _ = select.select([fds[0]], [], [], 0.5)
    if not r:
        continue
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
print("DATA", repr(out.decode(errors="replace")), flush=True)
`;

  it('create --console-socket: the receiver gets the pty master and reads the container output', async () => {
    const sock = join(sb.dir, `console-${sb.id()}.sock`);
    const py = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pyOut = '';
    let pyErr = '';
    py.stdout.on('data', (d) => (pyOut += d));
    py.stderr.on('data', (d) => (pyErr += d));
    const pyDone = new Promise<number>((res) => py.on('close', (c) => res(c ?? 128)));
    const id = sb.id();
    try {
      await waitFor(() => pyOut.includes('LISTENING') || py.exitCode !== null);
      expect(pyErr).toBe('');
      const b = sb.bundle(['sh', '-c', 'tty; echo hi'], (s) => {
        s.process!.terminal = true;
      });
      const c = tsrunToFiles(['create', '--console-socket', sock, '--bundle', b, id]);
      expect(c.stderr).toBe('');
      expect(c.code).toBe(0);
      expect(sb.tsrun(['start', id]).code).toBe(0);
      const code = await pyDone;
      expect(pyErr).toBe('');
      expect(code).toBe(0);
      expect(pyOut).toMatch(/^NFDS 1$/m);
      const data = /^DATA (.*)$/m.exec(pyOut)?.[1] ?? '';
      expect(data).toMatch(/\/dev\/pts\/0\\r\\nhi\\r\\n/);
    } finally {
      py.kill('SIGKILL');
      sb.tsrun(['delete', '--force', id]);
    }
  });
});

describe('time namespace', () => {
  it('applies linux.timeOffsets: boottime and monotonic clocks are shifted inside only', () => {
    const b = sb.bundle(['sh', '-c', 'cut -d" " -f1 /proc/uptime; readlink /proc/self/ns/time'], (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: 3600 } };
    });
    const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const r = sb.run(b);
    expect(r.code).toBe(0);
    const [uptime, ns] = r.stdout.trim().split('\n');
    expect(Number(uptime) - hostUptime).toBeGreaterThan(86400 - 60);
    expect(Number(uptime) - hostUptime).toBeLessThan(86400 + 60);
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/time'));
  });
});

describe('what podman sends', () => {
  it('tmpcopyup copies the image\'s files into a new tmpfs; sysctls apply before /proc/sys turns read-only; a device fileMode with type bits', () => {
    const b = sb.bundle(['sh', '-c', 'cat /etc/hostname; touch /etc/x && echo etc-writable; cat /proc/sys/net/ipv4/ping_group_range; stat -c %t:%T:%a /dev/xnull'], (s) => {
      s.root!.readonly = true;
      s.mounts!.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup'] });
      s.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 0' };
      s.linux!.devices = [{ path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o20666 }];
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['tsrun', 'etc-writable', '0\t0', '1:3:666', '']);
  });
});

describe('loopback', () => {
  it('a new network namespace has lo up and usable, as with runc', () => {
    const r = sb.run(sb.bundle(['sh', '-c', 'cat /sys/class/net/lo/flags; (nc -l -p 5555 -e echo hello &); sleep 0.3; nc 127.0.0.1 5555']));
    expect(r.stdout).toBe('0x9\nhello\n');
  });
});

describe('run flags', () => {
  it('--no-pivot (MS_MOVE + chroot) and --no-new-keyring still confine the root', () => {
    const id = sb.id();
    const b = sb.bundle(['sh', '-c', 'ls /; echo pid=$$']);
    const r = sb.tsrun(['run', '--no-pivot', '--no-new-keyring', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const entries = r.stdout.split('\n');
    for (const e of ['bin', 'etc', 'proc', 'sys', 'linuxrc']) expect(entries).toContain(e);
    expect(entries).not.toContain('work');
    expect(r.stdout).toContain('pid=1');
  });
});
