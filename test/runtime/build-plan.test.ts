import { describe, expect, it } from 'vitest';
import { buildExecPlan, buildInitPlan, type PlanInput } from '../../src/runtime/build-plan';
import { defaultSpec } from '../../src/oci/defaults';
import { NO_SLOT, Op, Plan, Slot, str, T, u32, u64 } from '../../src/init/plan';
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
const idx = (list: number[], op: number) => list.indexOf(op);

describe('buildInitPlan', () => {
  it('orders the phases: stage 0, wait for the runtime, rootfs, pivot, identity, ready, fifo, exec', () => {
    const list = ops(input());
    expect(list[0]).toBe(Op.MKFIFO);
    expect(idx(list, Op.CLONE)).toBeLessThan(idx(list, Op.WAIT_GO));
    expect(idx(list, Op.WAIT_GO)).toBeLessThan(idx(list, Op.MOUNT));
    expect(idx(list, Op.MOUNT)).toBeLessThan(idx(list, Op.PIVOT_ROOT));
    expect(idx(list, Op.PIVOT_ROOT)).toBeLessThan(idx(list, Op.MASK));
    expect(idx(list, Op.CAPBSET_DROP)).toBeLessThan(idx(list, Op.USER));
    expect(idx(list, Op.USER)).toBeLessThan(idx(list, Op.CAPSET));
    expect(idx(list, Op.CAPSET)).toBeLessThan(idx(list, Op.READY));
    expect(idx(list, Op.READY)).toBeLessThan(idx(list, Op.FIFO));
    expect(idx(list, Op.CLOSE_FDS)).toBeLessThan(idx(list, Op.CAPBSET_DROP));
    expect(list[list.length - 1]).toBe(Op.EXEC);
  });

  it('creates the namespaces of the default spec with clone3, the cgroup namespace after the runtime placed us', () => {
    const { plan } = buildInitPlan(input((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    const clone = plan.steps.find((s) => s.op === Op.CLONE)!;
    const flags = Number((clone.fields[0] as { u64: number }).u64);
    expect(flags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    const list = plan.steps.map((s) => s.op);
    const unshare = plan.steps.findIndex((s) => s.op === Op.UNSHARE && Number((s.fields[0] as { u64: number }).u64) === CLONE.NEWCGROUP);
    expect(unshare).toBeGreaterThan(idx(list, Op.WAIT_GO));
  });

  it('joins the cgroup from the child: v1 by "0" to tasks, v2 by CLONE_INTO_CGROUP, all before waiting for the runtime', () => {
    const targets = { v1: ['/sys/fs/cgroup/cpu/tsrun/x', '/sys/fs/cgroup/pids/tsrun/x'], v2: '/sys/fs/cgroup/unified/tsrun/x' };
    const { plan } = buildInitPlan(input(undefined, { cgroupTargets: targets }));
    const list = plan.steps.map((s) => s.op);
    const opens = plan.steps.filter((s) => s.op === Op.OPEN_PATH).map((s) => (s.fields[0] as { str: string }).str);
    expect(opens).toEqual(expect.arrayContaining(['/sys/fs/cgroup/cpu/tsrun/x/tasks', '/sys/fs/cgroup/pids/tsrun/x/tasks', '/sys/fs/cgroup/unified/tsrun/x']));
    const clone = plan.steps.find((s) => s.op === Op.CLONE)!;
    const v2slot = Number((clone.fields[2] as { u64: number }).u64);
    const v2open = plan.steps.find((s) => s.op === Op.OPEN_PATH && (s.fields[0] as { str: string }).str === targets.v2)!;
    expect(Number((v2open.fields[1] as { u64: number }).u64)).toBe(v2slot);
    const joins = plan.steps.map((s, i) => (s.op === Op.JOIN_CGROUP ? i : -1)).filter((i) => i >= 0);
    expect(joins).toHaveLength(2);
    for (const j of joins) {
      expect(j).toBeGreaterThan(idx(list, Op.CLONE));
      expect(j).toBeLessThan(idx(list, Op.WAIT_GO));
    }
    expect(idx(list, Op.OPEN_PATH)).toBeLessThan(idx(list, Op.CLONE));
  });

  it('joins v2 through cgroup.procs when a cgroup namespace is joined before the clone', () => {
    const targets = { v1: [], v2: '/sys/fs/cgroup/unified/tsrun/x' };
    const spec = (s: Spec) => s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' });
    const { plan } = buildInitPlan(input((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
      spec(s);
    }, { cgroupTargets: targets }));
    const clone = plan.steps.find((s) => s.op === Op.CLONE)!;
    expect(Number((clone.fields[2] as { u64: number }).u64)).toBe(NO_SLOT);
    expect(plan.steps.filter((s) => s.op === Op.OPEN_PATH).map((s) => (s.fields[0] as { str: string }).str)).toContain(`${targets.v2}/cgroup.procs`);
    expect(plan.steps.some((s) => s.op === Op.JOIN_CGROUP)).toBe(true);
  });

  it('joins no cgroup without targets', () => {
    const { plan } = buildInitPlan(input());
    expect(plan.steps.some((s) => s.op === Op.JOIN_CGROUP)).toBe(false);
    const clone = plan.steps.find((s) => s.op === Op.CLONE)!;
    expect(Number((clone.fields[2] as { u64: number }).u64)).toBe(NO_SLOT);
  });

  it('resolves every container mount target inside the rootfs', () => {
    const { plan } = buildInitPlan(input());
    const pivot = plan.steps.findIndex((s) => s.op === Op.PIVOT_ROOT);
    const mounts = plan.steps.slice(0, pivot).filter((s) => s.op === Op.MOUNT);
    // The first two set up the rootfs itself (host paths); every later one is in-root.
    for (const m of mounts.slice(2)) {
      const tflags = Number((m.fields[5] as { u64: number }).u64);
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
    const joins = plan.steps.filter((s) => s.op === Op.SETNS).map((s) => (s.fields[0] as { str: string }).str);
    expect(joins).toEqual(['/proc/1/ns/user', '/proc/1/ns/net']);
  });

  it('puts createContainer hooks before pivot_root and startContainer hooks after the fifo', () => {
    const { plan } = buildInitPlan(
      input((s) => {
        s.hooks = { createContainer: [{ path: '/bin/a' }], startContainer: [{ path: '/bin/b' }] };
      }),
    );
    const list = plan.steps.map((s) => s.op);
    const hooks = plan.steps.map((s, i) => [s, i] as const).filter(([s]) => s.op === Op.HOOK).map(([, i]) => i);
    expect(hooks[0]).toBeLessThan(idx(list, Op.PIVOT_ROOT));
    expect(hooks[1]).toBeGreaterThan(idx(list, Op.FIFO));
  });

  it('uses the container PATH for the executable candidates', () => {
    const { plan } = buildInitPlan(input((s) => (s.process!.env = ['PATH=/opt/bin:/bin'])));
    const check = plan.steps.find((s) => s.op === Op.EXEC_CHECK)!;
    expect((check.fields[0] as { strv: string[] }).strv).toEqual(['/opt/bin/sh', '/bin/sh']);
  });

  it('binds device nodes instead of mknod inside a user namespace', () => {
    const userns = input((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(ops(userns)).not.toContain(Op.MKNOD);
    expect(ops(input())).toContain(Op.MKNOD);
  });

  it('rejects impossible configurations before anything happens', () => {
    expect(() => buildInitPlan(input((s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])))).toThrow(ConfigError);
    expect(() => buildInitPlan(input((s) => (s.process!.terminal = true)))).toThrow(/console-socket/);
    expect(() => buildInitPlan(input((s) => s.process!.capabilities!.bounding!.push('CAP_BOGUS')))).toThrow(/unknown capability "CAP_BOGUS"/);
  });

  it('without a mount namespace only chroots: no mount touches the host', () => {
    const list = ops(input((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'))));
    expect(list).toContain(Op.CHROOT);
    expect(list).not.toContain(Op.MOUNT);
    expect(list).not.toContain(Op.PIVOT_ROOT);
  });

  it('encodes a plan the native side can walk: length prefix, then op/len/payload records', () => {
    const { plan } = buildInitPlan(input());
    const buf = plan.encode();
    expect(buf.readUInt32LE(0)).toBe(buf.length - 4);
    let off = 4;
    let n = 0;
    while (off < buf.length) {
      expect(buf.readUInt32LE(off)).toBe(plan.steps[n]!.op);
      off += 8 + buf.readUInt32LE(off + 4);
      n++;
    }
    expect(off).toBe(buf.length);
    expect(n).toBe(plan.steps.length);
  });

  it('encodes u64 fields as little-endian two\'s complement, from numbers and bigints alike', () => {
    const p = new Plan().add(Op.SETID, 'x', u64(5), u64(2 ** 40 + 7), u64(-1), u64(0xffffffff), u64((1n << 63n) | 3n), u32(9), str('ab'), { strv: ['c', ''] });
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
    expect(next64()).toBe(0xffffffffn);
    expect(next64()).toBe((1n << 63n) | 3n);
    expect(b.readUInt32LE(off)).toBe(9);
    expect(b.subarray(off + 4, off + 4 + 4 + 3)).toEqual(Buffer.from([3, 0, 0, 0, 0x61, 0x62, 0]));
    off += 11;
    expect(b.subarray(off)).toEqual(Buffer.from([2, 0, 0, 0, 2, 0, 0, 0, 0x63, 0, 1, 0, 0, 0, 0]));
    expect(b.readUInt32LE(8)).toBe(b.length - 12);
  });

  it('encodes non-ASCII strings by their UTF-8 bytes', () => {
    const b = new Plan().add(Op.SETHOSTNAME, 'x', str('h\u00e9'), { strv: ['\u{1F600}', 'a'] }).encode();
    expect(b.subarray(12)).toEqual(
      Buffer.concat([Buffer.from([4, 0, 0, 0, 0x68, 0xc3, 0xa9, 0]), Buffer.from([2, 0, 0, 0, 5, 0, 0, 0, 0xf0, 0x9f, 0x98, 0x80, 0, 2, 0, 0, 0, 0x61, 0])]),
    );
  });
});


describe('buildExecPlan', () => {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const execInput = (mutate?: (s: Spec) => void) => {
    const spec = defaultSpec();
    spec.process!.terminal = false;
    mutate?.(spec);
    return { process: { ...spec.process!, args: ['id'] }, initPid: 4242, initStartTime: 987654, spec, preserveFds: 0, relay: true, warn: () => {} };
  };

  it('reaches the init through a pidfd checked against its start time, never by a /proc/<pid>/ns path', () => {
    const plan = buildExecPlan(execInput((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    const steps = plan.steps;
    expect(steps[0]).toMatchObject({ op: Op.PIDFD_OPEN, fields: [u64(4242), u64(987654), u64(Slot.INIT)] });
    expect(steps.some((s) => s.op === Op.SETNS || s.fields.some((f) => 'str' in f && f.str.includes('/ns/')))).toBe(false);
    const joins = steps.filter((s) => s.op === Op.SETNS_PIDFD).map((s) => s.fields[1]);
    const clone = steps.findIndex((s) => s.op === Op.CLONE);
    // Every namespace of the default spec, the cgroup namespace after the clone, in the join order.
    expect(joins).toEqual([CLONE.NEWIPC, CLONE.NEWUTS, CLONE.NEWNET, CLONE.NEWPID, CLONE.NEWNS, CLONE.NEWCGROUP].map((f) => u64(f)));
    expect(steps.findIndex((s) => s.op === Op.SETNS_PIDFD && same(s.fields[1], u64(CLONE.NEWCGROUP)))).toBeGreaterThan(clone);
    expect(steps.some((s) => s.op === Op.CHROOT_SLOT)).toBe(false);
  });

  it('without a mount namespace: opens the init\'s root before joining anything, checks the init still runs, and chroots there after the clone', () => {
    const plan = buildExecPlan(execInput((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'))));
    const at = (op: number) => plan.steps.findIndex((s) => s.op === op);
    const root = plan.steps.findIndex((s) => s.op === Op.OPEN_PATH && same(s.fields[0], str('/proc/4242/root')));
    expect(plan.steps[root]!.fields).toEqual([str('/proc/4242/root'), u64(Slot.ROOT), u64(0o10000000 | 0o200000)]);
    expect(at(Op.PIDFD_OPEN)).toBeLessThan(root);
    expect(root).toBeLessThan(at(Op.PIDFD_ALIVE));
    expect(at(Op.PIDFD_ALIVE)).toBeLessThan(at(Op.SETNS_PIDFD));
    expect(at(Op.CLONE)).toBeLessThan(at(Op.CHROOT_SLOT));
    expect(plan.steps[at(Op.CHROOT_SLOT)]!.fields).toEqual([u64(Slot.ROOT)]);
    expect(at(Op.CHROOT_SLOT)).toBeLessThan(at(Op.CHDIR));
  });
});
