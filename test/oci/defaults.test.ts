import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/oci/defaults';
import { parseConfig, validateSpec } from '../../src/oci/validate';
import { loadOracle } from './schema';

const oracle = loadOracle();

describe('defaultSpec', () => {
  it('writes the runc example config', () => {
    const s = defaultSpec({});
    expect(s.ociVersion).toBe('1.3.0');
    expect(s.process).toMatchObject({
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      cwd: '/',
      noNewPrivileges: true,
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    });
    expect(s.process!.capabilities!.bounding).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    expect(s.process!.capabilities!.inheritable).toBeUndefined();
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
    expect(s.hostname).toBe('tsrun');
    expect(s.mounts!.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    expect(s.mounts![2]!.options).toContain('gid=5');
    expect(s.mounts![5]).toEqual({ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(s.linux!.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
    expect(s.linux!.maskedPaths).toHaveLength(10);
    expect(s.linux!.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(s.linux!.uidMappings).toBeUndefined();
  });

  it('returns a fresh object each time', () => {
    const a = defaultSpec({});
    a.mounts![0]!.destination = '/changed';
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    const b = defaultSpec({});
    expect(b.mounts![0]!.destination).toBe('/proc');
    expect(b.process!.capabilities!.bounding).toHaveLength(3);
  });

  it('converts for rootless use like runc spec --rootless', () => {
    const s = defaultSpec({ rootless: true, uid: 1000, gid: 1001 });
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(s.linux!.resources).toBeUndefined();
    const pts = s.mounts!.find((m) => m.destination === '/dev/pts')!;
    expect(pts.options).toEqual(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']);
    const sys = s.mounts!.find((m) => m.destination === '/sys')!;
    expect(sys).toEqual({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    expect(s.mounts!.find((m) => m.destination === '/sys/fs/cgroup')?.type).toBe('cgroup');
    expect(s.mounts).toHaveLength(7);
  });

  it('defaults the rootless mapping to the current ids', () => {
    const s = defaultSpec({ rootless: true });
    expect(s.linux!.uidMappings![0]!.hostID).toBe(process.geteuid!());
    expect(s.linux!.gidMappings![0]!.hostID).toBe(process.getegid!());
  });

  for (const [name, opts] of [
    ['default', {}],
    ['rootless', { rootless: true, uid: 1000, gid: 1000 }],
  ] as const) {
    it(`${name} spec is valid against the official schema and our validator`, () => {
      const s = defaultSpec(opts);
      const json = JSON.parse(JSON.stringify(s));
      expect(oracle.config(json), oracle.errors(oracle.config)).toBe(true);
      expect(() => validateSpec(json)).not.toThrow();
      expect(parseConfig(JSON.stringify(s, null, 2))).toEqual(s);
    });
  }
});
