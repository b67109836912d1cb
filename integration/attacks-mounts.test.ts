// Attacks through mounts, /proc and the runtime's own binary, each performed
// with a hostile bundle or image and checked from the host: the attack must
// fail. Every test here succeeded as an attack against tsrun before the fix
// named in it (run against the previous build to see it).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostLeftovers, REPO, Sandbox, TSRUN } from './helpers';
import type { Spec } from '../src/oci/types';

const sb = new Sandbox('attacks-mounts');
afterAll(() => sb.cleanup());

const rootfsOf = (bundle: string) => join(bundle, 'rootfs');

/** A host directory to bind into the container as a volume. */
function volume(name: string): string {
  const v = join(sb.dir, `vol-${name}-${sb.id()}`);
  mkdirSync(v, { recursive: true });
  return v;
}

/** Fake /proc/<pid>/fd/N links for every fd a runtime might use, all
 * pointing at one decoy directory inside the container. */
function plantFakeFdLinks(dir: string, decoy: string): void {
  mkdirSync(join(dir, 'fd'), { recursive: true });
  for (let n = 0; n < 100; n++) symlinkSync(decoy, join(dir, 'fd', String(n)));
}

/** The read-only /proc/sys bind, the attack's target: if it lands on the
 * decoy, /proc/sys stays writable and kernel.hostname (harmless: a uts
 * namespace of the container's own) can be written. */
const tryWriteSysctl = 'echo pwned > /proc/sys/kernel/hostname 2>/dev/null && echo SYSCTL-WRITTEN; echo done';

function expectRefused(r: { code: number; stdout: string; stderr: string }, why: RegExp): void {
  expect(r.stdout).not.toContain('SYSCTL-WRITTEN');
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(why);
}

describe('mounts after pivot_root cannot be redirected through the image\'s /proc (CVE-2019-16884, CVE-2023-27561 class)', () => {
  it('refuses an image whose /proc is a symlink to a volume full of fake fd links', () => {
    const vol = volume('p1');
    plantFakeFdLinks(vol, '/decoy');
    const b = sb.bundle(['sh', '-c', tryWriteSysctl], (s) => {
      s.mounts!.push({ destination: '/data/p/1', type: 'bind', source: vol, options: ['rbind'] });
    });
    const root = rootfsOf(b);
    rmSync(join(root, 'proc'), { recursive: true });
    mkdirSync(join(root, 'data/p'), { recursive: true });
    mkdirSync(join(root, 'decoy'));
    symlinkSync('data/p', join(root, 'proc'));
    const id = sb.id();
    expectRefused(sb.run(b, id), /proc must be mounted on ordinary directory \(\/proc is a symlink/);
    expect(hostLeftovers(id)).toEqual([]);
  });

  it('refuses a mount that reaches inside /proc through a symlink in the image', () => {
    const vol = volume('p2');
    plantFakeFdLinks(vol, '/decoy');
    const b = sb.bundle(['sh', '-c', tryWriteSysctl], (s) => {
      s.mounts!.push({ destination: '/data/p/1', type: 'bind', source: vol, options: ['rbind'] });
    });
    const root = rootfsOf(b);
    mkdirSync(join(root, 'data'), { recursive: true });
    mkdirSync(join(root, 'decoy'));
    symlinkSync('../proc', join(root, 'data/p'));
    expectRefused(sb.run(b), /inside \/proc/);
  });

  it('refuses mounts inside /proc and anything but proc on /proc, before creating anything', () => {
    for (const m of [
      { destination: '/proc/1', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/proc/sys', type: 'bind', source: volume('p3'), options: ['rbind'] },
      { destination: '/proc', type: 'tmpfs', source: 'tmpfs' },
    ]) {
      const b = sb.bundle(['true'], (s) => s.mounts!.push(m));
      const id = sb.id();
      const r = sb.run(b, id);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/config\.json: mount \/proc/);
      expect(existsSync(join(sb.root, id))).toBe(false);
    }
  });

  it('still allows what runc allows inside /proc (an lxcfs-style file over /proc/uptime)', () => {
    const f = join(volume('p4'), 'uptime');
    writeFileSync(f, '42.00 42.00\n');
    const b = sb.bundle(['cat', '/proc/uptime'], (s) => s.mounts!.push({ destination: '/proc/uptime', type: 'bind', source: f, options: ['bind', 'ro'] }));
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42.00 42.00\n');
  });

  it('refuses a symlinked /sys', () => {
    const b = sb.bundle(['true']);
    const root = rootfsOf(b);
    rmSync(join(root, 'sys'), { recursive: true });
    mkdirSync(join(root, 'decoy'));
    symlinkSync('decoy', join(root, 'sys'));
    const r = sb.run(b);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sysfs must be mounted on ordinary directory \(\/sys is a symlink/);
  });

  it('does not write oom_score_adj into a decoy file when the image fakes /proc', () => {
    const b = sb.bundle(['true'], (s) => {
      s.root!.readonly = false;
      s.mounts = s.mounts!.filter((m) => m.destination !== '/proc');
      s.process!.oomScoreAdj = 321;
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
    });
    const fake = join(rootfsOf(b), 'proc/self');
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'oom_score_adj'), '0\n');
    const r = sb.run(b);
    expect(readFileSync(join(fake, 'oom_score_adj'), 'utf8')).toBe('0\n');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/oom_score_adj is not on procfs/);
  });
});

describe('masked paths cannot be unmasked through the container\'s /dev/null (CVE-2025-31133 class)', () => {
  it('masks with the real null device even when a bound /dev has null as a symlink', () => {
    const dev = volume('dev');
    symlinkSync('/proc/self/status', join(dev, 'null'));
    const b = sb.bundle(['sh', '-c', 'wc -c < /proc/keys; wc -c < /proc/timer_list'], (s) => {
      s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
      s.mounts!.push({ destination: '/dev', type: 'bind', source: dev, options: ['rbind'] });
      s.linux!.maskedPaths = ['/proc/keys', '/proc/timer_list'];
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split(/\s+/)).toEqual(['0', '0']);
  });
});

// With --no-pivot the host's procfs and sysfs are detached before the
// chroot (test/rootfs/proc-guard.test.ts checks which); the nested-userns
// attack itself does not reproduce on these hosts (busybox's `unshare -r`
// cannot write its maps in a container, with runc too).
describe('--no-pivot', () => {
  it('the container still runs normally with --no-pivot', () => {
    const b = sb.bundle(['sh', '-c', 'cat /proc/self/cgroup >/dev/null && ls /sys/kernel >/dev/null && echo ok']);
    const r = sb.tsrun(['run', '--no-pivot', '--bundle', b, sb.id()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });
});

describe('the init never runs from the host binary (CVE-2019-5736)', () => {
  // A copy of the init: these tests never touch the checkout's binary.
  const initCopy = join(sb.dir, 'tsrun-init-copy');
  copyFileSync(join(REPO, 'native/build/tsrun-init'), initCopy);
  chmodSync(initCopy, 0o755);

  /** Creates a container inside a throw-away pid namespace whose
   * vm.memfd_noexec is `level`, and prints what its init runs from. */
  function initExeUnder(level: number): { exe: string; out: string } {
    const b = sb.bundle(['true']);
    const id = sb.id();
    const script = [
      `echo ${level} > /proc/sys/vm/memfd_noexec`,
      `"$TSRUN" --root "$ROOT" create --bundle "$B" ${id} || exit 1`,
      `pid=$("$TSRUN" --root "$ROOT" state ${id} | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')`,
      `echo "EXE=$(readlink /proc/$pid/exe)"`,
      `"$TSRUN" --root "$ROOT" delete --force ${id}`,
    ].join('\n');
    const r = spawnSync('unshare', ['-pf', '--mount-proc', 'sh', '-c', script], {
      encoding: 'utf8',
      timeout: 20000,
      env: { ...process.env, TSRUN, ROOT: sb.root, B: b, TSRUN_INIT: initCopy },
    });
    const exe = /EXE=(.*)/.exec(r.stdout)?.[1] ?? '';
    return { exe, out: r.stdout + r.stderr };
  }

  it('with vm.memfd_noexec=1 the init runs from an executable sealed memfd', () => {
    const { exe, out } = initExeUnder(1);
    expect(exe, out).not.toBe('');
    expect(exe).not.toContain(initCopy);
    expect(exe).toMatch(/^\/memfd:tsrun-init \(deleted\)$/);
  });

  it('with vm.memfd_noexec=2 (no executable memfds) the init runs from an unlinked private copy', () => {
    const { exe, out } = initExeUnder(2);
    expect(exe, out).not.toBe('');
    expect(exe).not.toContain(initCopy);
    expect(exe).toMatch(/\(deleted\)$/);
  });

  it('a container process cannot rewrite the init binary through /proc/<pid>/exe during exec', async () => {
    const before = readFileSync(initCopy);
    // The container races to open /proc/<pid>/exe of every process that
    // appears in its pid namespace and write to it.
    const race = 'while :; do for e in /proc/[0-9]*/exe; do (echo PAYLOAD >> "$e") 2>/dev/null && echo WROTE-EXE; done; done';
    const b = sb.bundle(['sh', '-c', race], (s) => {
      s.root!.readonly = false;
    });
    const id = sb.id();
    const env = { ...process.env, TSRUN_INIT: initCopy };
    const run = spawn(TSRUN, ['--root', sb.root, 'run', '--bundle', b, id], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    run.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 20; i++) spawnSync(TSRUN, ['--root', sb.root, 'exec', id, 'true'], { env, timeout: 10000 });
    spawnSync(TSRUN, ['--root', sb.root, 'kill', id, 'KILL'], { env });
    await new Promise((r) => run.on('exit', r));
    expect(out).not.toContain('WROTE-EXE');
    expect(readFileSync(initCopy).equals(before)).toBe(true);
  });
});

describe('no way out through the working directory or a leaked fd (CVE-2024-21626 class)', () => {
  it('a cwd of /proc/self/fd/N never puts the process in a host directory', () => {
    for (let n = 3; n < 12; n++) {
      const b = sb.bundle(['sh', '-c', 'ls ../../../../.. ; cat ../../../../../etc/hostname'], (s) => {
        s.process!.cwd = `/proc/self/fd/${n}`;
      });
      const r = sb.run(b);
      // Refused, or inside the container's own root: never the host's.
      if (r.code === 0) expect(r.stdout).toContain('tsrun\n');
      expect(r.stdout).not.toMatch(/\bboot\b|\bhome\b|\bsrv\b/);
    }
  });

  it('the container\'s program inherits no fd but its stdio', () => {
    const b = sb.bundle(['sh', '-c', 'ls /proc/self/fd']);
    const r = sb.run(b);
    // 0, 1, 2 and the directory ls itself opened.
    expect(r.stdout.trim().split(/\s+/).length).toBeLessThanOrEqual(4);
  });
});

describe('a mount target swapped for a symlink while mounting stays in the rootfs (CVE-2021-30465 class)', () => {
  it('a racing rename between a directory and an escaping symlink never mounts outside', () => {
    const vol = volume('race');
    const racer = spawn('sh', ['-c', `cd ${vol}; while :; do mkdir -p d; ln -sfn ../../../../../../../../tmp l; mv -T d b 2>/dev/null; mv -T l b 2>/dev/null; rm -rf d; done`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 15; i++) {
        const b = sb.bundle(['sh', '-c', 'grep -cE " (/a/b|/tmp) " /proc/self/mountinfo'], (s: Spec) => {
          s.mounts!.push({ destination: '/a', type: 'bind', source: vol, options: ['rbind'] });
          s.mounts!.push({ destination: '/a/b', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
        });
        const r = sb.run(b);
        // Either refused (the target vanished mid-rename) or mounted where
        // the container can see it: inside its own root.
        if (r.code === 0) expect(Number(r.stdout.trim())).toBeGreaterThan(0);
      }
    } finally {
      racer.kill('SIGKILL');
    }
  });
});

describe('/dev/console for a terminal (CVE-2025-52565 class)', () => {
  // When its stdin closes, script(1) sends the terminal's EOF character, a
  // NUL in raw mode, which the container's pty echoes as "^@": not the container's.
  const underPty = (cmd: string) => (spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 20000 }).stdout ?? '').replace(/\0|\^@/g, '');

  it('a terminal container gets /dev/console, the pty it runs on', () => {
    const b = sb.bundle(['sh', '-c', 'stat -c "%t:%T" /dev/console "$(tty)"'], (s) => (s.process!.terminal = true));
    const out = underPty(`${TSRUN} --root ${sb.root} run -b ${b} ${sb.id()}`);
    const [console_, tty] = out.trim().split(/\s+/);
    expect(console_, out).toMatch(/^88:\d+$/); // 136 (0x88): a pts device
    expect(console_).toBe(tty);
  });

  it('never binds the pty through a /dev/console symlink the image planted', () => {
    const dev = volume('dev-console');
    const decoy = join(sb.dir, `decoy-${sb.id()}`);
    writeFileSync(decoy, 'host file\n');
    symlinkSync(decoy, join(dev, 'console'));
    symlinkSync('pts/ptmx', join(dev, 'ptmx'));
    const b = sb.bundle(['true'], (s) => {
      s.process!.terminal = true;
      s.mounts = s.mounts!.map((m) => (m.destination === '/dev' ? { destination: '/dev', type: 'bind', source: dev, options: ['rbind'] } : m));
      s.linux!.maskedPaths = [];
    });
    const out = underPty(`${TSRUN} --root ${sb.root} run -b ${b} ${sb.id()}; echo rc=$?`);
    expect(out).toMatch(/console exists and is neither a file nor a device|pty multiplexer/);
    expect(out).not.toContain('rc=0');
    expect(readFileSync(decoy, 'utf8')).toBe('host file\n');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(decoy);
  });
});

describe('a mount\'s options apply to that mount, whatever the image\'s symlinks do once it is mounted', () => {
  /** An image whose /data first resolves to /m, and, once a volume with a
   * directory c is mounted there, to /L (found in an attacker's review). */
  function twoFacedImage(b: string, victim: string): void {
    const root = rootfsOf(b);
    mkdirSync(join(root, 'm'));
    mkdirSync(join(root, 'X'));
    symlinkSync('/X/Y/Z', join(root, 'm/c'));
    symlinkSync('/m', join(root, 'X/L'));
    symlinkSync('/m/c/../../L', join(root, 'data'));
    symlinkSync(victim, join(root, 'L'));
  }

  it('a read-only volume stays read-only (its remount is not redirected to /sys)', () => {
    const vol = volume('ro');
    mkdirSync(join(vol, 'c'));
    const b = sb.bundle(['sh', '-c', 'touch /m/written 2>/dev/null && echo WROTE; grep -E " /sys " /proc/self/mountinfo'], (s) => {
      s.mounts!.push({ destination: '/data', type: 'bind', source: vol, options: ['rbind', 'ro'] });
    });
    twoFacedImage(b, '/sys');
    const r = sb.run(b);
    expect(r.stdout).not.toContain('WROTE');
    expect(existsSync(join(vol, 'written'))).toBe(false);
    expect(r.stdout).toMatch(/ \/sys ro,nosuid,nodev,noexec/);
  });

  it('nosymfollow is applied (to the mount it was given for)', () => {
    const vol = volume('nosym');
    writeFileSync(join(vol, 'target'), 'followed\n');
    symlinkSync('target', join(vol, 'link'));
    const b = sb.bundle(['sh', '-c', 'cat /v/link 2>/dev/null || echo REFUSED; grep " /v " /proc/self/mountinfo'], (s) => {
      s.mounts!.push({ destination: '/v', type: 'bind', source: vol, options: ['rbind', 'nosymfollow'] });
    });
    const r = sb.run(b);
    expect(r.stdout).toContain('REFUSED');
    expect(r.stdout).toMatch(/nosymfollow/);
  });
});
