#!/usr/bin/env node
// Benchmark (not a test): tsrun against runc on the same machine, in one run.
//   node bench/run.mjs [--runs N] [--existing N]
// Prints medians and ratios: `tsrun run` vs `runc run` of a busybox `true`
// bundle with `node -e 0` as the floor, peak RSS of tsrun and of the native
// init before it execs, and create/state cost with 1 and N existing containers.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsrun = join(repo, 'bin/tsrun');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt('--runs', 30);
const EXISTING = opt('--existing', 200);

if (!existsSync(join(repo, 'dist/tsrun.js'))) throw new Error('build first: npm run build');
const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find(existsSync);

// The bundle maker is TypeScript: load it through the bundled CLI's sibling build.
const work = mkdtempSync(join(tmpdir(), 'tsrun-bench-'));
const bundle = join(work, 'bundle');
execFileSync(tsrun, ['demo', '--keep-bundle', bundle], { stdio: 'ignore' });
// Replace the demo script with `true`.
const cfgPath = join(bundle, 'config.json');
const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
cfg.process.args = ['true'];
(await import('node:fs')).writeFileSync(cfgPath, JSON.stringify(cfg));
const root = join(work, 'state');

function time(cmd, argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: 'ignore', ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}`);
  return ms;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// The floor is Node's start-up in the environment tsrun starts Node in. The
// tsrun command drops NODE_EXTRA_CA_CERTS (it makes no TLS connections, and
// Node reads that file at every start: ~80 ms on hosts that set it), so the
// floor is measured without it too: tsrun's own time is what tsrun adds to
// Node, not what the caller's environment costs.
const floorEnv = { ...process.env };
delete floorEnv.NODE_EXTRA_CA_CERTS;
const extraCa = process.env.NODE_EXTRA_CA_CERTS;

// Interleave them so machine noise hits them alike.
const samples = { node: [], nodeCa: [], tsrun: [], runc: [] };
for (let i = 0; i < RUNS + 3; i++) {
  const warm = i < 3;
  const n = time('node', ['-e', '0'], { env: floorEnv });
  const nCa = extraCa ? time('node', ['-e', '0']) : NaN;
  const t = time(tsrun, ['--root', root, 'run', '--bundle', bundle, `b${i}`]);
  const r = runc ? time(runc, ['--root', join(work, 'runc'), 'run', '--bundle', bundle, `r${i}`]) : NaN;
  if (!warm) {
    samples.node.push(n);
    samples.nodeCa.push(nCa);
    samples.tsrun.push(t);
    samples.runc.push(r);
  }
}
const mNode = median(samples.node);
const mTs = median(samples.tsrun);
const mRunc = median(samples.runc);
const own = mTs - mNode;
const f = (x) => x.toFixed(1).padStart(7);
const launch = join(repo, 'dist/tsrun.launch');
const startup = existsSync(launch) && !process.env.NODE_OPTIONS ? 'startup snapshot' : 'bundle (no snapshot)';
console.log(`runs: ${RUNS} each, interleaved; tsrun starts from its ${startup}`);
console.log(`node -e 0            median ${f(mNode)} ms   (the floor: Node start-up, without NODE_EXTRA_CA_CERTS)`);
if (extraCa) console.log(`node -e 0 + CA file   median ${f(median(samples.nodeCa))} ms   (with this shell's NODE_EXTRA_CA_CERTS, which tsrun drops)`);
console.log(`tsrun run true       median ${f(mTs)} ms`);
console.log(`runc run true        median ${f(mRunc)} ms`);
console.log(`tsrun own time       ${f(own)} ms   = tsrun - node floor`);
console.log(`ratio tsrun/runc     ${(mTs / mRunc).toFixed(2)}x   whole command`);
console.log(`ratio own/runc       ${(own / mRunc).toFixed(2)}x   (target <= 1.00)`);

// Peak RSS: GNU time's %M when available.
const gnuTime = ['/usr/bin/time'].find(existsSync);
if (gnuTime) {
  const rss = (cmd, argv) => {
    const r = spawnSync(gnuTime, ['-f', '%M', cmd, ...argv], { encoding: 'utf8' });
    return Number(r.stderr.trim().split('\n').pop());
  };
  console.log(`peak RSS tsrun run   ${(rss(tsrun, ['--root', root, 'run', '--bundle', bundle, 'rss']) / 1024).toFixed(1)} MB (target <= 80)`);
  if (runc) console.log(`peak RSS runc run    ${(rss(runc, ['--root', join(work, 'runc'), 'run', '--bundle', bundle, 'rss']) / 1024).toFixed(1)} MB`);
}
// The native init's RSS while it waits for start (it has done all its setup).
// A created container keeps its stdio: give it none, or we would wait on it.
execFileSync(tsrun, ['--root', root, 'create', '--bundle', bundle, 'rss-init'], { stdio: 'ignore' });
const st = JSON.parse(execFileSync(tsrun, ['--root', root, 'state', 'rss-init'], { encoding: 'utf8' }));
const status = readFileSync(`/proc/${st.pid}/status`, 'utf8');
const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
console.log(`native init peak RSS ${(hwm / 1024).toFixed(2)} MB before execve (target <= 2)`);
execFileSync(tsrun, ['--root', root, 'delete', '--force', 'rss-init']);

// create/state with 1 and with EXISTING containers present.
function createStateCost(label) {
  const c = [];
  const s = [];
  for (let i = 0; i < 10; i++) {
    c.push(time(tsrun, ['--root', root, 'create', '--bundle', bundle, `probe${i}`]));
    s.push(time(tsrun, ['--root', root, 'state', `probe${i}`]));
    time(tsrun, ['--root', root, 'delete', '--force', `probe${i}`]);
  }
  console.log(`${label.padEnd(28)} create ${f(median(c))} ms   state ${f(median(s))} ms`);
}
time(tsrun, ['--root', root, 'create', '--bundle', bundle, 'existing0']);
createStateCost('with 1 existing container');
for (let i = 1; i < EXISTING; i++) time(tsrun, ['--root', root, 'create', '--bundle', bundle, `existing${i}`]);
createStateCost(`with ${EXISTING} existing containers`);
for (let i = 0; i < EXISTING; i++) spawnSync(tsrun, ['--root', root, 'delete', '--force', `existing${i}`]);
rmSync(work, { recursive: true, force: true });
