// Temp directories standing in for cgroup mounts: each hierarchy is a
// directory, each knob a plain file holding what the kernel would show.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CgroupLayout, Hierarchy } from '../../src/cgroups/hierarchy';
import { CgroupManager } from '../../src/cgroups/manager';

export const CG = '/tsrun-test/c1';

export const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712',
    'memory.soft_limit_in_bytes': '9223372036854771712',
    'memory.memsw.limit_in_bytes': '9223372036854771712',
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
  },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_quota_us': '-1',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_burst_us': '0',
    'cpu.rt_runtime_us': '0',
    'cpu.rt_period_us': '1000000',
    'cpu.idle': '0',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
  },
  cpuacct: {},
  cpuset: { 'cpuset.cpus': '0-1', 'cpuset.mems': '0' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  blkio: {
    'blkio.bfq.weight': 'default 100',
    'blkio.bfq.weight_device': '',
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm' },
  freezer: { 'freezer.state': 'THAWED', 'freezer.self_freezing': '0' },
};

export interface FakeHost {
  root: string;
  layout: CgroupLayout;
  mgr: CgroupManager;
  /** Host directory of the container cgroup on a hierarchy (by its mount dir name). */
  dir(mount: string): string;
  read(mount: string, file: string): string;
  write(mount: string, file: string, text: string): void;
  cleanup(): void;
}

/** A host with the given v1 hierarchies and, optionally, a cgroup2 tree offering `v2` controllers. */
export function fakeHost(v1: string[], v2?: { controllers: string[]; files?: Record<string, string> }): FakeHost {
  const root = mkdtempSync(join(tmpdir(), 'tsrun-cg-'));
  const hierarchies: Hierarchy[] = [];
  for (const c of v1) {
    const mountpoint = join(root, c);
    const dir = join(mountpoint, CG);
    mkdirSync(dir, { recursive: true });
    for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) writeFileSync(join(dir, f), v);
    for (const d of [mountpoint, join(mountpoint, 'tsrun-test'), dir]) writeFileSync(join(d, 'cgroup.procs'), '');
    hierarchies.push({ mountpoint, root: '/', version: 1, controllers: [c] });
  }
  if (v2) {
    const mountpoint = join(root, 'unified');
    const dir = join(mountpoint, CG);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(mountpoint, 'cgroup.controllers'), v2.controllers.join(' ') + '\n');
    for (const d of [mountpoint, join(mountpoint, 'tsrun-test')]) writeFileSync(join(d, 'cgroup.subtree_control'), '');
    writeFileSync(join(dir, 'cgroup.procs'), '');
    writeFileSync(join(dir, 'cgroup.freeze'), '0');
    writeFileSync(join(dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    for (const [f, v] of Object.entries(v2.files ?? {})) writeFileSync(join(dir, f), v);
    hierarchies.push({ mountpoint, root: '/', version: 2, controllers: [] });
  }
  const mode = v1.length === 0 ? 'unified' : v2 ? 'hybrid' : 'legacy';
  const layout: CgroupLayout = { mode, hierarchies };
  const dir = (mount: string) => join(root, mount, CG);
  return {
    root,
    layout,
    mgr: new CgroupManager(layout, CG),
    dir,
    read: (mount, file) => readFileSync(join(dir(mount), file), 'utf8'),
    write: (mount, file, text) => writeFileSync(join(dir(mount), file), text),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export const V2_FILES: Record<string, string> = {
  'memory.max': 'max',
  'memory.low': '0',
  'memory.swap.max': 'max',
  'memory.current': '0',
  'cpu.weight': '100',
  'cpu.max': 'max 100000',
  'cpu.max.burst': '0',
  'cpu.idle': '0',
  'cpuset.cpus': '',
  'cpuset.mems': '',
  'pids.max': 'max',
  'io.weight': 'default 100',
  'io.max': '',
  'hugetlb.2MB.max': 'max',
  'hugetlb.1GB.max': 'max',
};

export const V2_ALL = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];
