// The systemd cgroup driver (--systemd-cgroup) against a real systemd. Runs
// INSIDE the v2 lane's QEMU guest booted with systemd as PID 1:
//
//   V2_LANE_INIT=systemd scripts/v2-lane/run.sh node --test-reporter=spec scripts/v2-lane/guest-systemd.mjs
//
// (integration/cgroup-systemd.test.ts does that from the host). The same
// checks run for every runtime in SD_RUNTIMES (default: bin/tsrun, then
// Debian's runc as the control: a check runc fails is the test's fault).
// Real containers, busybox bundles built in the guest's tmpfs, no cgroup
// namespace (so that /proc/self/cgroup inside shows the scope's path).
// Then the clients that pass the flag, each with every runtime: podman
// --cgroup-manager systemd, and containerd 1.6's runc shim
// (io.containerd.runc.v2) with the SystemdCgroup and BinaryName options
// (ctr run --runc-systemd-cgroup --runc-binary): the task's scope and its
// properties, task exec, task kill + delete removing the unit.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { containerdConfig } from '../containerd-config.mjs';
import { ociArchive } from '../oci-archive.mjs';
import { waitFor } from './guest-lib.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CG = '/sys/fs/cgroup';
const WORK = mkdtempSync('/tmp/sd-lane-');
const MiB = 1024 * 1024;
const runtimes = (process.env.SD_RUNTIMES ?? `${join(REPO, 'bin/tsrun')} /usr/sbin/runc`).split(/\s+/).filter((r) => r && existsSync(r));

const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};
const show = (r) => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
const ok = (r, what) => assert.equal(r.code, 0, `${what} failed\n${show(r)}`);

/** systemctl show's properties of a unit, as an object. */
function unitProps(unit, ...names) {
  const r = sh('systemctl', ['show', unit, ...names.flatMap((n) => ['-p', n])]);
  ok(r, `systemctl show ${unit}`);
  return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
const unitGone = (unit) => {
  const p = unitProps(unit, 'LoadState', 'ActiveState');
  return p.LoadState === 'not-found' || p.ActiveState === 'inactive';
};

let n = 0;
function makeBundle(spec, args, mutate) {
  const dir = join(WORK, `bundle${n++}`);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'cat', 'echo', 'sleep', 'grep', 'ls', 'true', 'head']) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const s = structuredClone(spec);
  s.process.terminal = false;
  s.process.args = args;
  s.linux.namespaces = s.linux.namespaces.filter((ns) => ns.type !== 'cgroup');
  mutate?.(s);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(s, null, 2));
  return dir;
}


describe('the guest runs systemd as PID 1', () => {
  it('has /run/systemd/system, the system bus and a pure cgroup v2 tree', () => {
    assert.ok(existsSync('/run/systemd/system'), 'no /run/systemd/system');
    assert.equal(readFileSync('/proc/1/comm', 'utf8').trim(), 'systemd');
    ok(sh('busctl', ['--system', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId']), 'busctl call (the system bus)');
    assert.match(sh('systemctl', ['--version']).stdout, /^systemd \d+/);
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), /^0::\/system\.slice\//);
    assert.ok(runtimes.length > 0, 'no runtime to test');
  });
});

for (const runtime of runtimes) {
  const name = runtime.endsWith('runc') ? 'runc' : 'tsrun';
  const root = join('/run', `sd-lane-${name}`);
  /** The runtime with --root and --systemd-cgroup (unless plain). */
  const rt = (args, { stdio, plain = false } = {}) => {
    const r = spawnSync(runtime, ['--root', root, ...(plain ? [] : ['--systemd-cgroup']), ...args], { encoding: 'utf8', stdio: stdio ?? ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    const res = { code: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (process.env.V2_LANE_TRACE) console.error(`# ${name} ${args.join(' ')} -> ${res.code}\n${res.stdout}${res.stderr}`.trimEnd());
    return res;
  };
  let spec;
  const id = `sd-${name}-${process.pid}`;
  const unit = `tsrun-${id}.scope`;
  const scope = `/system.slice/${unit}`;
  const out = join(WORK, `${id}.out`);
  let pid = 0;

  describe(`${name} --systemd-cgroup`, () => {
    before(() => {
      const dir = join(WORK, `spec-${name}`);
      mkdirSync(dir);
      const r = spawnSync(runtime, ['spec', '--bundle', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${name} spec failed: ${r.stderr}`);
      spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    });

    it(`creates the container in ${'/system.slice/tsrun-<id>.scope'} with the limits as unit properties`, async () => {
      const b = makeBundle(spec, ['sh', '-c', 'echo "cgroup=$(cat /proc/self/cgroup)"; echo ready; exec sleep 1000'], (s) => {
        s.linux.cgroupsPath = `system.slice:tsrun:${id}`;
        s.linux.resources = { ...s.linux.resources, memory: { limit: 64 * MiB }, pids: { limit: 64 }, cpu: { shares: 1024 } };
      });
      const fd = openSync(out, 'w');
      const pidFile = join(WORK, `${id}.pid`);
      try {
        ok(rt(['create', '--bundle', b, '--pid-file', pidFile, id], { stdio: ['ignore', fd, fd] }), `${name} create`);
      } finally {
        closeSync(fd);
      }
      pid = Number(readFileSync(pidFile, 'utf8'));
      assert.equal(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `0::${scope}\n`, 'the init is not in the scope (host side)');
      ok(rt(['start', id]), `${name} start`);
      await waitFor('the container to print "ready"', () => readFileSync(out, 'utf8').includes('ready'));
      assert.match(readFileSync(out, 'utf8'), new RegExp(`^cgroup=0::${scope.replace(/\./g, '\\.')}$`, 'm'), 'the container sees another cgroup');
      const p = unitProps(unit, 'ActiveState', 'Slice', 'Delegate', 'MemoryMax', 'TasksMax', 'CPUWeight', 'ControlGroup');
      assert.deepEqual(p, { ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes', MemoryMax: String(64 * MiB), TasksMax: '64', CPUWeight: '39', ControlGroup: scope });
      assert.equal(readFileSync(join(CG, scope, 'memory.max'), 'utf8').trim(), String(64 * MiB));
      assert.equal(readFileSync(join(CG, scope, 'pids.max'), 'utf8').trim(), '64');
      assert.equal(readFileSync(join(CG, scope, 'cpu.weight'), 'utf8').trim(), '39');
    });

    it('update --memory changes the unit property and memory.max', () => {
      ok(rt(['update', '--memory', '128m', id]), `${name} update`);
      assert.equal(unitProps(unit, 'MemoryMax').MemoryMax, String(128 * MiB));
      assert.equal(readFileSync(join(CG, scope, 'memory.max'), 'utf8').trim(), String(128 * MiB));
    });

    it('pauses and resumes through the scope\'s cgroup.freeze', () => {
      ok(rt(['pause', id]), `${name} pause`);
      assert.equal(readFileSync(join(CG, scope, 'cgroup.freeze'), 'utf8').trim(), '1');
      assert.equal(JSON.parse(rt(['state', id]).stdout).status, 'paused');
      ok(rt(['resume', id]), `${name} resume`);
      assert.equal(readFileSync(join(CG, scope, 'cgroup.freeze'), 'utf8').trim(), '0');
      assert.equal(JSON.parse(rt(['state', id]).stdout).status, 'running');
    });

    it('execs into the scope, and ps, events --stats see it (without the flag too)', () => {
      const r = rt(['exec', id, 'cat', '/proc/self/cgroup']);
      ok(r, `${name} exec`);
      assert.equal(r.stdout, `0::${scope}\n`);
      const ps = rt(['ps', '--format', 'json', id], { plain: true });
      ok(ps, `${name} ps`);
      assert.deepEqual(JSON.parse(ps.stdout), [pid]);
      const ev = rt(['events', '--stats', id], { plain: true });
      ok(ev, `${name} events --stats`);
      const stats = JSON.parse(ev.stdout);
      assert.equal(stats.type, 'stats');
      assert.ok(stats.data.memory.usage.usage > 0, `memory usage: ${ev.stdout}`);
      assert.equal(stats.data.pids.current, 1);
    });

    it('delete stops the unit and removes its cgroup', () => {
      ok(rt(['kill', id, 'KILL']), `${name} kill`);
      ok(rt(['delete', '--force', id]), `${name} delete`);
      assert.ok(unitGone(unit), `${unit} is still loaded: ${JSON.stringify(unitProps(unit, 'LoadState', 'ActiveState'))}`);
      assert.equal(existsSync(join(CG, scope)), false, `${scope} is still there`);
      assert.equal(existsSync(join(root, id)), false);
    });

    it('refuses a cgroupsPath not of the slice:prefix:name form, leaving nothing behind', () => {
      const bad = `${id}-bad`;
      const b = makeBundle(spec, ['true'], (s) => {
        s.linux.cgroupsPath = `/tsrun/${bad}`;
      });
      const r = rt(['run', '--bundle', b, bad]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /slice:prefix:name/);
      if (name === 'tsrun') assert.equal(r.stderr.trim().split('\n').length, 1, `not one line:\n${r.stderr}`);
      assert.equal(existsSync(join(root, bad)), false, 'a state directory was left');
      assert.equal(sh('systemctl', ['list-units', '--all', '--no-legend', `*${bad}*`]).stdout.trim(), '');
    });

    it('a create that fails after the unit started removes the unit', () => {
      const bad = `${id}-fail`;
      const b = makeBundle(spec, ['true'], (s) => {
        s.linux.cgroupsPath = `system.slice:tsrun:${bad}`;
        s.mounts.push({ destination: '/mnt', type: 'bind', source: '/nonexistent-source', options: ['bind'] });
      });
      const r = rt(['create', '--bundle', b, bad]);
      assert.notEqual(r.code, 0, `create with a missing bind source succeeded\n${show(r)}`);
      assert.ok(unitGone(`tsrun-${bad}.scope`), `tsrun-${bad}.scope is still loaded`);
      assert.equal(existsSync(join(CG, 'system.slice', `tsrun-${bad}.scope`)), false, 'its cgroup is still there');
      assert.equal(existsSync(join(root, bad)), false, 'a state directory was left');
    });

    it('runs a container with an empty cgroupsPath in the default unit', () => {
      const plainId = `${id}-def`;
      const b = makeBundle(spec, ['cat', '/proc/self/cgroup'], (s) => {
        delete s.linux.cgroupsPath;
      });
      const r = rt(['run', '--bundle', b, plainId]);
      ok(r, `${name} run`);
      // runc names it runc-<id>.scope; tsrun (its own name as the prefix, like runc) tsrun-<id>.scope.
      assert.equal(r.stdout, `0::/system.slice/${name}-${plainId}.scope\n`);
      assert.ok(unitGone(`${name}-${plainId}.scope`));
    });
  });
}

// podman with its systemd cgroup manager: it passes --systemd-cgroup and a
// "machine.slice:libpod:<id>" cgroupsPath to the runtime. A private podman
// (storage, run root, tmpdir in the guest's tmpfs), a busybox image from
// `podman import` (no registry), the system's containers.conf without its
// default sysctls (as integration/podman.test.ts).
const podmanBin = ['/usr/bin/podman', '/bin/podman'].find((p) => existsSync(p));
describe('podman --cgroup-manager systemd', { skip: podmanBin ? false : 'podman is not installed' }, () => {
  const dir = join(WORK, 'podman');
  const image = 'localhost/sd-busybox:latest';
  const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
  const podman = (args) => {
    const r = spawnSync(podmanBin, ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'overlay', '--cgroup-manager', 'systemd', '--events-backend', 'file', ...args], { encoding: 'utf8', env, timeout: 180_000 });
    const res = { code: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (process.env.V2_LANE_TRACE) console.error(`# podman ${args.join(' ')} -> ${res.code}\n${res.stdout}${res.stderr}`.trimEnd());
    return res;
  };
  before(() => {
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    let conf = ['/etc/containers/containers.conf', '/usr/share/containers/containers.conf'].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'))[0] ?? '';
    conf = conf.replace(/^\s*default_sysctls\s*=\s*\[[^\]]*\]/m, 'default_sysctls = []');
    if (!/^\s*default_sysctls\s*=/m.test(conf)) conf = conf.replace(/^\[containers\]\s*$/m, '[containers]\ndefault_sysctls = []');
    if (!/^\s*default_sysctls\s*=/m.test(conf)) conf = `[containers]\ndefault_sysctls = []\n${conf}`;
    writeFileSync(join(dir, 'containers.conf'), conf);
    const rootfs = join(makeBundle({ process: {}, linux: { namespaces: [] } }, ['true']), 'rootfs');
    ok(sh('tar', ['--numeric-owner', '-C', rootfs, '-cf', join(dir, 'busybox.tar'), '.']), 'tar');
    ok(podman(['import', join(dir, 'busybox.tar'), image]), 'podman import');
  });
  for (const runtime of runtimes) {
    const name = runtime.endsWith('runc') ? 'runc' : 'tsrun';
    it(`podman run --rm with ${name} lands in machine.slice/libpod-<id>.scope and leaves no unit`, () => {
      const r = podman(['--runtime', runtime, 'run', '--rm', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--network', 'none', '--cgroupns', 'host', image, 'cat', '/proc/self/cgroup']);
      ok(r, `podman run with ${name}`);
      assert.match(r.stdout, /^0::\/machine\.slice\/libpod-[0-9a-f]{64}\.scope\n$/, `/proc/self/cgroup in the container:\n${r.stdout}`);
      const left = sh('systemctl', ['list-units', '--all', '--no-legend', 'libpod-*']).stdout.trim();
      assert.equal(left, '', `units left after podman run --rm:\n${left}`);
    });
  }
});

// containerd 1.6 (Debian's) with its runc shim (io.containerd.runc.v2) set
// to the systemd cgroup driver: `ctr run --runc-binary <runtime>
// --runc-systemd-cgroup` gives the shim the runc options BinaryName and
// SystemdCgroup = true (what CRI's [...runtimes.runc.options] gives it), so
// the shim runs the runtime with --systemd-cgroup; `--cgroup
// system.slice:ctr-<name>:<id>` is the spec's cgroupsPath (ctr requires one
// with the flag). A private containerd (root, state, sockets under the
// guest's tmpfs, CRI disabled: scripts/containerd-config.mjs), a
// busybox image imported as an OCI archive (scripts/oci-archive.mjs).
const ctdBins = ['containerd', 'ctr', 'containerd-shim-runc-v2'];
const ctdMissing = ctdBins.find((b) => sh('sh', ['-c', `command -v ${b}`]).code !== 0);
describe('containerd, runc shim with SystemdCgroup', { skip: ctdMissing ? `${ctdMissing} is not installed` : false }, () => {
  const dir = join(WORK, 'containerd');
  const sock = join(dir, 'containerd.sock');
  const logFile = join(dir, 'containerd.log');
  const fifoDir = join(dir, 'fifo');
  const ns = 'sd-lane';
  const image = 'docker.io/library/sd-busybox:latest';
  let snapshotter = 'overlayfs';
  let proc = null;
  let exited = false;
  const ctr = (args) => {
    const r = spawnSync('ctr', ['-a', sock, '-n', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    const res = { code: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (process.env.V2_LANE_TRACE) console.error(`# ctr ${args.join(' ')} -> ${res.code}\n${res.stdout}${res.stderr}`.trimEnd());
    return res;
  };
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-25).join('\n') : '(no log)');
  const okCtr = (r, what) => assert.equal(r.code, 0, `${what} failed\n${show(r)}\n--- containerd.log (tail)\n${logTail()}`);
  /** The task's pid and status per `ctr task ls`, or null. */
  const task = (id) => {
    for (const l of ctr(['task', 'ls']).stdout.split('\n')) {
      const w = l.trim().split(/\s+/);
      if (w[0] === id) return { pid: Number(w[1]), status: w[2] };
    }
    return null;
  };
  /** Live processes started with our socket on their command line (the shims). */
  const shims = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.includes('containerd-shim') && cmd.includes(sock);
        } catch {
          return false;
        }
      });

  before(async () => {
    mkdirSync(fifoDir, { recursive: true });
    writeFileSync(join(dir, 'config.toml'), containerdConfig(dir, sock));
    const log = openSync(logFile, 'a');
    proc = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    proc.on('exit', () => (exited = true));
    await waitFor('containerd to answer', () => exited || (existsSync(sock) && ctr(['version']).code === 0), 60_000);
    assert.equal(exited, false, `containerd exited\n${logTail()}`);
    if (!/io\.containerd\.snapshotter\.v1\s+overlayfs\s+\S+\s+ok/.test(ctr(['plugins', 'ls']).stdout)) snapshotter = 'native';
    const rootfs = join(makeBundle({ process: {}, linux: { namespaces: [] } }, ['true']), 'rootfs');
    okCtr(ctr(['images', 'import', '--snapshotter', snapshotter, ociArchive(rootfs, join(dir, 'busybox-oci.tar'), image)]), 'ctr images import');
  });

  after(async () => {
    if (proc && !exited) {
      for (const t of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
        ctr(['task', 'kill', '-a', '-s', 'SIGKILL', t]);
        await waitFor(`task ${t} to stop`, () => task(t)?.status !== 'RUNNING', 10_000).catch(() => {});
        ctr(['task', 'delete', '--force', t]);
      }
      for (const c of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'rm', c]);
      proc.kill('SIGTERM');
      await waitFor('containerd to exit', () => exited, 15_000).catch(() => proc.kill('SIGKILL'));
    }
    for (const p of shims()) process.kill(Number(p), 'SIGKILL');
  });

  for (const runtime of runtimes) {
    const name = runtime.endsWith('runc') ? 'runc' : 'tsrun';
    const id = `ctd-${name}-${process.pid}`;
    const unit = `ctr-${name}-${id}.scope`;
    const scope = `/system.slice/${unit}`;
    const runtimeRoot = join(dir, `${name}-root`);

    it(`${name}: ctr run -d lands in ${scope.replace(id, '<id>')} (active, Delegate=yes) with --memory-limit as MemoryMax`, async () => {
      const flags = ['--runc-binary', runtime, '--runc-root', runtimeRoot, '--runc-systemd-cgroup', '--cgroup', `system.slice:ctr-${name}:${id}`];
      okCtr(ctr(['run', '-d', ...flags, '--fifo-dir', fifoDir, '--snapshotter', snapshotter, '--memory-limit', String(64 * MiB), image, id, 'sleep', '600']), `ctr run -d (${name})`);
      const t = await waitFor(`task ${id} to run`, () => {
        const t = task(id);
        return t?.status === 'RUNNING' && t;
      }, 20_000);
      assert.equal(readFileSync(`/proc/${t.pid}/cgroup`, 'utf8'), `0::${scope}\n`, 'the task is not in the scope');
      const p = unitProps(unit, 'ActiveState', 'Slice', 'Delegate', 'MemoryMax', 'ControlGroup');
      assert.deepEqual(p, { ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes', MemoryMax: String(64 * MiB), ControlGroup: scope });
      assert.equal(readFileSync(join(CG, scope, 'memory.max'), 'utf8').trim(), String(64 * MiB));
    });

    it(`${name}: ctr task exec runs in the scope`, () => {
      const r = ctr(['task', 'exec', '--fifo-dir', fifoDir, '--exec-id', 'e1', id, 'cat', '/proc/self/cgroup']);
      okCtr(r, `ctr task exec (${name})`);
      assert.equal(r.stdout, `0::${scope}\n`);
    });

    it(`${name}: ctr task kill + task delete remove the unit, its cgroup and the runtime's state`, async () => {
      okCtr(ctr(['task', 'kill', '-s', 'SIGKILL', id]), 'ctr task kill');
      await waitFor(`task ${id} to stop`, () => task(id)?.status === 'STOPPED', 20_000);
      okCtr(ctr(['task', 'delete', id]), 'ctr task delete');
      okCtr(ctr(['containers', 'rm', id]), 'ctr containers rm');
      assert.ok(unitGone(unit), `${unit} is still loaded: ${JSON.stringify(unitProps(unit, 'LoadState', 'ActiveState'))}`);
      assert.equal(existsSync(join(CG, scope)), false, `${scope} is still there`);
      assert.equal(existsSync(join(runtimeRoot, ns, id)), false, `${name}'s state for ${id} is still there`);
    });
  }

  it('leaves nothing: no tasks, containers, ctr-* units or shims', async () => {
    assert.equal(ctr(['task', 'ls', '-q']).stdout.trim(), '');
    assert.equal(ctr(['containers', 'ls', '-q']).stdout.trim(), '');
    assert.equal(sh('systemctl', ['list-units', '--all', '--no-legend', 'ctr-*']).stdout.trim(), '');
    assert.deepEqual(readdirSync(join(CG, 'system.slice')).filter((f) => f.startsWith('ctr-')), []);
    await waitFor('the shims to exit', () => shims().length === 0, 10_000);
  });
});
