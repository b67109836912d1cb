// tsrun on a pure cgroup v2 kernel. Runs INSIDE the v2 lane's QEMU guest:
//
//   scripts/v2-lane/run.sh node --test-reporter=spec scripts/v2-lane/guest-check.mjs
//
// (integration/cgroup-v2.test.ts does that from the host). Real containers
// through the real CLI (bin/tsrun, the build made on the host), busybox
// bundles built here in the guest's tmpfs. Plain node:test rather than
// vitest: under TCG every process start costs about a second.
//
// The first test and "runs a container ..." need no resource support; the
// others check linux.resources, the v2 freezer, update, stats and devices.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from './guest-lib.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSRUN = join(REPO, 'bin/tsrun');
const CG = '/sys/fs/cgroup';
const STATE = '/run/tsrun-v2-lane';
const WORK = mkdtempSync('/tmp/v2-lane-');
const MiB = 1024 * 1024;

/** Runs `tsrun --root STATE ...args`. stdio: pipes unless given (a file for detached containers). */
function tsrun(args, { stdio, timeout = 120_000 } = {}) {
  const t0 = Date.now();
  const r = spawnSync(TSRUN, ['--root', STATE, ...args], { encoding: 'utf8', stdio: stdio ?? ['ignore', 'pipe', 'pipe'], timeout });
  const res = { code: r.status ?? 128 + 9, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
  if (process.env.V2_LANE_TRACE) console.error(`# tsrun ${args.join(' ')} -> ${res.code} (${res.ms} ms)\n${res.stdout}${res.stderr}`.trimEnd());
  return res;
}
const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
const ok = (r, what) => assert.equal(r.code, 0, `${what} failed\n${show(r)}`);

let baseSpec;
let n = 0;
/** A busybox bundle in tmpfs: the host's static busybox and `tsrun spec`'s config, with args and a mutation. */
function bundle(args, mutate) {
  const dir = join(WORK, `bundle${n++}`);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'usr/bin', 'usr/sbin', 'run']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const a of spawnSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    if (a !== 'bin/busybox' && !existsSync(join(rootfs, a))) symlinkSync('/bin/busybox', join(rootfs, a));
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  const spec = structuredClone(baseSpec);
  spec.process.terminal = false;
  spec.process.args = args;
  spec.linux.namespaces = spec.linux.namespaces ?? [];
  if (!spec.linux.namespaces.some((ns) => ns.type === 'cgroup')) spec.linux.namespaces.push({ type: 'cgroup' });
  mutate?.(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
const withResources = (res) => (s) => {
  s.linux.resources = { ...s.linux.resources, ...res };
};

const newId = (tag) => `v2-${tag}-${process.pid}`;
const cgDir = (id) => join(CG, 'tsrun', id);
const cgRead = (id, f) => readFileSync(join(cgDir(id), f), 'utf8').trim();
const gone = (id) => {
  if (existsSync(join(STATE, id))) tsrun(['delete', '--force', id]);
};


/** `tsrun create` with the container's output going to a file; returns the init's pid. */
function create(id, b) {
  const outFile = join(WORK, `${id}.out`);
  const pidFile = join(WORK, `${id}.pid`);
  const fd = openSync(outFile, 'w');
  let r;
  try {
    r = tsrun(['create', '--bundle', b, '--pid-file', pidFile, id], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  assert.equal(r.code, 0, `tsrun create failed: ${readFileSync(outFile, 'utf8')}`);
  return { pid: Number(readFileSync(pidFile, 'utf8')), output: () => readFileSync(outFile, 'utf8') };
}

/** create + start; resolves once the container printed "ready". */
async function startDetached(id, b) {
  const c = create(id, b);
  ok(tsrun(['start', id]), 'tsrun start');
  await waitFor(`${id} to print "ready"`, () => c.output().includes('ready'));
  return c;
}

const status = (id) => {
  const r = tsrun(['state', id]);
  ok(r, 'tsrun state');
  return JSON.parse(r.stdout).status;
};

/** key=value lines (values may contain spaces) into an object. */
const kv = (text) => Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

before(() => {
  const r = tsrun(['spec', '--bundle', WORK]);
  assert.equal(r.code, 0, `tsrun spec failed (is tsrun built? npm run build on the host)\n${show(r)}`);
  baseSpec = JSON.parse(readFileSync(join(WORK, 'config.json'), 'utf8'));
});

describe('the guest is a pure cgroup v2 machine', () => {
  it('has cgroup2 at /sys/fs/cgroup with the usual controllers and no v1 hierarchy', () => {
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    assert.deepEqual(mounts.filter((m) => m[2] === 'cgroup').map((m) => m[1]), [], 'cgroup v1 hierarchies are mounted');
    assert.ok(mounts.some((m) => m[1] === CG && m[2] === 'cgroup2'), 'no cgroup2 at /sys/fs/cgroup');
    const ctrl = readFileSync(join(CG, 'cgroup.controllers'), 'utf8').trim().split(' ');
    for (const c of ['cpu', 'memory', 'pids', 'io']) assert.ok(ctrl.includes(c), `controller ${c} missing: ${ctrl}`);
    assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), '0::/\n');
  });
});

describe('tsrun on cgroup v2', () => {
  it('runs a container in /sys/fs/cgroup/tsrun/<id> with a cgroup namespace, and delete removes the cgroup', async () => {
    // Needs no resource support: create, look, start, look, delete.
    const id = newId('basic');
    try {
      const b = bundle(['sh', '-c', 'echo "cgroup=$(cat /proc/self/cgroup)"; echo "files=$(ls /sys/fs/cgroup | grep -c .)"; echo ready; exec sleep 1000']);
      const c = create(id, b);
      assert.ok(existsSync(cgDir(id)), `${cgDir(id)} does not exist after create`);
      assert.equal(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'), `0::/tsrun/${id}\n`, "the init is not in the container's cgroup");
      ok(tsrun(['start', id]), 'tsrun start');
      await waitFor('the container to print "ready"', () => c.output().includes('ready'));
      const seen = kv(c.output());
      assert.equal(seen.cgroup, '0::/', `/proc/self/cgroup inside the container:\n${c.output()}`);
      assert.ok(Number(seen.files) > 0, `the container sees an empty /sys/fs/cgroup:\n${c.output()}`);
      assert.deepEqual(cgRead(id, 'cgroup.procs').split('\n').map(Number), [c.pid]);
      ok(tsrun(['delete', '--force', id]), 'tsrun delete --force');
      assert.equal(existsSync(cgDir(id)), false, `${cgDir(id)} is still there after delete`);
    } finally {
      gone(id);
    }
  });

  it('applies linux.resources as cgroup v2 files, visible from inside the container', () => {
    const files = ['memory.max', 'pids.max', 'cpu.max', 'cpu.weight'];
    const b = bundle(
      ['sh', '-c', `for f in ${files.join(' ')}; do echo "$f=$(cat /sys/fs/cgroup/$f)"; done; echo "cgroup=$(cat /proc/self/cgroup)"`],
      withResources({ memory: { limit: 64 * MiB }, pids: { limit: 20 }, cpu: { shares: 512, quota: 50000, period: 100000 } }),
    );
    const r = tsrun(['run', '--bundle', b, newId('limits')]);
    ok(r, 'tsrun run');
    // cpu.shares 512 -> cpu.weight 1 + ((512 - 2) * 9999) / 262142 = 20 (runc's conversion)
    assert.deepEqual(kv(r.stdout), { 'memory.max': String(64 * MiB), 'pids.max': '20', 'cpu.max': '50000 100000', 'cpu.weight': '20', cgroup: '0::/' }, show(r));
  });

  it('stops a fork bomb at pids.max', () => {
    // The shell, its subshell and 18 sleeps make the 20 pids allowed; the 19th
    // sleep's fork fails (EAGAIN) and ash gives up. Builtins only from there on.
    const b = bundle(
      ['sh', '-c', '(n=0; while [ $n -lt 100 ]; do sleep 1000 & n=$((n+1)); echo "fork $n"; done); echo "rc=$?"'],
      withResources({ pids: { limit: 20 } }),
    );
    const r = tsrun(['run', '--bundle', b, newId('forkbomb')]);
    const forks = r.stdout.split('\n').filter((l) => l.startsWith('fork ')).length;
    assert.equal(forks, 18, `the shell forked ${forks} sleeps under pids.max=20 (expected 18)\n${show(r)}`);
    assert.match(r.stdout, /^rc=[1-9]/m, `the fork bomb did not fail\n${show(r)}`);
    assert.match(r.stderr + r.stdout, /can't fork/, show(r));
  });

  it('OOM-kills a memory hog beyond memory.max (exit 137)', () => {
    // dd's 96 MiB buffer, filled from /dev/zero, is over the 64 MiB limit;
    // dd is the container's init, so its SIGKILL is the container's status.
    const b = bundle(['sh', '-c', 'echo start; exec dd if=/dev/zero of=/dev/null bs=96M count=1'], withResources({ memory: { limit: 64 * MiB } }));
    const r = tsrun(['run', '--bundle', b, newId('oom')]);
    assert.equal(r.code, 137, `expected the OOM killer's SIGKILL (137)\n${show(r)}`);
    assert.equal(r.stdout, 'start\n', show(r));
  });

  describe('a running container', () => {
    const id = newId('running');
    let pid;
    before(async () => {
      const b = bundle(['sh', '-c', 'echo ready; exec sleep 1000'], withResources({ memory: { limit: 64 * MiB }, pids: { limit: 20 } }));
      pid = (await startDetached(id, b)).pid;
    });
    after(() => gone(id));

    it('pauses and resumes with cgroup.freeze', () => {
      ok(tsrun(['pause', id]), 'tsrun pause');
      assert.equal(cgRead(id, 'cgroup.freeze'), '1', 'cgroup.freeze after pause');
      assert.match(cgRead(id, 'cgroup.events'), /^frozen 1$/m, 'cgroup.events after pause');
      assert.equal(status(id), 'paused');
      ok(tsrun(['resume', id]), 'tsrun resume');
      assert.equal(cgRead(id, 'cgroup.freeze'), '0', 'cgroup.freeze after resume');
      assert.equal(status(id), 'running');
    });

    it('execs a process into the container cgroup and namespace', () => {
      // cgroup.procs read in the container lists pids of its pid namespace.
      const r = tsrun(['exec', id, 'sh', '-c', 'cat /proc/self/cgroup; grep -qx $$ /sys/fs/cgroup/cgroup.procs && echo joined']);
      ok(r, 'tsrun exec');
      assert.equal(r.stdout, '0::/\njoined\n', show(r));
    });

    it('reports stats from the v2 files (events --stats)', () => {
      const r = tsrun(['events', '--stats', id]);
      ok(r, 'tsrun events --stats');
      const ev = JSON.parse(r.stdout);
      assert.equal(ev.type, 'stats', r.stdout);
      assert.deepEqual(ev.data.pids, { current: 1, limit: 20 }, r.stdout);
      assert.ok(ev.data.memory.usage.usage > 0, `memory usage in ${r.stdout}`);
      assert.equal(ev.data.memory.usage.limit, Number(cgRead(id, 'memory.max')), `memory limit in ${r.stdout}`);
      assert.ok(ev.data.cpu.usage.total > 0, `cpu usage in ${r.stdout}`);
    });

    it('lists its processes (ps --format json)', () => {
      const r = tsrun(['ps', '--format', 'json', id]);
      ok(r, 'tsrun ps');
      assert.deepEqual(JSON.parse(r.stdout), [pid]);
    });

    it('updates limits in place (update)', () => {
      ok(tsrun(['update', '--memory', '128m', '--pids-limit', '30', '--cpu-quota', '20000', '--cpu-period', '100000', id]), 'tsrun update');
      assert.deepEqual(
        { memory: cgRead(id, 'memory.max'), pids: cgRead(id, 'pids.max'), cpu: cgRead(id, 'cpu.max') },
        { memory: String(128 * MiB), pids: '30', cpu: '20000 100000' },
        'the cgroup files after tsrun update',
      );
      ok(tsrun(['update', '--memory', '-1', '--pids-limit', '-1', id]), 'tsrun update (unlimited)');
      assert.deepEqual({ memory: cgRead(id, 'memory.max'), pids: cgRead(id, 'pids.max') }, { memory: 'max', pids: 'max' });
    });

    it('removes its cgroup on delete --force', () => {
      ok(tsrun(['delete', '--force', id]), 'tsrun delete --force');
      assert.equal(existsSync(cgDir(id)), false, `${cgDir(id)} is still there after delete`);
    });
  });

  it('honours an absolute linux.cgroupsPath and linux.resources.unified', () => {
    const id = newId('unified');
    const path = `/v2-lane/nested/${id}`;
    const b = bundle(['sh', '-c', 'echo "memory.high=$(cat /sys/fs/cgroup/memory.high)"; echo "cgroup=$(cat /proc/self/cgroup)"'], (s) => {
      s.linux.cgroupsPath = path;
      s.linux.resources = { ...s.linux.resources, unified: { 'memory.high': String(48 * MiB) } };
    });
    const r = tsrun(['run', '--bundle', b, id]);
    ok(r, 'tsrun run');
    assert.deepEqual(kv(r.stdout), { 'memory.high': String(48 * MiB), cgroup: '0::/' }, show(r));
    assert.equal(existsSync(join(CG, path)), false, `${join(CG, path)} is still there after run`);
  });

  it('enforces linux.resources.devices (on v2: an eBPF device program)', () => {
    // With CAP_MKNOD (docker's and podman's default set has it) a container can
    // make any device node; the device cgroup must still refuse to open one the
    // spec does not allow. /dev/null (1:3) is in the default allow list,
    // /dev/kmsg (1:11) is not; writing to kmsg needs no other capability.
    // (runc 1.1 attaches a BPF_CGROUP_DEVICE program and refuses with EPERM.)
    const b = bundle(
      ['sh', '-c', 'mknod /dev/null2 c 1 3 && echo x >/dev/null2; echo "null=$?"; mknod /dev/kmsg2 c 1 11 && echo "tsrun v2-lane: device cgroup not enforced" >/dev/kmsg2; echo "kmsg=$?"'],
      (s) => {
        for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set] = [...new Set([...s.process.capabilities[set], 'CAP_MKNOD'])];
        s.linux.resources = { ...s.linux.resources, devices: [{ allow: false, access: 'rwm' }] };
      },
    );
    const r = tsrun(['run', '--bundle', b, newId('devices')]);
    ok(r, 'tsrun run');
    assert.equal(kv(r.stdout).null, '0', `an allowed device (c 1:3) could not be made and opened\n${show(r)}`);
    assert.deepEqual(
      { kmsg: kv(r.stdout).kmsg, eperm: /Operation not permitted/.test(r.stderr) },
      { kmsg: '1', eperm: true },
      `the container opened c 1:11 although linux.resources.devices denies it\n${show(r)}`,
    );
  });

  it('rootless with a delegated subtree: an unprivileged user\'s container gets its limits', () => {
    // A user whose session lives in a subtree it owns (what systemd's
    // Delegate=yes gives a user@.service), as in rootless podman.
    const user = 'v2lane';
    if (spawnSync('id', ['-u', user]).status !== 0) {
      const add = spawnSync('useradd', ['-M', '-s', '/bin/sh', user], { encoding: 'utf8' });
      assert.equal(add.status, 0, `useradd: ${add.stderr}`);
    }
    const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
    const deleg = join(CG, 'v2-lane-user');
    mkdirSync(join(deleg, 'session'), { recursive: true });
    writeFileSync(join(CG, 'cgroup.subtree_control'), '+memory +pids');
    writeFileSync(join(deleg, 'cgroup.subtree_control'), '+memory +pids');
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads', 'session', 'session/cgroup.procs']) {
      spawnSync('chown', [`${uid}:${gid}`, join(deleg, f)]);
    }
    // The runtime copy the user can read wherever the checkout is.
    const app = join(WORK, 'app');
    for (const part of ['bin', 'cmd/launch.cjs', 'dist', 'native/build', 'node_modules/koffi']) mkdirSync(join(app, part, '..'), { recursive: true });
    for (const part of ['bin', 'cmd/launch.cjs', 'dist', 'native/build', 'node_modules/koffi']) spawnSync('cp', ['-a', join(REPO, part), join(app, part, '..')]);
    chmodSync(WORK, 0o755);
    spawnSync('chmod', ['-R', 'a+rX', WORK]);
    const id = newId('deleg');
    // The host's /sys is bound in (rootless has no sysfs of its own), so the
    // container reads its own cgroup files through the host path.
    const own = `/sys/fs/cgroup/v2-lane-user/tsrun/${id}`;
    const b = bundle(['sh', '-c', `echo "memory.max=$(cat ${own}/memory.max)"; echo "pids.max=$(cat ${own}/pids.max)"; echo "uid=$(id -u)"`], (s) => {
      s.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
      s.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
      s.mounts = s.mounts.filter((m) => m.type !== 'sysfs' && m.type !== 'cgroup' && m.destination !== '/dev/pts');
      s.mounts.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
      s.linux.cgroupsPath = `/v2-lane-user/tsrun/${id}`;
      s.linux.resources = { memory: { limit: 64 * MiB }, pids: { limit: 20 } };
    });
    spawnSync('chmod', ['-R', 'a+rX', WORK]);
    const xdg = join(WORK, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    spawnSync('chown', [`${uid}:${gid}`, xdg]);
    // Root puts the session in the delegated subtree, then becomes the user.
    const script = `echo $$ > ${join(deleg, 'session/cgroup.procs')} && exec runuser -u ${user} -- env XDG_RUNTIME_DIR=${xdg} ${join(app, 'bin/tsrun')} run --bundle ${b} ${id}`;
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
    const res = { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    assert.equal(res.code, 0, `rootless run failed\n${show(res)}`);
    assert.deepEqual(kv(res.stdout), { 'memory.max': String(64 * MiB), 'pids.max': '20', uid: '0' }, show(res));
    assert.equal(existsSync(join(deleg, 'tsrun', id)), false, 'the container cgroup is still there after run');
  });

  it('leaves no cgroup behind under /sys/fs/cgroup/tsrun', () => {
    const dir = join(CG, 'tsrun');
    const left = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
    assert.deepEqual(left, []);
  });
});
