import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownProcsFile } from '../../src/shim/cgroup-primer';
import { Publisher, Topic, type Envelope } from '../../src/shim/events';
import { parseFlags } from '../../src/shim/main';
import { pidFileName, shimKey, shimPaths } from '../../src/shim/paths';
import { decode, T } from '../../src/shim/proto';
import { procStat } from '../../src/sys/proc';
import { parseStdio } from '../../src/shim/stdio';
import { Code } from '../../src/shim/ttrpc';

const LAUNCHER = resolve(__dirname, '../../bin/containerd-shim-tsrun-v2');

describe('shim command line', () => {
  it('parses Go-style flags up to the command', () => {
    const f = parseFlags(['-namespace', 'k8s.io', '-address', '/run/c.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc', '-debug', 'start', '-x']);
    expect(f).toMatchObject({ namespace: 'k8s.io', address: '/run/c.sock', publishBinary: '/usr/bin/containerd', id: 'abc', debug: true, action: 'start' });
    expect(parseFlags(['--namespace=ns', '-bundle=/b', 'delete'])).toMatchObject({ namespace: 'ns', bundle: '/b', action: 'delete', debug: false });
    expect(parseFlags(['-debug=false', '-v']).debug).toBe(false);
    expect(parseFlags(['-v']).version).toBe(true);
    expect(parseFlags(['-namespace', 'x']).action).toBe('');
    expect(() => parseFlags(['-bogus', 'x'])).toThrow(/not defined/);
    expect(() => parseFlags(['-namespace'])).toThrow(/needs an argument/);
  });

  it('keys shims by containerd address and namespace; socket paths stay short', () => {
    expect(shimKey('/a', 'n')).toMatch(/^[0-9a-f]{32}$/);
    expect(shimKey('/a', 'n')).not.toBe(shimKey('/a', 'm'));
    expect(shimKey('/a', 'n')).not.toBe(shimKey('/b', 'n'));
    const p = shimPaths('/run/containerd/containerd.sock', 'default', '/run/tsrun-shim');
    expect(p.socket.length).toBeLessThan(100);
    expect(p.stateRoot).toBe('/run/tsrun-shim/default');
    expect(pidFileName('/run/containerd/containerd.sock', 'default')).toBe('default@_run_containerd_containerd.sock.pid');
  });

  it('errors of the stdio URIs containerd may pass', () => {
    expect(parseStdio('')).toEqual({ kind: 'none' });
    expect(parseStdio('/run/fifo/x-stdout')).toEqual({ kind: 'fifo', path: '/run/fifo/x-stdout' });
    expect(parseStdio('fifo:///run/f')).toEqual({ kind: 'fifo', path: '/run/f' });
    expect(parseStdio('file:///var/log/c%20x.log')).toEqual({ kind: 'file', path: '/var/log/c x.log' });
    expect(() => parseStdio('binary:///usr/bin/logger?x=1')).toThrow(expect.objectContaining({ code: Code.UNIMPLEMENTED }));
  });

  it('picks its own cgroup.procs to prime the cgroup lock', () => {
    const mountinfo = [
      '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw',
      '31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid shared:11 - cgroup cgroup rw,pids',
      '32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct',
    ].join('\n');
    expect(ownProcsFile(mountinfo, '2:cpu,cpuacct:/a\n1:pids:/sys.slice\n0::/sys.slice/c.service\n')).toBe('/sys/fs/cgroup/unified/sys.slice/c.service/cgroup.procs');
    expect(ownProcsFile(mountinfo.split('\n').slice(1).join('\n'), '2:cpuacct,cpu:/a\n1:pids:/p\n')).toBe('/sys/fs/cgroup/pids/p/cgroup.procs');
    // A cgroup outside what is mounted (a cgroup namespace) is not used.
    const nsroot = '31 25 0:27 /outer /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids';
    expect(ownProcsFile(nsroot, '1:pids:/other\n')).toBeUndefined();
    expect(ownProcsFile(nsroot, '1:pids:/outer/inner\n')).toBe('/sys/fs/cgroup/pids/inner/cgroup.procs');
  });
});

describe('the launcher answers `start` without Node when the shim is up', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function setup(pidLine: string, address = '/run/ctd/containerd.sock', ns = 'k8s.io', withHint = false) {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-launcher-'));
    const base = join(dir, 'state');
    const p = shimPaths(address, ns, base);
    mkdirSync(p.dir, { recursive: true });
    let hintFd: number | undefined;
    if (withHint) {
      expect(spawnSync('mkfifo', [p.hint]).status).toBe(0);
      hintFd = openSync(p.hint, constants.O_RDWR | constants.O_NONBLOCK);
    }
    const hint = () => {
      const buf = Buffer.alloc(4096);
      const n = readSync(hintFd!, buf, 0, buf.length, null);
      closeSync(hintFd!);
      return buf.subarray(0, n).toString();
    };
    const server = createServer();
    await new Promise<void>((r) => server.listen(p.socket, r));
    writeFileSync(p.pidFile, `${pidLine} ${p.socket}\n${address}\n${ns}\n`);
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    // Node is not found on this PATH: only the fast path can answer.
    const r = spawnSync('/bin/sh', [LAUNCHER, '-namespace', ns, '-address', address, '-publish-binary', '/x', '-id', 'c1', 'start'], {
      cwd: bundle,
      env: { PATH: '/usr/bin:/bin', TSRUN_SHIM_STATE: base, TSRUN_NODE: '/nonexistent/node' },
      encoding: 'utf8',
    });
    server.close();
    return { r, p, bundle, hint };
  }

  it('prints the live shim’s address and writes the bundle’s address file', async () => {
    const { r, p, bundle } = await setup(`${process.pid} ${procStat(process.pid)!.startTime}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`unix://${p.socket}`);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(`unix://${p.socket}`);
  });

  it('announces the container on the shim’s hint FIFO', async () => {
    const { r, bundle, hint } = await setup(`${process.pid} ${procStat(process.pid)!.startTime}`, undefined, undefined, true);
    expect(r.status, r.stderr).toBe(0);
    expect(hint()).toBe(`${bundle}\tc1\n`);
  });

  it('falls through to Node when the pid is not the shim that wrote the file', async () => {
    const { r } = await setup(`${process.pid} 12345`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/nonexistent\/node/);
  });

  it('`delete` of a container the shim already deleted needs no Node either', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-launcher-'));
    const base = join(dir, 'state');
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    const run = (id: string) =>
      spawnSync('/bin/sh', [LAUNCHER, '-namespace', 'ns', '-address', '/a', '-id', id, '-bundle', bundle, 'delete'], {
        cwd: bundle,
        env: { PATH: '/usr/bin:/bin', TSRUN_SHIM_STATE: base, TSRUN_NODE: '/nonexistent/node' },
      });
    const gone = run('c1');
    expect(gone.status).toBe(0);
    // An empty DeleteResponse.
    expect(gone.stdout.length).toBe(0);
    expect(decode(T.DeleteResponse, gone.stdout)).toMatchObject({ pid: 0, exit_status: 0 });
    mkdirSync(join(base, 'ns', 'c2'), { recursive: true });
    expect(run('c2').status).not.toBe(0); // still there: Node must clean up
    writeFileSync(join(base, 'ns', 'c2', 'shim-deleted'), '');
    expect(run('c2').status).not.toBe(0); // marked, but its shim is not alive to finish
    // A live shim (this process stands in for it).
    const p = shimPaths('/a', 'ns', base);
    mkdirSync(p.dir, { recursive: true });
    const server = createServer();
    await new Promise<void>((r) => server.listen(p.socket, r));
    try {
      writeFileSync(p.pidFile, `${process.pid} ${procStat(process.pid)!.startTime} ${p.socket}\n/a\nns\n`);
      expect(run('c2').status).toBe(0);
      writeFileSync(join(bundle, 'rootfs', 'bin'), ''); // a mounted rootfs is not empty
      expect(run('c2').status).not.toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('event publisher', () => {
  it('sends events in order, retrying a failed one', async () => {
    const got: string[] = [];
    let fail = 1;
    const p = new Publisher({ namespace: 'ns' });
    p.transport = async (e: Envelope) => {
      if (e.topic === Topic.start && fail-- > 0) throw new Error('transient');
      got.push(e.topic);
    };
    p.publish(Topic.create, { container_id: 'c' });
    p.publish(Topic.start, { container_id: 'c', pid: 1 });
    p.publish(Topic.exit, { container_id: 'c', id: 'c', pid: 1, exit_status: 0 });
    await p.flush();
    expect(got).toEqual([Topic.create, Topic.start, Topic.exit]);
    expect(p.sent.map((e) => e.type)).toEqual(['containerd.events.TaskCreate', 'containerd.events.TaskStart', 'containerd.events.TaskExit']);
    expect(() => p.publish('/tasks/nope', {})).toThrow(/unknown event topic/);
  });
});
