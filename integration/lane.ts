// Running a script in the cgroup v2 lane's QEMU guest (scripts/v2-lane/run.sh)
// from a test: why the lane cannot run here, the run itself, and the part of
// node:test's output that explains failures.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers';

const RUN = join(REPO, 'scripts/v2-lane/run.sh');

/** Why the lane cannot run on this machine (undefined: it can). */
export function laneSkipReason(): string | undefined {
  if (process.env.TSRUN_V2_LANE) return 'already inside the v2 lane guest';
  if (process.getuid?.() !== 0) return 'needs root';
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  if (!path.some((d) => existsSync(join(d, 'qemu-system-x86_64')))) return 'qemu-system-x86_64 not installed (apt-get install qemu-system-x86)';
  let kernels: string[] = [];
  try {
    kernels = readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-') && existsSync(`/lib/modules/${f.slice(8)}/modules.dep`));
  } catch {
    // no /boot
  }
  if (kernels.length === 0) return 'no kernel image with modules (apt-get install linux-image-amd64)';
  if (!existsSync('/bin/busybox') && !existsSync('/usr/bin/busybox')) return 'busybox-static not installed';
  return undefined;
}

/** `run.sh node --test-reporter=spec SCRIPT` with the lane's own variables. */
export function runLane(script: string, timeoutS: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(RUN, ['node', '--test-reporter=spec', script], {
      cwd: REPO,
      env: { ...process.env, ...env, V2_LANE_TIMEOUT: String(timeoutS), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, ms: Date.now() - t0 }));
  });
}

/** The part of node:test's spec output that explains failures (it ends with the lane's summary), or all of it. */
export function failureReport(out: string): string {
  const i = out.indexOf('✖ failing tests:');
  // Without the assertion stacks, which vitest would take for the calling file's own.
  return (i >= 0 ? out.slice(i) : out)
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    .join('\n');
}
