// The cgroup v2 lane: tsrun on a pure cgroup v2 kernel. The hosts this project
// runs on have hybrid cgroups, so scripts/v2-lane/run.sh boots Debian's kernel
// in QEMU (TCG) with cgroup_no_v1=all on this machine's own root filesystem
// (read-only over virtio-9p) and runs scripts/v2-lane/guest-check.mjs there:
// real containers through bin/tsrun with limits read back from inside,
// a fork bomb, an OOM kill, pause/resume/update/stats, devices, cleanup.
// The guest uses the tsrun built on the host (npm test builds it first).
//
// Skipped only when the lane's Debian packages are missing
// (scripts/setup.sh installs qemu-system-x86, linux-image-amd64, cpio).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers';

const RUN = join(REPO, 'scripts/v2-lane/run.sh');
const GUEST = 'scripts/v2-lane/guest-check.mjs';
// TCG is slow; a full lane takes about a minute on a 2-core machine.
const LANE_TIMEOUT_S = 270;

function whyNot(): string | undefined {
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
const skip = whyNot();

function runLane(): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(RUN, ['node', '--test-reporter=spec', GUEST], {
      cwd: REPO,
      env: { ...process.env, V2_LANE_TIMEOUT: String(LANE_TIMEOUT_S), NO_COLOR: '1' },
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
function failureReport(out: string): string {
  const i = out.indexOf('✖ failing tests:');
  // Without the assertion stacks, which vitest would take for this file's own.
  return (i >= 0 ? out.slice(i) : out)
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    .join('\n');
}

describe('tsrun on a pure cgroup v2 kernel (QEMU lane)', () => {
  it.skipIf(!!skip)(
    `boots a cgroup-v2-only guest and passes scripts/v2-lane/guest-check.mjs there${skip ? ` [skipped: ${skip}]` : ''}`,
    async () => {
      expect(existsSync(join(REPO, 'dist/tsrun.js')) && existsSync(join(REPO, 'native/build/tsrun-init')), 'build tsrun first (npm run build)').toBe(true);
      const { code, out, ms } = await runLane();
      // 125: the lane itself failed (boot, timeout); anything else is the checks' verdict.
      expect(code, `the v2 lane failed to boot, run or finish in time (exit ${code}):\n${out}`).not.toBe(125);
      expect(out, `no test results from the guest:\n${out}`).toMatch(/^ℹ tests \d+$/m);
      expect(code, `cgroup v2 checks failed in the guest (exit ${code}, ${Math.round(ms / 1000)} s):\n${failureReport(out)}`).toBe(0);
      expect(out).toMatch(/^ℹ fail 0$/m);
    },
    (LANE_TIMEOUT_S + 30) * 1000,
  );
});
