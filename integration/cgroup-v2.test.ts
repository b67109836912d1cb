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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers';
import { failureReport, laneSkipReason, runLane } from './lane';

const GUEST = 'scripts/v2-lane/guest-check.mjs';
// TCG is slow; a full lane takes about a minute on a 2-core machine.
const LANE_TIMEOUT_S = 270;
const skip = laneSkipReason();

describe('tsrun on a pure cgroup v2 kernel (QEMU lane)', () => {
  it.skipIf(!!skip)(
    `boots a cgroup-v2-only guest and passes scripts/v2-lane/guest-check.mjs there${skip ? ` [skipped: ${skip}]` : ''}`,
    async () => {
      expect(existsSync(join(REPO, 'dist/tsrun.js')) && existsSync(join(REPO, 'native/build/tsrun-init')), 'build tsrun first (npm run build)').toBe(true);
      const { code, out, ms } = await runLane(GUEST, LANE_TIMEOUT_S);
      // 125: the lane itself failed (boot, timeout); anything else is the checks' verdict.
      expect(code, `the v2 lane failed to boot, run or finish in time (exit ${code}):\n${out}`).not.toBe(125);
      expect(out, `no test results from the guest:\n${out}`).toMatch(/^ℹ tests \d+$/m);
      expect(code, `cgroup v2 checks failed in the guest (exit ${code}, ${Math.round(ms / 1000)} s):\n${failureReport(out)}`).toBe(0);
      expect(out).toMatch(/^ℹ fail 0$/m);
    },
    (LANE_TIMEOUT_S + 30) * 1000,
  );
});
