// The systemd cgroup driver (--systemd-cgroup) against a real systemd. These
// hosts have no systemd as PID 1 (and hybrid cgroups), so the cgroup v2 lane
// boots its QEMU guest with the host's own systemd as init
// (V2_LANE_INIT=systemd, see scripts/v2-lane/guest-init.sh) and runs
// scripts/v2-lane/guest-systemd.mjs there: a container in a transient scope,
// its unit properties, update, pause/resume, exec, ps, stats, delete, bad
// paths and a failed create; then podman --cgroup-manager systemd and
// containerd's runc shim with SystemdCgroup (ctr run --runc-systemd-cgroup)
// driving it. The same checks run with Debian's runc as the control. On the
// host itself the flag must fail with one line.
//
// Skipped only when the lane's Debian packages (or systemd) are missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, TSRUN } from './helpers';
import { failureReport, laneSkipReason, runLane } from './lane';

const GUEST = 'scripts/v2-lane/guest-systemd.mjs';
// A systemd boot under TCG is ~20-35 s; the checks for tsrun, runc, podman and containerd ~2-3 min.
const LANE_TIMEOUT_S = 400;

function whyNot(): string | undefined {
  if (!existsSync('/lib/systemd/systemd') || !existsSync('/usr/bin/dbus-daemon')) return 'systemd or dbus not installed (scripts/setup.sh installs them)';
  return laneSkipReason();
}
const skip = whyNot();

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
    `boots a guest with systemd as PID 1 and passes scripts/v2-lane/guest-systemd.mjs there, with tsrun and runc, directly and through podman and containerd${skip ? ` [skipped: ${skip}]` : ''}`,
    async () => {
      expect(existsSync(join(REPO, 'dist/tsrun.js')) && existsSync(join(REPO, 'native/build/tsrun-init')), 'build tsrun first (npm run build)').toBe(true);
      const { code, out, ms } = await runLane(GUEST, LANE_TIMEOUT_S, { V2_LANE_INIT: 'systemd' });
      expect(code, `the lane failed to boot, run or finish in time (exit ${code}):\n${out}`).not.toBe(125);
      expect(out, `no test results from the guest:\n${out}`).toMatch(/^ℹ tests \d+$/m);
      expect(out, 'the tsrun suite did not run').toMatch(/^✔ tsrun --systemd-cgroup/m);
      expect(code, `systemd driver checks failed in the guest (exit ${code}, ${Math.round(ms / 1000)} s):\n${failureReport(out)}`).toBe(0);
      expect(out).toMatch(/^ℹ fail 0$/m);
      // The guest shares the host's root: containerd is there if it is here.
      if (['/usr/bin/containerd', '/usr/bin/ctr', '/usr/bin/containerd-shim-runc-v2'].every((f) => existsSync(f))) {
        expect(out, 'the containerd suite did not run').toMatch(/^✔ containerd, runc shim with SystemdCgroup/m);
      }
    },
    (LANE_TIMEOUT_S + 30) * 1000,
  );
});
