// The systemd cgroup driver (--systemd-cgroup) against a real systemd. These
// hosts have no systemd as PID 1 (and hybrid cgroups), so the cgroup v2 lane
// boots its QEMU guest with the host's own systemd as init
// (V2_LANE_INIT=systemd, see scripts/v2-lane/guest-init.sh) and runs
// scripts/v2-lane/guest-systemd.mjs there: a container in a transient scope,
// its unit properties, update, pause/resume, exec, ps, stats, delete, bad
// paths and a failed create. The same checks run with Debian's runc as the
// control. On the host itself the flag must fail with one line.
//
// Skipped only when the lane's Debian packages (or systemd) are missing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers';

const RUN = join(REPO, 'scripts/v2-lane/run.sh');
const GUEST = 'scripts/v2-lane/guest-systemd.mjs';
const TSRUN = join(REPO, 'bin/tsrun');
// A systemd boot under TCG is ~20 s, the checks for both runtimes ~80 s.
const LANE_TIMEOUT_S = 300;

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
  if (!existsSync('/lib/systemd/systemd') || !existsSync('/usr/bin/dbus-daemon')) return 'systemd or dbus not installed';
  return undefined;
}
const skip = whyNot();

function runLane(): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(RUN, ['node', '--test-reporter=spec', GUEST], {
      cwd: REPO,
      env: { ...process.env, V2_LANE_INIT: 'systemd', V2_LANE_TIMEOUT: String(LANE_TIMEOUT_S), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, ms: Date.now() - t0 }));
  });
}

/** node:test's failure summary without the stacks (vitest would take them for this file's). */
function failureReport(out: string): string {
  const i = out.indexOf('✖ failing tests:');
  return (i >= 0 ? out.slice(i) : out)
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    .join('\n');
}

describe('the systemd cgroup driver', () => {
  it('on a host without systemd as init, --systemd-cgroup fails with one line and leaves nothing', () => {
    if (existsSync('/run/systemd/system')) return; // a systemd host: the lane below covers it
    const tmp = mkdtempSync(join(tmpdir(), 'tsrun-sd-'));
    try {
      const b = join(tmp, 'b');
      expect(spawnSync(TSRUN, ['demo', '--keep-bundle', b], { stdio: 'ignore' }).status).toBe(0);
      const r = spawnSync(TSRUN, ['--root', join(tmp, 'root'), '--systemd-cgroup', 'run', '-b', b, 'sd1'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/needs systemd running as init \(no \/run\/systemd\/system/)]);
      expect(existsSync(join(tmp, 'root', 'sd1'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.skipIf(!!skip)(
    `boots a guest with systemd as PID 1 and passes scripts/v2-lane/guest-systemd.mjs there, with tsrun and runc${skip ? ` [skipped: ${skip}]` : ''}`,
    async () => {
      expect(existsSync(join(REPO, 'dist/tsrun.js')) && existsSync(join(REPO, 'native/build/tsrun-init')), 'build tsrun first (npm run build)').toBe(true);
      const { code, out, ms } = await runLane();
      expect(code, `the lane failed to boot, run or finish in time (exit ${code}):\n${out}`).not.toBe(125);
      expect(out, `no test results from the guest:\n${out}`).toMatch(/^ℹ tests \d+$/m);
      expect(out, 'the tsrun suite did not run').toMatch(/^✔ tsrun --systemd-cgroup/m);
      expect(code, `systemd driver checks failed in the guest (exit ${code}, ${Math.round(ms / 1000)} s):\n${failureReport(out)}`).toBe(0);
      expect(out).toMatch(/^ℹ fail 0$/m);
    },
    (LANE_TIMEOUT_S + 30) * 1000,
  );
});
