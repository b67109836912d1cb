// Work done while `npm run build` makes the startup snapshot: V8 compiles a
// function on its first call, and what was compiled here is in the snapshot,
// so a container operation does not pay for compiling it again. Only pure
// work and files in a temporary directory: nothing about this host may be
// kept (the snapshot runs on later boots, maybe of another kernel), and
// nothing may load koffi or node:child_process, which a snapshot cannot hold.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseCgroupMounts } from '../src/cgroups/hierarchy';
import { CgroupManager } from '../src/cgroups/manager';
import { applyResources } from '../src/cgroups/resources';
import { defaultSpec } from '../src/oci/defaults';
import { parseConfig } from '../src/oci/validate';
import { buildExecPlan, buildInitPlan } from '../src/runtime/build-plan';
import { claimDir, OCI_VERSION, readState, removeDir, writeState } from '../src/runtime/state';
import { procStat } from '../src/sys/proc';
import { compileSeccomp } from '../src/seccomp/compile';
import { defaultProfile } from '../src/seccomp/default-profile';
import { main } from './tsrun';

const LAYOUT = [
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

export async function warmUp(): Promise<void> {
  // node:child_process cannot be in a snapshot yet, but most of what it
  // loads can: net and stream (the control socket to the native init).
  require('node:net');
  require('node:stream');
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-warm-up-'));
  try {
    for (let i = 0; i < 3; i++) {
      const spec = parseConfig(JSON.stringify(defaultSpec()), 'config.json');
      spec.process!.terminal = false;
      const seccomp = compileSeccomp(defaultProfile());
      const cgroups = parseCgroupMounts(LAYOUT);
      const cg = new CgroupManager(cgroups, '/tsrun/warm-up');
      const input = {
        spec,
        bundle: dir,
        rootfs: join(dir, 'rootfs'),
        fifo: join(dir, 'state', 'exec.fifo'),
        preserveFds: 0,
        noPivot: false,
        noNewKeyring: false,
        relay: true,
        id: 'warm-up',
        cgroups,
        cgroupPath: cg.path,
        cgroupTargets: cg.targets(),
        warn: () => {},
        seccomp: { program: seccomp.program, flags: seccomp.flags },
      };
      buildInitPlan(input).plan.encode();
      buildExecPlan({ process: spec.process!, initPid: process.pid, initStartTime: 0, spec, preserveFds: 0, relay: true, warn: () => {} }).encode();

      const root = join(dir, 'root');
      const stateDir = claimDir(root, 'warm-up');
      const state = { ociVersion: OCI_VERSION, id: 'warm-up', pid: 0, pidStartTime: 0, bundle: dir, rootfs: input.rootfs, created: new Date().toISOString(), phase: 'creating' as const, cgroupPath: cg.path, owner: 0, config: spec };
      writeState(stateDir, state);
      readState(root, 'warm-up');
      procStat(process.pid);
      removeDir(stateDir);
      warmCgroupSetUp(join(dir, 'cgroup', String(i)));
      // The command line: each command parses its flags and fails early
      // (no rootfs, no such container), which compiles its handler and the
      // Runtime method behind it. Errors are expected: muted.
      rmSync(join(dir, 'config.json'), { force: true });
      await main(['spec', '--bundle', dir]);
      // No terminal: a pty needs koffi.
      writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
      await quietly(async () => {
        for (const cmd of [['run', '--bundle', dir], ['create', '--bundle', dir], ['start'], ['state'], ['kill'], ['delete']]) {
          const [name, ...flags] = cmd;
          await main(['--root', root, name!, ...flags, 'warm-up']);
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates a container's cgroup and applies the default device rules in
 * a pretend v1 hierarchy of plain directories (the knobs made as files). */
function warmCgroupSetUp(base: string): void {
  const mounts = ['devices', 'cpuset'].map((c) => join(base, c));
  const layout = parseCgroupMounts(mounts.map((m, i) => `${40 + i} 31 0:${40 + i} / ${m} rw - cgroup cgroup rw,${m.split('/').pop()}`).join('\n'));
  const cg = new CgroupManager(layout, '/warm-up');
  const knobs: [string, string][] = [
    ['cpuset/cpuset.cpus', '0'],
    ['cpuset/cpuset.mems', '0'],
    ['cpuset/warm-up/cpuset.cpus', ''],
    ['cpuset/warm-up/cpuset.mems', ''],
    ['devices/warm-up/devices.deny', ''],
    ['devices/warm-up/devices.allow', ''],
  ];
  for (const [file, value] of knobs) {
    mkdirSync(dirname(join(base, file)), { recursive: true });
    writeFileSync(join(base, file), value);
  }
  cg.create();
  applyResources(cg, { devices: [{ allow: false, access: 'rwm' }] }, { warn: () => {} });
}

async function quietly(fn: () => Promise<void>): Promise<void> {
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
}
