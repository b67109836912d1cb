// tsrun on a pure cgroup v2 kernel. Runs INSIDE the v2 lane's QEMU guest:
//
//   scripts/v2-lane/run.sh node scripts/v2-lane/guest-check.mjs
//
// (integration/cgroup-v2.test.ts does that from the host). Real containers
// through the real CLI (bin/tsrun, the bundled build made on the host), busybox
// bundles built here in the guest's tmpfs. Plain node:test, not vitest: under
// TCG every Node start-up costs seconds.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSRUN = join(REPO, 'bin/tsrun');
const CG = '/sys/fs/cgroup';
const STATE = '/run/tsrun-v2-lane';
const WORK = mkdtempSync('/tmp/v2-lane-');
const MiB = 1024 * 1024;

/** Runs `tsrun --root STATE ...args`; stdio 'pipe' unless given (a file fd for detached containers). */
function tsrun(args, { stdio, timeout = 120_000 } = {}) {
  const t0 = Date.now();
  const r = spawnSync(TSRUN, ['--root', STATE, ...args], { encoding: 'utf8', stdio: stdio ?? ['ignore', 'pipe', 'pipe'], timeout });
  const res = { code: r.status ?? 128 + 9, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
  if (process.env.V2_LANE_TRACE) console.error(`# tsrun ${args.join(' ')} -> ${res.code} (${res.ms} ms)\n${res.stdout}${res.stderr}`.trimEnd());
  return res;
}
const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

let baseSpec;
let n = 0;
/** A busybox bundle in tmpfs: the host's static busybox, `tsrun spec`'s config with args and a mutation. */
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

const ids = [];
const newId = (tag) => {
  const id = `v2-${tag}-${process.pid}`;
  ids.push(id);
  return id;
};

async function waitFor(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** create + start a container whose output goes to a file; resolves once it printed "ready". */
async function startDetached(id, b) {
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
  const pid = Number(readFileSync(pidFile, 'utf8'));
  r = tsrun(['start', id]);
  assert.equal(r.code, 0, `tsrun start failed\n${show(r)}`);
  await waitFor(`${id} to print "ready"`, () => readFileSync(outFile, 'utf8').includes('ready'));
  return { pid, output: () => readFileSync(outFile, 'utf8') };
}

const cgRead = (dir, f) => readFileSync(join(dir, f), 'utf8').trim();
const status = (id) => {
  const r = tsrun(['state', id]);
  assert.equal(r.code, 0, `tsrun state failed\n${show(r)}`);
  return JSON.parse(r.stdout).status;
};

/** key=value lines (values may contain spaces) into an object. */
const kv = (text) => Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

before(() => {
  const r = tsrun(['spec', '--bundle', WORK]);
  assert.equal(r.code, 0, `tsrun spec failed (is tsrun built? npm run build on the host)\n${show(r)}`);
  baseSpec = JSON.parse(readFileSync(join(WORK, 'config.json'), 'utf8'));
});

after(() => {
  for (const id of ids) if (existsSync(join(STATE, id))) tsrun(['delete', '--force', id]);
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
    // Needs no resource support: create, start, look, delete.
    const id = newId('basic');
    const b = bundle(['sh', '-c', 'echo "cgroup=$(cat /proc/self/cgroup)"; echo "files=$(ls /sys/fs/cgroup | grep -c .)"; echo ready; exec sleep 1000']);
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
    const cgdir = join(CG, 'tsrun', id);
    assert.ok(existsSync(cgdir), `${cgdir} does not exist after create`);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `0::/tsrun/${id}\n`, 'the init is not in the container cgroup');
    r = tsrun(['start', id]);
    assert.equal(r.code, 0, `tsrun start failed\n${show(r)}`);
    await waitFor('the container to print "ready"', () => readFileSync(outFile, 'utf8').includes('ready'));
    const seen = kv(readFileSync(outFile, 'utf8'));
    assert.equal(seen.cgroup, '0::/', `/proc/self/cgroup inside the container:\n${readFileSync(outFile, 'utf8')}`);
    assert.ok(Number(seen.files) > 0, 'the container sees an empty /sys/fs/cgroup');
    assert.deepEqual(readFileSync(join(cgdir, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number), [pid]);
    r = tsrun(['delete', '--force', id]);
    assert.equal(r.code, 0, `tsrun delete --force failed\n${show(r)}`);
    assert.equal(existsSync(cgdir), false, `${cgdir} is still there after delete`);
    assert.equal(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), false, 'the init survived delete');
  });

  it('applies linux.resources as cgroup v2 files, visible from inside the container', () => {
    const id = newId('limits');
    const files = ['memory.max', 'pids.max', 'cpu.max', 'cpu.weight'];
    const b = bundle(['sh', '-c', `for f in ${files.join(' ')}; do echo "$f=$(cat /sys/fs/cgroup/$f)"; done; echo "cgroup=$(cat /proc/self/cgroup)"`], (s) => {
      s.linux.resources = {
        ...s.linux.resources,
        memory: { limit: 64 * MiB },
        pids: { limit: 20 },
        cpu: { shares: 512, quota: 50000, period: 100000 },
      };
    });
    const r = tsrun(['run', '--bundle', b, id]);
    assert.equal(r.code, 0, `tsrun run failed\n${show(r)}`);
    // shares 512 -> weight 1 + ((512 - 2) * 9999) / 262142 = 20 (runc's conversion)
    assert.deepEqual(kv(r.stdout), { 'memory.max': String(64 * MiB), 'pids.max': '20', 'cpu.max': '50000 100000', 'cpu.weight': '20', cgroup: '0::/' }, show(r));
  });

  it('stops a fork bomb at pids.max', () => {
    const id = newId('forkbomb');
    // The shell, its subshell and 18 sleeps make the 20 pids allowed; the 19th
    // sleep's fork fails (EAGAIN) and ash gives up. Builtins only from there on.
    const b = bundle(['sh', '-c', '(n=0; while [ $n -lt 100 ]; do sleep 1000 & n=$((n+1)); echo "fork $n"; done); echo "rc=$?"'], (s) => {
      s.linux.resources = { ...s.linux.resources, pids: { limit: 20 } };
    });
    const r = tsrun(['run', '--bundle', b, id]);
    const forks = r.stdout.split('\n').filter((l) => l.startsWith('fork ')).length;
    assert.equal(forks, 18, `the shell forked ${forks} sleeps under pids.max=20 (expected 18)\n${show(r)}`);
    assert.match(r.stdout, /^rc=[1-9]/m, `the fork bomb did not fail\n${show(r)}`);
    assert.match(r.stderr + r.stdout, /can't fork/, show(r));
  });

  it('OOM-kills a memory hog beyond memory.max (exit 137)', () => {
    const id = newId('oom');
    // dd's 96 MiB buffer, filled from /dev/zero, is over the 64 MiB limit;
    // dd is the container's init, so its SIGKILL is the container's status.
    const b = bundle(['sh', '-c', 'echo start; exec dd if=/dev/zero of=/dev/null bs=96M count=1'], (s) => {
      s.linux.resources = { ...s.linux.resources, memory: { limit: 64 * MiB } };
    });
    const r = tsrun(['run', '--bundle', b, id]);
    assert.equal(r.code, 137, `expected the OOM killer's SIGKILL (137)\n${show(r)}`);
    assert.equal(r.stdout, 'start\n', show(r));
  });
  it('pauses, resumes, updates and reports stats of a running container through the v2 files', async () => {
    const id = newId('manage');
    const b = bundle(['sh', '-c', 'echo ready; exec sleep 1000'], (s) => {
      s.linux.resources = { ...s.linux.resources, memory: { limit: 64 * MiB }, pids: { limit: 20 } };
    });
    const { pid } = await startDetached(id, b);
    const cgdir = join(CG, 'tsrun', id);
    let r = tsrun(['pause', id]);
    assert.equal(r.code, 0, `tsrun pause failed\n${show(r)}`);
    assert.equal(cgRead(cgdir, 'cgroup.freeze'), '1', 'cgroup.freeze after pause');
    assert.match(cgRead(cgdir, 'cgroup.events'), /^frozen 1$/m, 'cgroup.events after pause');
    assert.equal(status(id), 'paused');
    r = tsrun(['resume', id]);
    assert.equal(r.code, 0, `tsrun resume failed\n${show(r)}`);
    assert.equal(cgRead(cgdir, 'cgroup.freeze'), '0', 'cgroup.freeze after resume');
    assert.equal(status(id), 'running');

    r = tsrun(['update', '--memory', '128m', '--pids-limit', '30', '--cpu-quota', '20000', '--cpu-period', '100000', id]);
    assert.equal(r.code, 0, `tsrun update failed\n${show(r)}`);
    assert.deepEqual(
      { memory: cgRead(cgdir, 'memory.max'), pids: cgRead(cgdir, 'pids.max'), cpu: cgRead(cgdir, 'cpu.max') },
      { memory: String(128 * MiB), pids: '30', cpu: '20000 100000' },
      'the cgroup files after tsrun update',
    );

    r = tsrun(['events', '--stats', id]);
    assert.equal(r.code, 0, `tsrun events --stats failed\n${show(r)}`);
    const ev = JSON.parse(r.stdout);
    assert.equal(ev.type, 'stats', r.stdout);
    assert.equal(ev.data.pids.current, 1, `pids.current in ${r.stdout}`);
    assert.equal(ev.data.pids.limit, 30, `pids.limit in ${r.stdout}`);
    assert.ok(ev.data.memory.usage.usage > 0, `memory usage in ${r.stdout}`);
    assert.equal(ev.data.memory.usage.limit, 128 * MiB, `memory limit in ${r.stdout}`);

    r = tsrun(['ps', '--format', 'json', id]);
    assert.equal(r.code, 0, `tsrun ps failed\n${show(r)}`);
    assert.deepEqual(JSON.parse(r.stdout), [pid]);

    r = tsrun(['delete', '--force', id]);
    assert.equal(r.code, 0, `tsrun delete --force failed\n${show(r)}`);
    assert.equal(existsSync(cgdir), false, `${cgdir} is still there after delete`);
  });

  it('honours an absolute linux.cgroupsPath and linux.resources.unified', () => {
    const id = newId('unified');
    const path = `/v2-lane/nested/${id}`;
    const b = bundle(['sh', '-c', 'echo "memory.high=$(cat /sys/fs/cgroup/memory.high)"; echo "cgroup=$(cat /proc/self/cgroup)"; echo "me=$(cat /proc/1/cgroup)"'], (s) => {
      s.linux.cgroupsPath = path;
      s.linux.resources = { ...s.linux.resources, unified: { 'memory.high': String(48 * MiB) } };
    });
    const r = tsrun(['run', '--bundle', b, id]);
    assert.equal(r.code, 0, `tsrun run failed\n${show(r)}`);
    assert.deepEqual(kv(r.stdout), { 'memory.high': String(48 * MiB), cgroup: '0::/', me: '0::/' }, show(r));
    assert.equal(existsSync(join(CG, path)), false, `${join(CG, path)} is still there after run`);
  });

  it('enforces linux.resources.devices (on v2: an eBPF device program)', () => {
    const id = newId('devices');
    // With CAP_MKNOD (docker's and podman's default set has it) a container can
    // make any device node; the device cgroup must still refuse to open one the
    // spec does not allow. /dev/null (1:3) is in the default allow list,
    // /dev/kmsg (1:11) is not; writing to kmsg needs no other capability.
    const b = bundle(
      ['sh', '-c', 'mknod /dev/null2 c 1 3 && echo x >/dev/null2; echo "null=$?"; mknod /dev/kmsg2 c 1 11 && echo "tsrun v2-lane: device cgroup not enforced" >/dev/kmsg2; echo "kmsg=$?"'],
      (s) => {
        for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set] = [...new Set([...s.process.capabilities[set], 'CAP_MKNOD'])];
        s.linux.resources = { ...s.linux.resources, devices: [{ allow: false, access: 'rwm' }] };
      },
    );
    const r = tsrun(['run', '--bundle', b, id]);
    assert.equal(r.code, 0, `tsrun run failed\n${show(r)}`);
    assert.equal(kv(r.stdout).null, '0', `an allowed device (c 1:3) could not be made and opened\n${show(r)}`);
    assert.deepEqual({ kmsg: kv(r.stdout).kmsg, error: /Operation not permitted/.test(r.stderr) }, { kmsg: '1', error: true }, `the container opened c 1:11 although linux.resources.devices denies it\n${show(r)}`);
  });

  it('leaves no cgroup behind under /sys/fs/cgroup/tsrun', () => {
    const dir = join(CG, 'tsrun');
    const left = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
    assert.deepEqual(left, []);
  });
});
