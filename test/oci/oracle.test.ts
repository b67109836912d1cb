// The official schema as an oracle: samples it accepts must pass parseConfig, samples it
// rejects must fail parseConfig too (each rejection is first confirmed by the schema).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { parseConfig } from '../../src/oci/validate';
import { loadOracle } from './schema';
import { dockerish, minimal, rootless, realtime, VALID_SAMPLES } from './samples';

const oracle = loadOracle();
type Cfg = Record<string, any>;

function mutated(base: () => Cfg, fn: (c: Cfg) => void): Cfg {
  const c = base();
  fn(c);
  return c;
}

describe('schema-valid configs pass parseConfig', () => {
  for (const [name, make] of Object.entries(VALID_SAMPLES)) {
    it(name, () => {
      const c = make();
      expect(oracle.config(c), oracle.errors(oracle.config)).toBe(true);
      expect(() => parseConfig(JSON.stringify(c))).not.toThrow();
    });
  }
});

const INVALID: [string, Cfg][] = [
  ['no ociVersion', mutated(minimal, (c) => delete c.ociVersion)],
  ['ociVersion number', mutated(minimal, (c) => (c.ociVersion = 1.1))],
  ['root.path missing', mutated(minimal, (c) => (c.root = {}))],
  ['process.cwd missing', mutated(minimal, (c) => delete c.process.cwd)],
  ['process.args item', mutated(minimal, (c) => (c.process.args = ['a', 2]))],
  ['process.user.uid negative', mutated(minimal, (c) => (c.process.user.uid = -5))],
  ['process.user.gid string', mutated(minimal, (c) => (c.process.user.gid = '0'))],
  ['rlimit type pattern', mutated(dockerish, (c) => (c.process.rlimits[0].type = 'rlimit_nofile'))],
  ['rlimit soft missing', mutated(dockerish, (c) => delete c.process.rlimits[1].soft)],
  ['ioPriority class', mutated(dockerish, (c) => (c.process.ioPriority.class = 'IOPRIO_CLASS_NONE'))],
  ['scheduler flag', mutated(realtime, (c) => (c.process.scheduler.flags = ['SCHED_FLAG_FAST']))],
  ['execCPUAffinity', mutated(dockerish, (c) => (c.process.execCPUAffinity.final = 'x'))],
  ['consoleSize negative', mutated(dockerish, (c) => (c.process.consoleSize.height = -1))],
  ['mount without destination', mutated(dockerish, (c) => delete c.mounts[1].destination)],
  ['mount options string', mutated(dockerish, (c) => (c.mounts[0].options = 'ro'))],
  ['mount idmap missing size', mutated(dockerish, (c) => delete c.mounts[4].uidMappings[0].size)],
  ['hook timeout 0', mutated(dockerish, (c) => (c.hooks.createRuntime[0].timeout = 0))],
  ['hook without path', mutated(dockerish, (c) => delete c.hooks.poststop[0].path)],
  ['annotation number', mutated(dockerish, (c) => (c.annotations['x.y'] = 5))],
  ['namespace type', mutated(minimal, (c) => (c.linux.namespaces[0].type = 'process'))],
  ['uidMapping hostID too big', mutated(rootless, (c) => (c.linux.uidMappings[1].hostID = 2 ** 32))],
  ['gidMapping containerID missing', mutated(rootless, (c) => delete c.linux.gidMappings[0].containerID)],
  ['device type', mutated(dockerish, (c) => (c.linux.devices[0].type = 'char'))],
  // fileMode above 0o777 is schema-invalid but accepted on purpose (podman sends a whole st_mode, runc takes it).
  ['device fileMode', mutated(dockerish, (c) => (c.linux.devices[0].fileMode = -1))],
  ['device path missing', mutated(dockerish, (c) => delete c.linux.devices[1].path)],
  ['cgroup device allow missing', mutated(dockerish, (c) => delete c.linux.resources.devices[1].allow)],
  ['memory limit fraction', mutated(dockerish, (c) => (c.linux.resources.memory.limit = 1.5))],
  ['memory swappiness negative', mutated(dockerish, (c) => (c.linux.resources.memory.swappiness = -1))],
  ['pids limit string', mutated(dockerish, (c) => (c.linux.resources.pids.limit = 'max'))],
  ['blkio weight too big', mutated(dockerish, (c) => (c.linux.resources.blockIO.weight = 65536))],
  ['hugepage pageSize', mutated(dockerish, (c) => (c.linux.resources.hugepageLimits[0].pageSize = '2mb'))],
  ['network classID', mutated(dockerish, (c) => (c.linux.resources.network.classID = -1))],
  ['rdma handles', mutated(dockerish, (c) => (c.linux.resources.rdma.mlx5_1.hcaHandles = 'many'))],
  ['unified value', mutated(dockerish, (c) => (c.linux.resources.unified['memory.high'] = 5))],
  ['sysctl value', mutated(dockerish, (c) => (c.linux.sysctl['kernel.msgmax'] = 65536))],
  ['seccomp no defaultAction', mutated(rootless, (c) => delete c.linux.seccomp.defaultAction)],
  ['seccomp defaultAction', mutated(rootless, (c) => (c.linux.seccomp.defaultAction = 'SCMP_ACT_PERMIT'))],
  ['seccomp arch', mutated(dockerish, (c) => (c.linux.seccomp.architectures = ['amd64']))],
  ['seccomp flag', mutated(dockerish, (c) => (c.linux.seccomp.flags = ['SECCOMP_FILTER_FLAG_NEW_LISTENER']))],
  ['seccomp syscall names empty', mutated(dockerish, (c) => (c.linux.seccomp.syscalls[0].names = []))],
  ['seccomp syscall action missing', mutated(dockerish, (c) => delete c.linux.seccomp.syscalls[0].action)],
  ['seccomp arg op', mutated(dockerish, (c) => (c.linux.seccomp.syscalls[1].args[0].op = '=='))],
  ['seccomp arg index missing', mutated(dockerish, (c) => delete c.linux.seccomp.syscalls[1].args[0].index)],
  ['rootfsPropagation', mutated(dockerish, (c) => (c.linux.rootfsPropagation = 'recursive'))],
  ['maskedPaths string', mutated(dockerish, (c) => (c.linux.maskedPaths = '/proc/kcore'))],
  ['intelRdt memBwSchema', mutated(dockerish, (c) => (c.linux.intelRdt.memBwSchema = 'L3:0=1'))],
  ['personality domain', mutated(dockerish, (c) => (c.linux.personality.domain = 'LINUX64'))],
  ['timeOffsets secs', mutated(dockerish, (c) => (c.linux.timeOffsets.monotonic.secs = 'soon'))],
  ['memoryPolicy flag', mutated(realtime, (c) => (c.linux.memoryPolicy.flags = ['MPOL_F_NOPE']))],
  ['hostname number', mutated(dockerish, (c) => (c.hostname = 42))],
  ['linux not an object', mutated(minimal, (c) => (c.linux = [1]))],
];

describe('schema-invalid configs are rejected by both', () => {
  for (const [name, c] of INVALID) {
    it(name, () => {
      expect(oracle.config(c), `the schema accepted the "${name}" sample`).toBe(false);
      const text = JSON.stringify(c);
      expect(() => parseConfig(text)).toThrow(ConfigError);
      // The message names a JSON path (or the version problem) on one line.
      const msg = (() => {
        try {
          parseConfig(text);
        } catch (e) {
          return (e as Error).message;
        }
        return '';
      })();
      expect(msg).toMatch(/^config\.json: \S/);
      expect(msg).not.toContain('\n');
    });
  }
});
