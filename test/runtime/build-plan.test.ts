import { describe, expect, it } from 'vitest';
import { buildExecPlan, buildInitPlan, type PlanInput } from '../../src/runtime/build-plan';
import { defaultSpec } from '../../src/oci/defaults';
import { NO_SLOT, Plan, Slot, T, type OpName } from '../../src/init/plan';
import { OPS } from '../../src/init/ops';
import { parseCgroupMounts } from '../../src/cgroups/hierarchy';
import { ConfigError } from '../../src/errors';
import type { Spec } from '../../src/oci/types';
import { CLONE } from '../../src/namespaces';

const hybrid = parseCgroupMounts(
  [
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n'),
);

function input(mutate?: (s: Spec) => void, extra: Partial<PlanInput> = {}): PlanInput {
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ['sh', '-c', 'true'];
  mutate?.(spec);
  return {
    spec,
    bundle: '/b',
    rootfs: '/b/rootfs',
    fifo: '/run/tsrun/x/exec.fifo',
    preserveFds: 0,
    noPivot: false,
    noNewKeyring: false,
    relay: false,
    id: 'x',
    cgroups: hybrid,
    cgroupPath: '/tsrun/x',
    warn: () => {},
    ...extra,
  };
}

const ops = (i: PlanInput) => buildInitPlan(i).plan.steps.map((s) => s.op);
const idx = (list: OpName[], op: OpName) => list.indexOf(op);

describe('buildInitPlan', () => {
  it('orders the phases: stage 0, wait for the runtime, rootfs, pivot, identity, ready, fifo, exec', () => {
    const list = ops(input());
    expect(list[0]).toBe('mkfifo');
    expect(idx(list, 'clone')).toBeLessThan(idx(list, 'waitGo'));
    expect(idx(list, 'waitGo')).toBeLessThan(idx(list, 'mount'));
    expect(idx(list, 'mount')).toBeLessThan(idx(list, 'pivotRoot'));
    expect(idx(list, 'pivotRoot')).toBeLessThan(idx(list, 'mask'));
    expect(idx(list, 'capbsetDrop')).toBeLessThan(idx(list, 'user'));
    expect(idx(list, 'user')).toBeLessThan(idx(list, 'capset'));
    expect(idx(list, 'capset')).toBeLessThan(idx(list, 'ready'));
    expect(idx(list, 'ready')).toBeLessThan(idx(list, 'fifo'));
    expect(idx(list, 'closeFds')).toBeLessThan(idx(list, 'capbsetDrop'));
    expect(list[list.length - 1]).toBe('exec');
  });

  it('creates the namespaces of the default spec with clone3, the cgroup namespace after the runtime placed us', () => {
    const { plan } = buildInitPlan(input((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    const flags = Number(plan.first('clone')!.args.flags);
    expect(flags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    const list = plan.steps.map((s) => s.op);
    const unshare = plan.steps.findIndex((s) => s.op === 'unshare' && Number(s.args.flags) === CLONE.NEWCGROUP);
    expect(unshare).toBeGreaterThan(idx(list, 'waitGo'));
  });

  it('joins the cgroup from the child: v1 by "0" to tasks, v2 by CLONE_INTO_CGROUP, all before waiting for the runtime', () => {
    const targets = { v1: ['/sys/fs/cgroup/cpu/tsrun/x', '/sys/fs/cgroup/pids/tsrun/x'], v2: '/sys/fs/cgroup/unified/tsrun/x' };
    const { plan } = buildInitPlan(input(undefined, { cgroupTargets: targets }));
    const list = plan.steps.map((s) => s.op);
    const opens = plan.all('openPath').map((s) => s.args.path);
    expect(opens).toEqual(expect.arrayContaining(['/sys/fs/cgroup/cpu/tsrun/x/tasks', '/sys/fs/cgroup/pids/tsrun/x/tasks', '/sys/fs/cgroup/unified/tsrun/x']));
    const v2slot = Number(plan.first('clone')!.args.cgroupSlot);
    const v2open = plan.all('openPath').find((s) => s.args.path === targets.v2)!;
    expect(Number(v2open.args.slot)).toBe(v2slot);
    const joins = plan.steps.map((s, i) => (s.op === 'joinCgroup' ? i : -1)).filter((i) => i >= 0);
    expect(joins).toHaveLength(2);
    for (const j of joins) {
      expect(j).toBeGreaterThan(idx(list, 'clone'));
      expect(j).toBeLessThan(idx(list, 'waitGo'));
    }
    expect(idx(list, 'openPath')).toBeLessThan(idx(list, 'clone'));
  });

  it('joins v2 through cgroup.procs when a cgroup namespace is joined before the clone', () => {
    const targets = { v1: [], v2: '/sys/fs/cgroup/unified/tsrun/x' };
    const spec = (s: Spec) => s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' });
    const { plan } = buildInitPlan(input((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
      spec(s);
    }, { cgroupTargets: targets }));
    expect(Number(plan.first('clone')!.args.cgroupSlot)).toBe(NO_SLOT);
    expect(plan.all('openPath').map((s) => s.args.path)).toContain(`${targets.v2}/cgroup.procs`);
    expect(plan.steps.some((s) => s.op === 'joinCgroup')).toBe(true);
  });

  it('joins no cgroup without targets', () => {
    const { plan } = buildInitPlan(input());
    expect(plan.steps.some((s) => s.op === 'joinCgroup')).toBe(false);
    expect(Number(plan.first('clone')!.args.cgroupSlot)).toBe(NO_SLOT);
  });

  it('resolves every container mount target inside the rootfs', () => {
    const { plan } = buildInitPlan(input());
    const pivot = plan.steps.findIndex((s) => s.op === 'pivotRoot');
    const mounts = plan.all('mount').filter((s) => plan.steps.indexOf(s) < pivot);
    // The first two set up the rootfs itself (host paths); every later one is in-root.
    for (const m of mounts.slice(2)) {
      const tflags = Number(m.args.tflags);
      expect(tflags & T.IN_ROOT, m.what).toBe(T.IN_ROOT);
    }
  });

  it('joins namespaces by path, user namespace first', () => {
    const { plan } = buildInitPlan(
      input((s) => {
        s.linux!.namespaces = [
          { type: 'network', path: '/proc/1/ns/net' },
          { type: 'mount' },
          { type: 'user', path: '/proc/1/ns/user' },
          { type: 'uts' },
        ];
      }),
    );
    const joins = plan.all('setns').map((s) => s.args.path);
    expect(joins).toEqual(['/proc/1/ns/user', '/proc/1/ns/net']);
  });

  it('puts createContainer hooks before pivot_root and startContainer hooks after the fifo', () => {
    const { plan } = buildInitPlan(
      input((s) => {
        s.hooks = { createContainer: [{ path: '/bin/a' }], startContainer: [{ path: '/bin/b' }] };
      }),
    );
    const list = plan.steps.map((s) => s.op);
    const hooks = plan.steps.map((s, i) => [s, i] as const).filter(([s]) => s.op === 'hook').map(([, i]) => i);
    expect(hooks[0]).toBeLessThan(idx(list, 'pivotRoot'));
    expect(hooks[1]).toBeGreaterThan(idx(list, 'fifo'));
  });

  it('uses the container PATH for the executable candidates', () => {
    const { plan } = buildInitPlan(input((s) => (s.process!.env = ['PATH=/opt/bin:/bin'])));
    expect(plan.first('execCheck')!.args.candidates).toEqual(['/opt/bin/sh', '/bin/sh']);
  });

  it('binds device nodes instead of mknod inside a user namespace', () => {
    const userns = input((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(ops(userns)).not.toContain('mknod');
    expect(ops(input())).toContain('mknod');
  });

  it('rejects impossible configurations before anything happens', () => {
    expect(() => buildInitPlan(input((s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])))).toThrow(ConfigError);
    expect(() => buildInitPlan(input((s) => (s.process!.terminal = true)))).toThrow(/console-socket/);
    expect(() => buildInitPlan(input((s) => s.process!.capabilities!.bounding!.push('CAP_BOGUS')))).toThrow(/unknown capability "CAP_BOGUS"/);
  });

  it('without a mount namespace only chroots: no mount touches the host', () => {
    const list = ops(input((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'))));
    expect(list).toContain('chroot');
    expect(list).not.toContain('mount');
    expect(list).not.toContain('pivotRoot');
  });

  it('encodes a plan the native side can walk: length prefix, then op/len/payload records', () => {
    const { plan } = buildInitPlan(input());
    const buf = plan.encode();
    expect(buf.readUInt32LE(0)).toBe(buf.length - 4);
    let off = 4;
    let n = 0;
    while (off < buf.length) {
      expect(buf.readUInt32LE(off)).toBe(OPS[plan.steps[n]!.op].code);
      off += 8 + buf.readUInt32LE(off + 4);
      n++;
    }
    expect(off).toBe(buf.length);
    expect(n).toBe(plan.steps.length);
  });

  it('encodes u64 fields as little-endian two\'s complement, from numbers and bigints alike; strings and lists length-prefixed', () => {
    const p = new Plan().add('capset', 'x', { effective: 5, permitted: 2 ** 40 + 7, inheritable: -1, ambient: (1n << 63n) | 3n });
    p.add('exec', 'y', { args: ['ab'], env: ['c', ''] });
    const b = p.encode();
    let off = 12;
    const next64 = () => {
      const v = b.readBigUInt64LE(off);
      off += 8;
      return v;
    };
    expect(next64()).toBe(5n);
    expect(next64()).toBe(2n ** 40n + 7n);
    expect(next64()).toBe(2n ** 64n - 1n);
    expect(next64()).toBe((1n << 63n) | 3n);
    expect(b.readUInt32LE(off)).toBe(OPS.exec.code);
    off += 8;
    expect(b.subarray(off)).toEqual(Buffer.from([1, 0, 0, 0, 3, 0, 0, 0, 0x61, 0x62, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0x63, 0, 1, 0, 0, 0, 0]));
    expect(b.readUInt32LE(8)).toBe(32);
  });

  it('encodes non-ASCII strings by their UTF-8 bytes', () => {
    const b = new Plan().add('exec', 'x', { args: ['h\u00e9'], env: ['\u{1F600}', 'a'] }).encode();
    expect(b.subarray(12)).toEqual(
      Buffer.concat([Buffer.from([1, 0, 0, 0, 4, 0, 0, 0, 0x68, 0xc3, 0xa9, 0]), Buffer.from([2, 0, 0, 0, 5, 0, 0, 0, 0xf0, 0x9f, 0x98, 0x80, 0, 2, 0, 0, 0, 0x61, 0])]),
    );
  });
});


describe('buildExecPlan', () => {
  const execInput = (mutate?: (s: Spec) => void) => {
    const spec = defaultSpec();
    spec.process!.terminal = false;
    mutate?.(spec);
    return { process: { ...spec.process!, args: ['id'] }, initPid: 4242, initStartTime: 987654, spec, preserveFds: 0, relay: true, warn: () => {} };
  };

  it('reaches the init through a pidfd checked against its start time, never by a /proc/<pid>/ns path', () => {
    const plan = buildExecPlan(execInput((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    const steps = plan.steps;
    expect(steps[0]).toMatchObject({ op: 'pidfdOpen', args: { pid: 4242, startTime: 987654, slot: Slot.INIT } });
    expect(steps.some((s) => s.op === 'setns' || Object.values(s.args).some((v) => typeof v === 'string' && v.includes('/ns/')))).toBe(false);
    const joins = plan.all('setnsPidfd').map((s) => s.args.nstype);
    const clone = steps.findIndex((s) => s.op === 'clone');
    // Every namespace of the default spec, the cgroup namespace after the clone, in the join order.
    expect(joins).toEqual([CLONE.NEWIPC, CLONE.NEWUTS, CLONE.NEWNET, CLONE.NEWPID, CLONE.NEWNS, CLONE.NEWCGROUP]);
    expect(steps.findIndex((s) => s.op === 'setnsPidfd' && s.args.nstype === CLONE.NEWCGROUP)).toBeGreaterThan(clone);
    expect(steps.some((s) => s.op === 'chrootSlot')).toBe(false);
  });

  it('without a mount namespace: opens the init\'s root before joining anything, checks the init still runs, and chroots there after the clone', () => {
    const plan = buildExecPlan(execInput((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'))));
    const at = (op: OpName) => plan.steps.findIndex((s) => s.op === op);
    const root = plan.steps.findIndex((s) => s.op === 'openPath' && s.args.path === '/proc/4242/root');
    expect(plan.steps[root]!.args).toEqual({ path: '/proc/4242/root', slot: Slot.ROOT, flags: 0o10000000 | 0o200000 });
    expect(at('pidfdOpen')).toBeLessThan(root);
    expect(root).toBeLessThan(at('pidfdAlive'));
    expect(at('pidfdAlive')).toBeLessThan(at('setnsPidfd'));
    expect(at('clone')).toBeLessThan(at('chrootSlot'));
    expect(plan.steps[at('chrootSlot')]!.args).toEqual({ slot: Slot.ROOT });
    expect(at('chrootSlot')).toBeLessThan(at('chdir'));
  });
});
