// The systemd cgroup driver's pure parts: cgroupsPath parsing and slice
// expansion (runc's ExpandSlice cases), resources as unit properties
// (runc's genV1/genV2ResourcesProperties), cpuset masks, device rules.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import type { LinuxDeviceCgroup } from '../../src/oci/types';
import { DEFAULT_DEVICE_RULES } from '../../src/cgroups/resources';
import {
  cpuQuotaProperties,
  deviceGroup,
  deviceProperties,
  expandSlice,
  parseSystemdCgroupsPath,
  parseSystemdVersion,
  rangeToBits,
  reduceDeviceRules,
  resourceProperties,
  SD_INFINITY,
  unifiedProperties,
  unitBaseProperties,
  type UnitProperty,
} from '../../src/cgroups/systemd';
import { busAddress } from '../../src/cgroups/systemd-dbus';

const byName = (props: UnitProperty[]) => Object.fromEntries(props.map((p) => [p.name, p.value]));
const sigs = (props: UnitProperty[]) => Object.fromEntries(props.map((p) => [p.name, p.sig]));

describe('slices and cgroupsPath', () => {
  it('expands nested slices as systemd names them (runc ExpandSlice)', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('-.slice')).toBe('/');
    expect(expandSlice('a-b.slice')).toBe('/a.slice/a-b.slice');
    expect(expandSlice('test-a-b.slice')).toBe('/test.slice/test-a.slice/test-a-b.slice');
    for (const bad of ['.slice', 'system', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice', 'slice']) {
      expect(() => expandSlice(bad), bad).toThrow(ConfigError);
    }
  });

  it('parses slice:prefix:name into the unit and its cgroup', () => {
    expect(parseSystemdCgroupsPath('system.slice:tsrun:abc', 'abc')).toEqual({
      slice: 'system.slice',
      unit: 'tsrun-abc.scope',
      unitType: 'Scope',
      path: '/system.slice/tsrun-abc.scope',
    });
    expect(parseSystemdCgroupsPath('machine-pod.slice:libpod:123', 'x').path).toBe('/machine.slice/machine-pod.slice/libpod-123.scope');
    expect(parseSystemdCgroupsPath('-.slice:p:n', 'x').path).toBe('/p-n.scope');
    // An empty slice: system.slice (user.slice rootless), as runc.
    expect(parseSystemdCgroupsPath(':p:n', 'x').path).toBe('/system.slice/p-n.scope');
    expect(parseSystemdCgroupsPath(':p:n', 'x', true).slice).toBe('user.slice');
    // A name ending in .slice is a slice itself, expanded on its own.
    expect(parseSystemdCgroupsPath('system.slice:p:my-pod.slice', 'x')).toMatchObject({ unit: 'my-pod.slice', unitType: 'Slice', path: '/my.slice/my-pod.slice' });
  });

  it('defaults an empty cgroupsPath as runc does, with tsrun as the prefix', () => {
    expect(parseSystemdCgroupsPath(undefined, 'c1')).toMatchObject({ slice: 'system.slice', unit: 'tsrun-c1.scope', path: '/system.slice/tsrun-c1.scope' });
    expect(parseSystemdCgroupsPath('', 'c1').unit).toBe('tsrun-c1.scope');
  });

  it('refuses other forms with one line naming the expected one', () => {
    for (const bad of ['/tsrun/abc', 'a:b', 'a:b:c:d', 'system.slice:p:', 'bad:p:n', 'system.slice:p/q:n', 'system.slice:p:n/m', 'a/b.slice:p:n']) {
      expect(() => parseSystemdCgroupsPath(bad, 'x'), bad).toThrow(ConfigError);
    }
    expect(() => parseSystemdCgroupsPath('/tsrun/abc', 'x')).toThrow(/must be "slice:prefix:name" for the systemd cgroup driver/);
    expect(() => parseSystemdCgroupsPath('bad:p:n', 'x')).toThrow(/invalid slice name "bad"/);
  });
});

describe('unit properties', () => {
  it('starts a scope in its slice with Delegate, the pid and no default dependencies', () => {
    const cg = parseSystemdCgroupsPath('system.slice:tsrun:a', 'a');
    const p = unitBaseProperties(cg, { pid: 42, version: 2, description: 'd' });
    expect(byName(p)).toEqual({
      Description: 'd',
      Slice: 'system.slice',
      Delegate: true,
      PIDs: [42],
      MemoryAccounting: true,
      CPUAccounting: true,
      IOAccounting: true,
      TasksAccounting: true,
      DefaultDependencies: false,
    });
    expect(sigs(p).PIDs).toBe('au');
    const slice = unitBaseProperties(parseSystemdCgroupsPath('system.slice:p:x.slice', 'a'), { pid: 42, version: 1, description: 'd' });
    expect(byName(slice)).toMatchObject({ Wants: ['system.slice'], BlockIOAccounting: true });
    expect(byName(slice)).not.toHaveProperty('PIDs');
  });

  it('converts v2 resources: MemoryMax/Low/SwapMax, CPUWeight from shares, TasksMax, IOWeight', () => {
    const p = resourceProperties(
      { memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 }, cpu: { shares: 1024 }, pids: { limit: 100 }, blockIO: { weight: 500 } },
      { version: 2, systemdVersion: 252, warn: () => {} },
    );
    expect(byName(p)).toEqual({
      MemoryMax: 64n << 20n,
      MemoryLow: 32n << 20n,
      MemorySwapMax: 32n << 20n,
      CPUWeight: 39n, // runc: 1 + ((1024-2)*9999)/262142
      IOWeight: 4950n, // 1 + (500-10)*9999/990
      TasksMax: 100n,
    });
    expect(new Set(p.map((x) => x.sig))).toEqual(new Set(['t']));
    // -1 is systemd's infinity; 0 leaves a property out.
    expect(byName(resourceProperties({ memory: { limit: -1, swap: -1 }, pids: { limit: -1 } }, { version: 2, systemdVersion: 252, warn: () => {} }))).toEqual({
      MemoryMax: SD_INFINITY,
      MemorySwapMax: SD_INFINITY,
      TasksMax: SD_INFINITY,
    });
    expect(resourceProperties({ memory: { limit: 0 }, pids: { limit: 0 } }, { version: 2, systemdVersion: 252, warn: () => {} })).toEqual([]);
  });

  it('converts v1 resources: MemoryLimit, CPUShares, BlockIOWeight', () => {
    const p = resourceProperties({ memory: { limit: 1 << 30 }, cpu: { shares: 512 }, blockIO: { weight: 300 } }, { version: 1, systemdVersion: 252, warn: () => {} });
    expect(byName(p)).toEqual({ MemoryLimit: 1n << 30n, CPUShares: 512n, BlockIOWeight: 300n });
  });

  it('turns quota and period into CPUQuotaPerSecUSec rounded up to whole percents, and CPUQuotaPeriodUSec (systemd >= 242)', () => {
    expect(byName(cpuQuotaProperties(50000, 100000, 252))).toEqual({ CPUQuotaPeriodUSec: 100000n, CPUQuotaPerSecUSec: 500000n });
    expect(byName(cpuQuotaProperties(12345, undefined, 252))).toEqual({ CPUQuotaPerSecUSec: 130000n }); // 123450 → 130000
    expect(byName(cpuQuotaProperties(-1, 50000, 252))).toEqual({ CPUQuotaPeriodUSec: 50000n, CPUQuotaPerSecUSec: SD_INFINITY });
    expect(byName(cpuQuotaProperties(20000, 50000, 241))).toEqual({ CPUQuotaPerSecUSec: 400000n });
    expect(cpuQuotaProperties(undefined, undefined, 252)).toEqual([]);
  });

  it('makes cpuset lists into little-endian bit masks, as systemd reads AllowedCPUs', () => {
    const hex = (s: string) => rangeToBits(s).toString('hex');
    expect(hex('0')).toBe('01');
    expect(hex('1')).toBe('02');
    expect(hex('0-3')).toBe('0f');
    expect(hex('4-7')).toBe('f0');
    expect(hex('0-15')).toBe('ffff');
    expect(hex('16')).toBe('000001');
    expect(hex('0-3,32-33')).toBe('0f00000003');
    expect(hex(' , 1 , 3 ,  5-7,\t')).toBe('ea');
    for (const bad of ['', '-', '1-', '-3', '54-53', '1 - 2', 'a']) expect(() => rangeToBits(bad), bad).toThrow(ConfigError);
    const p = resourceProperties({ cpu: { cpus: '0-1', mems: '0' } }, { version: 2, systemdVersion: 252, warn: () => {} });
    expect(byName(p)).toEqual({ AllowedCPUs: Buffer.from([3]), AllowedMemoryNodes: Buffer.from([1]) });
    expect(sigs(p).AllowedCPUs).toBe('ay');
    // Older systemd has no such properties: the files alone carry them.
    expect(resourceProperties({ cpu: { cpus: '0-1' } }, { version: 2, systemdVersion: 243, warn: () => {} })).toEqual([]);
  });

  it('maps the unified keys systemd knows and leaves the rest to the files', () => {
    expect(byName(unifiedProperties({ 'memory.high': '1000', 'memory.max': 'max', 'pids.max': '7', 'cpu.weight': '50', 'cpu.max': '20000 100000', 'io.max': 'x' }, 252))).toEqual({
      MemoryHigh: 1000n,
      MemoryMax: SD_INFINITY,
      TasksMax: 7n,
      CPUWeight: 50n,
      CPUQuotaPeriodUSec: 100000n,
      CPUQuotaPerSecUSec: 200000n,
    });
    expect(() => unifiedProperties({ 'memory.max': 'lots' }, 252)).toThrow(ConfigError);
  });

  it('reads systemd versions', () => {
    expect(parseSystemdVersion('252.39-1~deb12u2')).toBe(252);
    expect(parseSystemdVersion('v245.4-1.fc32')).toBe(245);
    expect(parseSystemdVersion('')).toBe(0);
  });
});

describe('device rules as DevicePolicy/DeviceAllow', () => {
  const procDevices = 'Character devices:\n  1 mem\n  4 tty\n136 pts\n\nBlock devices:\n  8 sd\n259 blkext\n';
  const opts = (warnings: string[] = []) => ({ warn: (m: string) => warnings.push(m), procDevices, deviceExists: (p: string) => p !== '/dev/char/1:99' });

  it('reduces rules as the devices emulator does', () => {
    const rules: LinuxDeviceCgroup[] = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'm' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 5, access: 'w' },
      { allow: true, type: 'c', major: 1, minor: 7, access: 'r' },
      { allow: false, type: 'c', major: 1, minor: 7, access: 'r' },
    ];
    const r = reduceDeviceRules(rules);
    expect(r.defaultAllow).toBe(false);
    expect(r.entries.map((e) => [e.type, e.major, e.minor, [...e.perms].sort().join('')])).toEqual([
      ['c', 1, 3, 'mrw'],
      ['c', 1, 5, 'mr'],
    ]);
  });

  it('gives a strict allow list: paths, device groups for major:*, type globs for *:*', () => {
    const warnings: string[] = [];
    const p = deviceProperties([{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES, { allow: true, type: 'b', major: 8, minor: -1, access: 'r' }], opts(warnings));
    expect(byName(p)).toEqual({
      DevicePolicy: 'strict',
      DeviceAllow: [
        ['char-*', 'm'],
        ['block-*', 'm'],
        ['/dev/char/1:3', 'rwm'],
        ['/dev/char/1:8', 'rwm'],
        ['/dev/char/1:7', 'rwm'],
        ['/dev/char/5:0', 'rwm'],
        ['/dev/char/1:5', 'rwm'],
        ['/dev/char/1:9', 'rwm'],
        ['char-pts', 'rwm'],
        ['/dev/char/5:2', 'rwm'],
        ['/dev/char/10:200', 'rwm'],
        ['block-sd', 'r'],
      ],
    });
    expect(sigs(p).DeviceAllow).toBe('a(ss)');
    expect(warnings).toEqual([]);
  });

  it('skips what systemd cannot express, with a warning', () => {
    const warnings: string[] = [];
    const p = deviceProperties(
      [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: -1, minor: 3, access: 'r' },
        { allow: true, type: 'c', major: 99, minor: -1, access: 'r' },
        { allow: true, type: 'c', major: 1, minor: 99, access: 'r' },
      ],
      opts(warnings),
    );
    expect(byName(p).DeviceAllow).toEqual([]);
    expect(warnings).toHaveLength(3);
  });

  it('allow-all is DevicePolicy=auto; a deny list becomes deny-all with a warning', () => {
    expect(byName(deviceProperties([{ allow: true, access: 'rwm' }], opts()))).toEqual({ DevicePolicy: 'auto', DeviceAllow: [] });
    const warnings: string[] = [];
    expect(byName(deviceProperties([{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' }], opts(warnings)))).toEqual({
      DevicePolicy: 'strict',
      DeviceAllow: [],
    });
    expect(warnings).toHaveLength(1);
  });

  it('finds device groups by type and major', () => {
    expect(deviceGroup(procDevices, 'c', 136)).toBe('pts');
    expect(deviceGroup(procDevices, 'b', 8)).toBe('sd');
    expect(deviceGroup(procDevices, 'b', 1)).toBeUndefined();
  });

  it('leaves devices alone when no rules are given (update)', () => {
    expect(resourceProperties({ memory: { limit: 1 } }, { version: 2, systemdVersion: 252, warn: () => {} }).map((p) => p.name)).toEqual(['MemoryMax']);
  });
});

describe('bus address', () => {
  it('uses the system bus as root and the user bus rootless', () => {
    expect(busAddress(false, {})).toBe('unix:path=/run/dbus/system_bus_socket');
    expect(busAddress(false, { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/x' })).toBe('unix:path=/x');
    expect(busAddress(true, { XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('unix:path=/run/user/1000/bus');
    expect(busAddress(true, { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/s' })).toBe('unix:path=/s');
  });
});
