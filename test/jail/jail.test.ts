import { describe, expect, it } from 'vitest';
import { buildJailSpec, parseCpus, parseExposed, parseUidSpec, type JailOptions } from '../../src/jail/jail';

const base: JailOptions = { args: ['busybox', 'httpd', '-f'], ro: [], rw: [], caps: [], env: [] };
const host = { exists: (p: string) => ['/usr', '/etc', '/opt', '/srv/www', '/data', '/etc/shadow'].includes(p) };

describe('tsrun jail config', () => {
  it('builds a read-only host view with private /tmp and no capabilities', () => {
    const s = buildJailSpec(base, '/tmp/j/rootfs', host);
    expect(s.root).toEqual({ path: '/tmp/j/rootfs', readonly: true });
    expect(s.process!.noNewPrivileges).toBe(true);
    expect(s.process!.capabilities!.bounding).toEqual([]);
    const binds = s.mounts!.filter((m) => m.type === 'bind').map((m) => [m.destination, m.options]);
    expect(binds).toEqual([
      ['/usr', ['rbind', 'ro', 'nosuid', 'nodev']],
      ['/etc', ['rbind', 'ro', 'nosuid', 'nodev']],
      ['/opt', ['rbind', 'ro', 'nosuid', 'nodev']],
    ]);
    expect(s.mounts!.find((m) => m.destination === '/tmp')!.type).toBe('tmpfs');
    expect(s.linux!.namespaces!.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    expect(s.linux!.maskedPaths).toContain('/etc/shadow');
    expect(s.linux!.maskedPaths).not.toContain('/etc/gshadow'); // not on this "host"
    expect(s.linux!.sysctl!['net.ipv4.ip_unprivileged_port_start']).toBe('0');
  });

  it('exposes paths read-only or writable', () => {
    const s = buildJailSpec({ ...base, ro: ['/srv/www:/www'], rw: ['/data'] }, '/r', host);
    expect(s.mounts!.find((m) => m.destination === '/www')).toMatchObject({ source: '/srv/www', options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    expect(s.mounts!.find((m) => m.destination === '/data')).toMatchObject({ source: '/data', options: ['rbind', 'rw', 'nosuid', 'nodev'] });
    expect(() => buildJailSpec({ ...base, ro: ['/nope'] }, '/r', host)).toThrow(/--ro \/nope: no such file/);
    expect(() => parseExposed('/a:rel', true)).toThrow(/invalid --rw/);
  });

  it('maps --uid into a user namespace', () => {
    const s = buildJailSpec({ ...base, uid: '1000:1001' }, '/r', host);
    expect(s.linux!.namespaces!.some((n) => n.type === 'user')).toBe(true);
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(s.mounts!.find((m) => m.type === 'devpts')!.options).not.toContain('gid=5');
    expect(parseUidSpec('7')).toEqual({ uid: 7, gid: 7 });
    expect(() => parseUidSpec('bob')).toThrow(/invalid --uid/);
  });

  it('sets limits and capabilities', () => {
    const s = buildJailSpec({ ...base, memory: '256m', cpus: '0.5', pids: 64, caps: ['net_raw', 'CAP_CHOWN'] }, '/r', host);
    expect(s.linux!.resources!.memory).toEqual({ limit: 256 * 1024 * 1024 });
    expect(s.linux!.resources!.cpu).toEqual({ quota: 50000, period: 100000 });
    expect(s.linux!.resources!.pids).toEqual({ limit: 64 });
    expect(s.process!.capabilities!.effective).toEqual(['CAP_NET_RAW', 'CAP_CHOWN']);
    expect(() => parseCpus('0')).toThrow(/invalid --cpus/);
    expect(() => buildJailSpec({ ...base, memory: 'lots' }, '/r', host)).toThrow(/invalid size/);
  });

  it('needs a program', () => {
    expect(() => buildJailSpec({ ...base, args: [] }, '/r', host)).toThrow(/which program/);
  });
});
