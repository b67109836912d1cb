#!/usr/bin/env node
// Benchmark (not a test): containerd with tsrun's shim against containerd
// with its own runc shim, on the same machine, in one run.
//   node bench/shim.mjs [--containers N] [--rounds R]   (default: R = N, i.e. alternate every container)
// Starts a private containerd (config, root, state and sockets under a temp
// directory, CRI disabled, bin/ on its PATH), imports a busybox image made
// from the host's static busybox, then runs N containers per runtime one
// after another with `ctr run --rm IMAGE ID true`, interleaved in R rounds so
// machine noise hits both alike. Prints containers/second for each and the
// ratio; one warm-up container each is not counted (the first tsrun
// container starts the shim; the others find it running).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerdConfig } from '../scripts/containerd-config.mjs';
import { ociArchive } from '../scripts/oci-archive.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = opt('--containers', 50);
const ROUNDS = Math.max(1, Math.min(N, opt('--rounds', N)));

if (!existsSync(join(repo, 'dist/containerd-shim-tsrun-v2.js'))) throw new Error('build first: npm run build');
for (const bin of ['containerd', 'ctr']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed (apt-get install -y containerd)`);
}

const work = mkdtempSync(join(tmpdir(), 'tsrun-shim-bench-'));
const sock = join(work, 'containerd.sock');
const ns = `tsrun-bench-${process.pid}`;
const image = 'docker.io/library/tsrun-bench:latest';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a private containerd ----
writeFileSync(join(work, 'config.toml'), containerdConfig(work, sock, 'info'));
// The tsrun shim keeps its state and socket under our directory too.
const env = { ...process.env, PATH: `${join(repo, 'bin')}:${dirname(process.execPath)}:${process.env.PATH}`, TSRUN_SHIM_STATE: join(work, 'shim') };
const logFd = openSync(join(work, 'containerd.log'), 'a');
const daemon = spawn('containerd', ['--config', join(work, 'config.toml')], { stdio: ['ignore', logFd, logFd], env });
closeSync(logFd);
let daemonExited = false;
daemon.on('exit', () => (daemonExited = true));

const ctr = (argv, opts = {}) => spawnSync('ctr', ['-a', sock, '-n', ns, ...argv], { env, encoding: 'utf8', timeout: 60_000, ...opts });

function cleanup() {
  for (const t of (ctr(['task', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean)) {
    ctr(['task', 'kill', '-s', 'SIGKILL', t]);
    ctr(['task', 'delete', '--force', t]);
  }
  for (const c of (ctr(['containers', 'ls', '-q']).stdout ?? '').split('\n').filter(Boolean)) ctr(['containers', 'rm', c]);
  ctr(['images', 'rm', '--sync', image]);
  daemon.kill('SIGTERM');
  // Our warm shim (its command line names our containerd socket).
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('containerd-shim') && cmd.includes(sock)) process.kill(Number(pid), 'SIGTERM');
    } catch {
      // gone
    }
  }
}

try {
  for (let i = 0; ; i++) {
    if (daemonExited) throw new Error(`containerd exited; see ${join(work, 'containerd.log')}`);
    if (existsSync(sock) && ctr(['version']).status === 0) break;
    if (i > 150) throw new Error('containerd did not come up');
    await sleep(100);
  }
  const plugins = ctr(['plugins', 'ls']).stdout;
  const snapshotter = /io\.containerd\.snapshotter\.v1\s+overlayfs\s+\S+\s+ok/.test(plugins) ? 'overlayfs' : 'native';
  const bundle = join(work, 'bundle');
  execFileSync(join(repo, 'bin/tsrun'), ['--root', join(work, 'demo-state'), 'demo', '--keep-bundle', bundle], { stdio: 'ignore' });
  const imp = ctr(['images', 'import', '--snapshotter', snapshotter, ociArchive(join(bundle, 'rootfs'), join(work, 'image.tar'), image)]);
  if (imp.status !== 0) throw new Error(`ctr images import failed: ${imp.stderr}`);

  const runtimes = {
    tsrun: ['--runtime', 'io.containerd.tsrun.v2'],
    runc: ['--runtime', 'io.containerd.runc.v2'],
  };
  const fifoDir = join(work, 'fifo');
  mkdirSync(fifoDir, { recursive: true });
  let seq = 0;
  const runOne = (name) => {
    const id = `${name}-${seq++}`;
    const t0 = process.hrtime.bigint();
    const r = ctr(['run', '--rm', ...runtimes[name], '--snapshotter', snapshotter, '--fifo-dir', fifoDir, image, id, 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`ctr run (${name}) exited ${r.status}: ${r.stderr}`);
    return ms;
  };
  // Warm-up: starts the tsrun shim, fills caches.
  runOne('tsrun');
  runOne('runc');

  const per = Math.ceil(N / ROUNDS);
  const total = { tsrun: 0, runc: 0 };
  const samples = { tsrun: [], runc: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? ['runc', 'tsrun'] : ['tsrun', 'runc'];
    for (const name of order) {
      const n = Math.min(per, N - samples[name].length);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) samples[name].push(runOne(name));
      total[name] += Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const rate = (name) => (samples[name].length * 1000) / total[name];
  console.log(`containerd ${execFileSync('containerd', ['--version'], { encoding: 'utf8' }).trim().split(' ')[2]}, ${N} sequential \`ctr run --rm\` of busybox \`true\` per runtime, ${ROUNDS} interleaved rounds, ${snapshotter} snapshotter`);
  for (const name of ['tsrun', 'runc']) {
    const label = name === 'tsrun' ? 'io.containerd.tsrun.v2 (tsrun shim)' : 'io.containerd.runc.v2 (runc)';
    console.log(`${label.padEnd(38)} ${rate(name).toFixed(2).padStart(6)} containers/s  (median ${median(samples[name]).toFixed(1)} ms, total ${(total[name] / 1000).toFixed(2)} s)`);
  }
  console.log(`ratio tsrun/runc: ${(rate('tsrun') / rate('runc')).toFixed(2)}x (target >= 1.5x)`);
} finally {
  cleanup();
  await sleep(500);
  // The namespace's parent cgroups (/<namespace>), left by both runtimes.
  for (const h of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', h, ns));
    } catch {
      // not there (or not a hierarchy)
    }
  }
  // Rootfs mounts a failed run may have left.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === work || m.startsWith(`${work}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
