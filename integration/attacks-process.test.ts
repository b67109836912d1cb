// Attacks on a container's process boundary, each performed for real: device
// nodes the device cgroup should refuse, capabilities an exec must not pass
// on, hooks that hold the runtime's channel or stall it, and an exec that
// must not land in the host's root.
//
// Commands run with stdio in files, not pipes: a created or stalled
// container would hold a pipe and keep a synchronous spawn waiting.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hook, LinuxDevice, Spec } from '../src/oci/types';
import { Sandbox, TSRUN } from './helpers';

const sb = new Sandbox('attacks-process');
afterAll(() => sb.cleanup());

interface Out {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let seq = 0;

function cli(args: string[], timeout = 20000): Out {
  const n = seq++;
  const outFile = join(sb.dir, `.out${n}`);
  const errFile = join(sb.dir, `.err${n}`);
  const o = openSync(outFile, 'w');
  const e = openSync(errFile, 'w');
  const t0 = Date.now();
  try {
    const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', o, e], timeout });
    return { code: r.status ?? -1, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8'), ms: Date.now() - t0 };
  } finally {
    closeSync(o);
    closeSync(e);
    unlinkSync(outFile);
    unlinkSync(errFile);
  }
}

/** `tsrun run` of a busybox bundle running `sh -c script`, in the foreground. */
function runSh(script: string, mutate?: (s: Spec) => void): Out {
  return cli(['run', '--bundle', sb.bundle(['sh', '-c', script], mutate), sb.id()]);
}

const HOOK_ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];

function shHook(script: string, timeout?: number): Hook {
  return { path: '/bin/sh', args: ['sh', '-c', script], env: HOOK_ENV, ...(timeout ? { timeout } : {}) };
}

const FUSE: LinuxDevice = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
const OPEN_FUSE = 'if (exec 3</dev/fuse); then echo opened; else echo refused; fi';

describe('device cgroup: linux.devices does not widen linux.resources.devices', () => {
  it('a device in linux.devices behind a deny-all device cgroup cannot be opened (EPERM)', () => {
    const r = runSh(OPEN_FUSE, (s) => {
      s.linux!.devices = [FUSE];
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
    });
    expect(r.stdout).toBe('refused\n');
    expect(r.stderr).toMatch(/\/dev\/fuse: Operation not permitted/);
  });

  it('an explicit deny of the device stays a deny', () => {
    const r = runSh(OPEN_FUSE, (s) => {
      s.linux!.devices = [FUSE];
      s.linux!.resources = { devices: [{ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }] };
    });
    expect(r.stdout).toBe('refused\n');
  });

  it('it opens when linux.resources.devices allows it', () => {
    const r = runSh(OPEN_FUSE, (s) => {
      s.linux!.devices = [FUSE];
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('opened\n');
  });

  it('a config device at a default path replaces that default\'s allow rule (as runc): /dev/full denied', () => {
    const r = runSh('echo x > /dev/full; echo x > /dev/null && echo null-ok', (s) => {
      s.linux!.devices = [{ path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 }];
    });
    expect(r.stderr).toMatch(/\/dev\/full: Operation not permitted/);
    expect(r.stdout).toBe('null-ok\n');
  });
});

describe('exec --cap', () => {
  it('adds the capability to bounding, effective and permitted only, never inheritable or ambient', () => {
    const b = sb.bundle(['sleep', '300']);
    const id = sb.id();
    expect(sb.runDetached(b, id).code).toBe(0);
    try {
      const r = cli(['exec', '--cap', 'CAP_SYS_ADMIN', id, 'grep', '^Cap', '/proc/self/status']);
      expect(r.stderr).toBe('');
      const caps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
      const SYS_ADMIN = 1n << 21n;
      for (const set of ['CapBnd', 'CapEff', 'CapPrm']) expect(BigInt(`0x${caps[set]}`) & SYS_ADMIN, set).toBe(SYS_ADMIN);
      expect(caps.CapInh).toBe('0000000000000000');
      expect(caps.CapAmb).toBe('0000000000000000');
    } finally {
      cli(['delete', '--force', id]);
    }
  });
});

describe('hooks', () => {
  it('a createContainer hook gets only stdin, stdout and stderr: not the control socket', () => {
    const dir = mkdtempSync(join(sb.dir, 'fds-'));
    const r = runSh('true', (s) => {
      s.hooks = { createContainer: [shHook(`ls /proc/self/fd > ${dir}/fds`)] };
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 3 is the directory ls reads /proc/self/fd through.
    expect(readFileSync(join(dir, 'fds'), 'utf8').split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']);
  });

  it('a hook that never reads a state over 64 KiB is killed at its timeout; create fails naming it', () => {
    const b = sb.bundle(['true'], (s) => {
      s.annotations = { big: 'x'.repeat(200 * 1024) };
      s.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '100'], timeout: 1 }] };
    });
    const r = cli(['create', '--bundle', b, sb.id()], 15000);
    expect(r.ms).toBeLessThan(5000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/createContainer hook #0 \(\/bin\/sleep\).*timed out/);
  });

  it('a hook that reads a state over 64 KiB gets all of it', () => {
    const dir = mkdtempSync(join(sb.dir, 'state-'));
    const r = runSh('true', (s) => {
      s.annotations = { big: 'x'.repeat(200 * 1024) };
      s.hooks = { createContainer: [shHook(`cat > ${dir}/state`, 5)] };
    });
    expect(r.stderr).toBe('');
    const st = JSON.parse(readFileSync(join(dir, 'state'), 'utf8')) as { annotations: Record<string, string> };
    expect(st.annotations.big).toHaveLength(200 * 1024);
  });

  it('a createContainer timeout whose milliseconds overflow 32 bits does not kill the hook early', () => {
    // 4294968 s = 2^32 + 704 ms: truncated to an int, a 0.7 s timeout.
    const r = runSh('echo ran', (s) => {
      s.hooks = { createContainer: [shHook('sleep 1.5', 4294968)] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ran\n');
  });

  it('a prestart timeout above 2^31-1 ms does not fire at once', () => {
    const r = runSh('echo ran', (s) => {
      s.hooks = { prestart: [shHook('sleep 0.3', 2147484)] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ran\n');
  });

  it('a failing startContainer hook is reported naming the hook and its exit status', () => {
    const r = runSh('echo should-not-run', (s) => {
      s.hooks = { startContainer: [shHook('exit 3')] };
    });
    expect(r.stdout).toBe('');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error running hook: startContainer hook #0 \(\/bin\/sh\): exit status 3/);
    expect(r.stderr).not.toMatch(/No child processes/);
  });
});

describe('exec into a container without a mount namespace', () => {
  it('sees the container\'s root (the one its init is chrooted into), not the host\'s', () => {
    const b = sb.bundle(['sleep', '300'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      s.mounts = [];
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
    });
    writeFileSync(join(b, 'rootfs/marker'), 'container-root\n');
    const id = sb.id();
    expect(sb.runDetached(b, id).code).toBe(0);
    try {
      const init = cli(['exec', id, 'sh', '-c', 'cat /marker; ls /']);
      expect(init.stderr).toBe('');
      const [marker, ...entries] = init.stdout.trim().split('\n');
      expect(marker).toBe('container-root');
      expect(entries.sort()).toEqual(readdirSync(join(b, 'rootfs')).sort());
      expect(entries).not.toContain('work');
      const osRelease = cli(['exec', id, 'cat', '/etc/os-release']);
      expect(osRelease.stdout).toBe('');
      expect(osRelease.code).not.toBe(0);
    } finally {
      cli(['delete', '--force', id]);
    }
  });
});
