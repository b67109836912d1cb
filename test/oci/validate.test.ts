import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { RLIM_INFINITY, UINT64_MAX, parseConfig, u64ToBigInt, validateSpec } from '../../src/oci/validate';
import { dockerish, minimal, rootless, VALID_SAMPLES } from './samples';

type Cfg = Record<string, any>;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, got success');
}

function rejectWith(mutate: (c: Cfg) => void, base: () => Cfg = minimal): string {
  const c = base();
  mutate(c);
  const msg = errorOf(() => parseConfig(JSON.stringify(c))).message;
  expect(msg).not.toContain('\n');
  return msg;
}

describe('parseConfig: good input', () => {
  for (const [name, make] of Object.entries(VALID_SAMPLES)) {
    it(`accepts the ${name} sample`, () => {
      const spec = parseConfig(JSON.stringify(make(), null, 2));
      expect(spec.ociVersion).toMatch(/^1\./);
      expect(spec.root?.path).toBeTruthy();
    });
  }

  it('keeps values and ignores unknown properties', () => {
    const spec = parseConfig(JSON.stringify(dockerish()));
    expect(spec.process?.args).toEqual(['/usr/sbin/nginx', '-g', 'daemon off;']);
    expect(spec.linux?.resources?.memory?.limit).toBe(536870912);
    expect(spec.linux?.namespaces?.[1]).toEqual({ type: 'network', path: '/var/run/netns/web' });
    const withExtra = parseConfig(JSON.stringify({ ...minimal(), someFutureThing: { x: 1 } }));
    expect((withExtra as any).someFutureThing).toEqual({ x: 1 });
  });

  it('accepts a relative mount destination (like runc)', () => {
    const c = minimal();
    c.mounts = [{ destination: 'tmp', type: 'tmpfs', source: 'tmpfs' }];
    expect(parseConfig(JSON.stringify(c)).mounts?.[0]?.destination).toBe('tmp');
  });

  it('normalises 2^64-1 rlimits to RLIM_INFINITY', () => {
    const text = JSON.stringify(minimal()).replace(
      '"cwd":"/"',
      '"cwd":"/","rlimits":[{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615},' +
        '{"type":"RLIMIT_NOFILE","soft":9007199254740991,"hard":18446744073709551615}]',
    );
    const spec = parseConfig(text);
    const [core, nofile] = spec.process!.rlimits!;
    expect(core!.soft).toBe(RLIM_INFINITY);
    expect(core!.hard).toBe(UINT64_MAX);
    expect(u64ToBigInt(core!.hard)).toBe(0xffffffffffffffffn);
    expect(nofile!.soft).toBe(Number.MAX_SAFE_INTEGER);
    expect(u64ToBigInt(nofile!.soft)).toBe(9007199254740991n);
    // Round-trips through JSON.
    expect(parseConfig(JSON.stringify(spec)).process!.rlimits![0]!.soft).toBe(RLIM_INFINITY);
  });

  it('normalises 2^64-1 in other uint64 fields', () => {
    const c = minimal();
    const text = JSON.stringify(c).replace(
      '"namespaces"',
      '"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]},"namespaces"',
    );
    expect(parseConfig(text).linux!.seccomp!.syscalls![0]!.args![0]!.value).toBe(UINT64_MAX);
  });

  it('fills in a missing process.user and uid/gid with 0 and drops nulls', () => {
    const c = minimal();
    delete c.process.user;
    c.hostname = null;
    expect(parseConfig(JSON.stringify(c)).process!.user).toEqual({ uid: 0, gid: 0 });
    const d = minimal();
    d.process.user = { additionalGids: [5] };
    expect(parseConfig(JSON.stringify(d)).process!.user).toEqual({ uid: 0, gid: 0, additionalGids: [5] });
    const e = parseConfig(JSON.stringify({ ...minimal(), hostname: null }));
    expect('hostname' in e).toBe(false);
  });

  it('accepts runc-style recursive rootfsPropagation and a missing linux section', () => {
    const c = minimal();
    c.linux.rootfsPropagation = 'rslave';
    expect(parseConfig(JSON.stringify(c)).linux?.rootfsPropagation).toBe('rslave');
    const d = minimal();
    delete d.linux;
    expect(() => parseConfig(JSON.stringify(d))).not.toThrow();
  });

  it('uses the given source name', () => {
    expect(errorOf(() => parseConfig('{}', '/b/config.json')).message).toBe('/b/config.json: ociVersion is required');
  });

  it('validateSpec accepts an already parsed object', () => {
    expect(validateSpec(rootless()).linux?.uidMappings).toHaveLength(2);
    expect(() => validateSpec('nope')).toThrow(/config\.json: must be a JSON object/);
    expect(() => validateSpec([])).toThrow(/must be a JSON object/);
  });
});

describe('parseConfig: invalid JSON', () => {
  const cases: [string, RegExp][] = [
    ['', /^config\.json: invalid JSON: unexpected end of input, expected a value at line 1 column 1/],
    ['{"ociVersion": "1.0.0",}', /^config\.json: invalid JSON: unexpected "}", expected a double-quoted property name at line 1 column 24/],
    ['{\n  "a": 1,\n  "b": }\n', /invalid JSON: unexpected "}", expected a value at line 3 column 8/],
    ['{"a" 1}', /unexpected "1", expected ':' after property name at line 1 column 6/],
    ['{"a": [1, 2}', /expected ',' or '\]' after array element at line 1 column 12/],
    ['{"a": 1} x', /expected end of input after the JSON value at line 1 column 10/],
    ['{"a": "x\ny"}', /control character in string at line 1 column 9/],
    ['{"a": tru}', /unexpected "t", expected a value at line 1 column 7/],
    ['{"a": "\\q"}', /bad escape in string/],
    ['{"a": -}', /unexpected "-", expected a value/],
    ['{"a": 01}', /expected ',' or '}' after property value at line 1 column 8/],
    ['{"a": "abc', /unexpected end of input, expected '"' to end the string/],
  ];
  for (const [text, re] of cases) {
    it(`reports ${JSON.stringify(text)}`, () => {
      const err = errorOf(() => parseConfig(text));
      expect(err.message).toMatch(re);
      expect(err.message).not.toContain('\n');
      expect(err.cause).toBeInstanceOf(SyntaxError);
    });
  }

  it('rejects JSON that is not an object', () => {
    expect(errorOf(() => parseConfig('[1]')).message).toBe('config.json: must be a JSON object');
    expect(errorOf(() => parseConfig('null')).message).toBe('config.json: must be a JSON object');
  });
});

describe('parseConfig: invalid configs name the path', () => {
  const cases: [string, (c: Cfg) => void, string | RegExp][] = [
    ['missing ociVersion', (c) => delete c.ociVersion, 'config.json: ociVersion is required'],
    ['numeric ociVersion', (c) => (c.ociVersion = 1), 'config.json: ociVersion must be a string'],
    ['non-semver ociVersion', (c) => (c.ociVersion = '1.0'), /ociVersion must be a semantic version/],
    ['major version 2', (c) => (c.ociVersion = '2.0.0'), 'config.json: unsupported ociVersion "2.0.0" (tsrun supports 1.x)'],
    ['major version 0', (c) => (c.ociVersion = '0.5.0'), /unsupported ociVersion "0.5.0"/],
    ['missing root', (c) => delete c.root, 'config.json: root.path is required'],
    ['root without path', (c) => (c.root = { readonly: true }), 'config.json: root.path is required'],
    ['root.path number', (c) => (c.root.path = 5), 'config.json: root.path must be a string'],
    ['root.readonly string', (c) => (c.root.readonly = 'yes'), 'config.json: root.readonly must be a boolean'],
    ['process not an object', (c) => (c.process = []), 'config.json: process must be an object'],
    ['process.args[1] number', (c) => (c.process.args = ['sh', 1]), 'config.json: process.args[1] must be a string'],
    ['empty process.args', (c) => (c.process.args = []), 'config.json: process.args must not be empty'],
    ['process.args not an array', (c) => (c.process.args = 'sh'), 'config.json: process.args must be an array'],
    ['missing cwd', (c) => delete c.process.cwd, 'config.json: process.cwd is required'],
    ['relative cwd', (c) => (c.process.cwd = 'home'), 'config.json: process.cwd must be an absolute path (got "home")'],
    ['env entry', (c) => (c.process.env = ['A=1', null]), 'config.json: process.env[1] must be a string'],
    ['terminal string', (c) => (c.process.terminal = 'true'), 'config.json: process.terminal must be a boolean'],
    ['negative uid', (c) => (c.process.user.uid = -1), 'config.json: process.user.uid must be a non-negative integer'],
    ['uid too large', (c) => (c.process.user.uid = 2 ** 32), 'config.json: process.user.uid must be at most 4294967295'],
    ['fractional gid', (c) => (c.process.user.gid = 1.5), 'config.json: process.user.gid must be a non-negative integer'],
    ['additionalGids item', (c) => (c.process.user.additionalGids = [1, '2']), 'config.json: process.user.additionalGids[1] must be a non-negative integer'],
    ['capabilities item', (c) => (c.process.capabilities = { bounding: [1] }), 'config.json: process.capabilities.bounding[0] must be a string'],
    ['consoleSize missing width', (c) => (c.process.consoleSize = { height: 1 }), 'config.json: process.consoleSize.width is required'],
    ['oomScoreAdj out of range', (c) => (c.process.oomScoreAdj = 1001), 'config.json: process.oomScoreAdj must be between -1000 and 1000'],
    ['scheduler policy', (c) => (c.process.scheduler = { policy: 'SCHED_FAST' }), /process\.scheduler\.policy must be one of "SCHED_OTHER"/],
    ['scheduler without policy', (c) => (c.process.scheduler = { nice: 1 }), 'config.json: process.scheduler.policy is required'],
    ['ioPriority class', (c) => (c.process.ioPriority = { class: 'RT' }), /process\.ioPriority\.class must be one of/],
    ['execCPUAffinity', (c) => (c.process.execCPUAffinity = { initial: 'all' }), /process\.execCPUAffinity\.initial must be a CPU list/],
    ['rlimit type', (c) => (c.process.rlimits = [{ type: 'NOFILE', soft: 1, hard: 1 }]), /process\.rlimits\[0\]\.type must be an RLIMIT_\* name/],
    ['rlimit negative', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: -1, hard: 1 }]), 'config.json: process.rlimits[0].soft must be a non-negative integer'],
    ['rlimit string', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: '1' }]), 'config.json: process.rlimits[0].hard must be a non-negative integer'],
    ['rlimit imprecise', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 ** 60 }]), /process\.rlimits\[0\]\.hard must be at most 9007199254740991, or 18446744073709551615 \(unlimited\)/],
    ['rlimit missing hard', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 }]), 'config.json: process.rlimits[0].hard is required'],
    ['rlimit soft > hard', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2, hard: 1 }]), 'config.json: process.rlimits[0] soft limit 2 exceeds hard limit 1'],
    ['rlimit twice', (c) => (c.process.rlimits = [{ type: 'RLIMIT_AS', soft: 1, hard: 1 }, { type: 'RLIMIT_AS', soft: 1, hard: 1 }]), 'config.json: process.rlimits has "RLIMIT_AS" twice ([0] and [1])'],
    ['hostname number', (c) => (c.hostname = 7), 'config.json: hostname must be a string'],
    ['mounts not an array', (c) => (c.mounts = {}), 'config.json: mounts must be an array'],
    ['mount without destination', (c) => (c.mounts = [{ type: 'proc' }]), 'config.json: mounts[0].destination is required'],
    ['mount destination number', (c) => (c.mounts = [{ destination: 1 }]), 'config.json: mounts[0].destination must be a string'],
    ['mount options', (c) => (c.mounts = [{ destination: '/x', options: 'ro' }]), 'config.json: mounts[0].options must be an array'],
    ['mount idmap size 0', (c) => (c.mounts = [{ destination: '/x', uidMappings: [{ containerID: 0, hostID: 0, size: 0 }] }]), 'config.json: mounts[0].uidMappings[0].size must be greater than 0'],
    ['hooks not object', (c) => (c.hooks = []), 'config.json: hooks must be an object'],
    ['hook relative path', (c) => (c.hooks = { poststart: [{ path: 'bin/hook' }] }), 'config.json: hooks.poststart[0].path must be an absolute path (got "bin/hook")'],
    ['hook without path', (c) => (c.hooks = { prestart: [{ args: [] }] }), 'config.json: hooks.prestart[0].path is required'],
    ['hook timeout 0', (c) => (c.hooks = { createRuntime: [{ path: '/h', timeout: 0 }] }), 'config.json: hooks.createRuntime[0].timeout must be a positive integer'],
    ['hook timeout fraction', (c) => (c.hooks = { poststop: [{ path: '/h', timeout: 1.5 }] }), 'config.json: hooks.poststop[0].timeout must be a positive integer'],
    ['annotation value', (c) => (c.annotations = { 'org.example.x': 1 }), 'config.json: annotations["org.example.x"] must be a string'],
    ['annotations array', (c) => (c.annotations = ['a']), 'config.json: annotations must be an object'],
    ['linux not object', (c) => (c.linux = 'yes'), 'config.json: linux must be an object'],
    ['namespace type', (c) => (c.linux.namespaces = [{ type: 'net' }]), /^config\.json: linux\.namespaces\[0\]\.type must be one of "pid", "network", .* \(got "net"\)$/],
    ['namespace without type', (c) => (c.linux.namespaces = [{ path: '/proc/1/ns/net' }]), 'config.json: linux.namespaces[0].type is required'],
    ['duplicate namespace', (c) => (c.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'pid' }]), 'config.json: linux.namespaces has "pid" twice'],
    ['namespace relative path', (c) => (c.linux.namespaces = [{ type: 'network', path: 'netns' }]), 'config.json: linux.namespaces[0].path must be an absolute path (got "netns")'],
    ['uid mapping size type', (c) => { c.linux.namespaces.push({ type: 'user' }); c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: '1' }]; }, 'config.json: linux.uidMappings[0].size must be a non-negative integer'],
    ['uid mapping size 0', (c) => { c.linux.namespaces.push({ type: 'user' }); c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }]; }, 'config.json: linux.uidMappings[0].size must be greater than 0'],
    ['uid mapping missing hostID', (c) => { c.linux.namespaces.push({ type: 'user' }); c.linux.uidMappings = [{ containerID: 0, size: 1 }]; }, 'config.json: linux.uidMappings[0].hostID is required'],
    ['gid mapping overflow', (c) => { c.linux.namespaces.push({ type: 'user' }); c.linux.gidMappings = [{ containerID: 4294967295, hostID: 0, size: 2 }]; }, /^config\.json: linux\.gidMappings\[0\] containerID \+ size overflows 2\^32/],
    ['host range overflow', (c) => { c.linux.namespaces.push({ type: 'user' }); c.linux.gidMappings = [{ containerID: 0, hostID: 4294967000, size: 1000 }]; }, /linux\.gidMappings\[0\] hostID \+ size overflows 2\^32/],
    ['overlapping container ranges', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 5, hostID: 2000, size: 10 }];
    }, 'config.json: linux.uidMappings[1] container ID range overlaps linux.uidMappings[0]'],
    ['overlapping host ranges', (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 100, hostID: 1009, size: 1 }];
    }, 'config.json: linux.uidMappings[1] host ID range overlaps linux.uidMappings[0]'],
    ['mappings without user namespace', (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), 'config.json: linux.uidMappings are set but linux.namespaces has no "user" namespace'],
    ['device type', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 1 }]), /linux\.devices\[0\]\.type must be one of "c", "b", "u", "p" \(got "x"\)/],
    ['device without major', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'c', minor: 1 }]), 'config.json: linux.devices[0].major is required for device type "c"'],
    ['device without minor', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'b', major: 1 }]), 'config.json: linux.devices[0].minor is required for device type "b"'],
    ['device without path', (c) => (c.linux.devices = [{ type: 'p' }]), 'config.json: linux.devices[0].path is required'],
    ['device fileMode', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'p', fileMode: 70000 }]), 'config.json: linux.devices[0].fileMode must be at most 65535'],
    ['sysctl value', (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'config.json: linux.sysctl["net.ipv4.ip_forward"] must be a string'],
    ['cgroup device allow', (c) => (c.linux.resources = { devices: [{ access: 'rwm' }] }), 'config.json: linux.resources.devices[0].allow is required'],
    ['cgroup device access', (c) => (c.linux.resources = { devices: [{ allow: true, access: 'rw-' }] }), /linux\.resources\.devices\[0\]\.access must be letters/],
    ['memory limit string', (c) => (c.linux.resources = { memory: { limit: '1G' } }), 'config.json: linux.resources.memory.limit must be an integer'],
    ['cpu shares negative', (c) => (c.linux.resources = { cpu: { shares: -2 } }), 'config.json: linux.resources.cpu.shares must be a non-negative integer'],
    ['pids without limit', (c) => (c.linux.resources = { pids: {} }), 'config.json: linux.resources.pids.limit is required'],
    ['blkio weight', (c) => (c.linux.resources = { blockIO: { weight: 70000 } }), 'config.json: linux.resources.blockIO.weight must be at most 65535'],
    ['throttle without minor', (c) => (c.linux.resources = { blockIO: { throttleReadBpsDevice: [{ major: 8, rate: 1 }] } }), 'config.json: linux.resources.blockIO.throttleReadBpsDevice[0].minor is required'],
    ['hugepage size', (c) => (c.linux.resources = { hugepageLimits: [{ pageSize: '2M', limit: 1 }] }), /linux\.resources\.hugepageLimits\[0\]\.pageSize must be a page size/],
    ['rdma', (c) => (c.linux.resources = { rdma: { mlx: { hcaHandles: -1 } } }), 'config.json: linux.resources.rdma.mlx.hcaHandles must be a non-negative integer'],
    ['unified value', (c) => (c.linux.resources = { unified: { 'memory.max': 5 } }), 'config.json: linux.resources.unified["memory.max"] must be a string'],
    ['network priority', (c) => (c.linux.resources = { network: { priorities: [{ name: 'eth0' }] } }), 'config.json: linux.resources.network.priorities[0].priority is required'],
    ['seccomp without defaultAction', (c) => (c.linux.seccomp = { syscalls: [] }), 'config.json: linux.seccomp.defaultAction is required'],
    ['seccomp action', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_DENY' }), /linux\.seccomp\.defaultAction must be one of "SCMP_ACT_KILL"/],
    ['seccomp syscall action', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'allow' }] }), /linux\.seccomp\.syscalls\[0\]\.action must be one of/],
    ['seccomp empty names', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_LOG' }] }), 'config.json: linux.seccomp.syscalls[0].names must not be empty'],
    ['seccomp op', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 1, op: 'EQ' }] }] }), /linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op must be one of "SCMP_CMP_NE"/],
    ['seccomp arg value', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] }), 'config.json: linux.seccomp.syscalls[0].args[0].value must be a non-negative integer'],
    ['seccomp flag', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['TSYNC'] }), /linux\.seccomp\.flags\[0\] must be one of "SECCOMP_FILTER_FLAG_TSYNC"/],
    ['seccomp arch', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['x86_64'] }), /linux\.seccomp\.architectures\[0\] must be one of/],
    ['seccomp listenerPath', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: 5 }), 'config.json: linux.seccomp.listenerPath must be a string'],
    ['rootfsPropagation', (c) => (c.linux.rootfsPropagation = 'none'), /linux\.rootfsPropagation must be one of/],
    ['maskedPaths item', (c) => (c.linux.maskedPaths = [1]), 'config.json: linux.maskedPaths[0] must be a string'],
    ['personality domain', (c) => (c.linux.personality = { domain: 'WIN32' }), /linux\.personality\.domain must be one of "LINUX", "LINUX32"/],
    ['intelRdt memBwSchema', (c) => (c.linux.intelRdt = { memBwSchema: 'L3:0=1' }), /linux\.intelRdt\.memBwSchema must be a schema line/],
    ['timeOffsets', (c) => (c.linux.timeOffsets = { boottime: { nanosecs: -1 } }), 'config.json: linux.timeOffsets.boottime.nanosecs must be a non-negative integer'],
    ['memoryPolicy mode', (c) => (c.linux.memoryPolicy = { mode: 'BIND' }), /linux\.memoryPolicy\.mode must be one of/],
    ['cgroupsPath', (c) => (c.linux.cgroupsPath = ['a']), 'config.json: linux.cgroupsPath must be a string'],
  ];
  for (const [name, mutate, expected] of cases) {
    it(name, () => {
      const msg = rejectWith(mutate);
      if (typeof expected === 'string') expect(msg).toBe(expected);
      else expect(msg).toMatch(expected);
    });
  }

  it('reports the error in a larger config', () => {
    expect(rejectWith((c) => (c.linux.resources.blockIO.weightDevice[0].weight = 'x'), dockerish)).toBe(
      'config.json: linux.resources.blockIO.weightDevice[0].weight must be a non-negative integer',
    );
    expect(rejectWith((c) => (c.linux.seccomp.syscalls[2].args[0].index = -1), dockerish)).toBe(
      'config.json: linux.seccomp.syscalls[2].args[0].index must be a non-negative integer',
    );
  });

  it('validates a 340-entry mapping and rejects 341', () => {
    const maps = (n: number) => Array.from({ length: n }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }));
    const c = rootless();
    c.linux.uidMappings = maps(340);
    expect(() => validateSpec(c)).not.toThrow();
    const d = rootless();
    d.linux.uidMappings = maps(341);
    expect(() => validateSpec(d)).toThrow('config.json: linux.uidMappings has 341 entries (the kernel allows at most 340)');
  });

  it('is fast enough to run on every create', () => {
    const text = JSON.stringify(dockerish());
    const start = performance.now();
    for (let i = 0; i < 1000; i++) parseConfig(text);
    expect((performance.now() - start) / 1000).toBeLessThan(1); // ms per parse
  });
});
