// `tsrun jail`: one program isolated without a hand-written bundle. The OCI
// config is built in memory from a few flags (buildJailSpec, pure), written
// to a temporary bundle, and run in the foreground through the ordinary
// lifecycle (Runtime.run); the container and the bundle go when it exits.
//
// The jail: new pid, mount, ipc, uts, cgroup and network namespaces (and a
// user namespace with --uid); a read-only root made of the host's /usr,
// /etc and the /bin, /sbin, /lib* links or directories (or --rootfs DIR);
// private /tmp, /run, /dev; /proc of its own; secrets under /etc masked;
// every capability dropped unless kept with --cap; no new privileges;
// binding low ports allowed inside its own network namespace (as docker
// does), so a daemon needs no capability to listen on port 80.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors';
import type { Mount, Spec } from '../oci/types';
import { defaultProfile } from '../seccomp/default-profile';
import { parseMemoryBytes } from '../cgroups/memory-size';
import { parsePublish } from '../network/publish';

export interface JailOptions {
  /** The program and its arguments. */
  args: string[];
  /** A root filesystem directory; undefined: the read-only host view. */
  rootfs?: string;
  /** Host paths exposed read-only / writable: "SRC" or "SRC:DEST". */
  ro: string[];
  rw: string[];
  /** "UID[:GID]": a user namespace whose root is this host uid. */
  uid?: string;
  memory?: string;
  cpus?: string;
  pids?: number;
  /** Capabilities kept (default none). */
  caps: string[];
  env: string[];
  cwd?: string;
  hostname?: string;
  tty?: boolean;
}

/** Host directories the default view exposes (read-only), when present. */
export const HOST_VIEW = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt'];

/** Host secrets hidden even though /etc is exposed. */
export const MASKED_SECRETS = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers', '/etc/sudoers.d', '/etc/ssh', '/etc/ssl/private', '/etc/tsrun'];

const ALL_MASKED = ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface ExposedPath {
  source: string;
  destination: string;
  writable: boolean;
}

export function parseExposed(spec: string, writable: boolean): ExposedPath {
  const flag = writable ? '--rw' : '--ro';
  const i = spec.indexOf(':');
  const source = i < 0 ? spec : spec.slice(0, i);
  const destination = i < 0 ? spec : spec.slice(i + 1);
  if (!source || !isAbsolute(destination)) throw new InvalidArgumentError(`invalid ${flag} "${spec}": expected HOST_PATH or HOST_PATH:/PATH/IN/JAIL`);
  if (destination.split('/').includes('..')) throw new InvalidArgumentError(`invalid ${flag} "${spec}": ".." in the destination`);
  return { source: resolve(source), destination: resolve(destination), writable };
}

export function parseUidSpec(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid --uid "${text}": expected UID or UID:GID (host ids)`);
  const uid = Number(m[1]);
  const gid = m[2] !== undefined ? Number(m[2]) : uid;
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new InvalidArgumentError(`invalid --uid "${text}": id out of range`);
  return { uid, gid };
}

export function normaliseCap(name: string): string {
  const n = name.trim().toUpperCase();
  const full = n.startsWith('CAP_') ? n : `CAP_${n}`;
  if (!/^CAP_[A-Z_]+$/.test(full)) throw new InvalidArgumentError(`invalid --cap "${name}"`);
  return full;
}

export function parseCpus(text: string): { quota: number; period: number } {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new InvalidArgumentError(`invalid --cpus "${text}": expected a positive number such as 0.5 or 2`);
  const period = 100000;
  return { quota: Math.max(1000, Math.round(Number(text) * period)), period };
}

/** The jail's config.json; `rootfs` is the root directory to record. */
export function buildJailSpec(o: JailOptions, rootfs: string, host: { exists: (p: string) => boolean } = { exists: existsSync }): Spec {
  if (o.args.length === 0) throw new InvalidArgumentError('tsrun jail: which program? (usage: tsrun jail [options] PROGRAM [ARGS...])');
  const ids = o.uid !== undefined ? parseUidSpec(o.uid) : undefined;
  const exposed = [...o.ro.map((s) => parseExposed(s, false)), ...o.rw.map((s) => parseExposed(s, true))];
  const caps = [...new Set(o.caps.map(normaliseCap))];
  for (const e of o.env) if (!/^[^=]+=/.test(e)) throw new InvalidArgumentError(`invalid --env "${e}": expected NAME=VALUE`);

  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(ids ? [] : ['gid=5'])] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=262144k'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755', 'size=65536k'] },
  ];
  if (!o.rootfs) {
    for (const d of HOST_VIEW) {
      if (!host.exists(d) || isSymlink(d)) continue; // links are recreated in the root (jailRootfs)
      mounts.push({ destination: d, type: 'bind', source: d, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    }
  }
  for (const e of exposed) {
    if (!host.exists(e.source)) throw new InvalidArgumentError(`${e.writable ? '--rw' : '--ro'} ${e.source}: no such file or directory on the host`);
    mounts.push({ destination: e.destination, type: 'bind', source: e.source, options: ['rbind', e.writable ? 'rw' : 'ro', 'nosuid', 'nodev'] });
  }

  const memory = o.memory !== undefined ? parseMemoryBytes(o.memory) : undefined;
  if (memory !== undefined && memory !== -1 && memory < 4 * 1024 * 1024) throw new InvalidArgumentError(`--memory ${o.memory}: at least 4m`);
  const cpu = o.cpus !== undefined ? parseCpus(o.cpus) : undefined;
  if (o.pids !== undefined && !(o.pids > 0)) throw new InvalidArgumentError('--pids must be a positive number');

  const env = new Map<string, string>([
    ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    ['HOME', '/'],
    ...(o.tty ? ([['TERM', process.env.TERM ?? 'xterm']] as [string, string][]) : []),
  ]);
  for (const e of o.env) {
    const i = e.indexOf('=');
    env.set(e.slice(0, i), e.slice(i + 1));
  }

  const spec: Spec = {
    ociVersion: '1.3.0',
    process: {
      terminal: !!o.tty,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd: o.cwd ?? '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: o.hostname ?? 'jail',
    mounts,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }, ...(ids ? [{ type: 'user' as const }] : [])],
      ...(ids ? { uidMappings: [{ containerID: 0, hostID: ids.uid, size: 1 }], gidMappings: [{ containerID: 0, hostID: ids.gid, size: 1 }] } : {}),
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(memory !== undefined ? { memory: { limit: memory } } : {}),
        ...(cpu ? { cpu } : {}),
        ...(o.pids !== undefined ? { pids: { limit: o.pids } } : {}),
      },
      // Its own network namespace: low ports and ping need no capability.
      sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': ids ? '0 0' : '0 2147483647' },
      maskedPaths: [...ALL_MASKED, ...(o.rootfs ? [] : MASKED_SECRETS.filter((p) => host.exists(p)))],
      readonlyPaths: READONLY,
      // The default allow-list profile (src/seccomp/default-profile.ts).
      seccomp: defaultProfile(),
    },
  };
  return spec;
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A root for the host view: empty mount points and the host's top-level
 * links (/bin -> usr/bin on a merged-/usr system). */
export function makeHostViewRoot(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'run', 'var', 'var/tmp', 'home', 'root', 'mnt', 'srv']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  chmodSync(join(dir, 'var/tmp'), 0o1777);
  for (const d of HOST_VIEW) {
    if (!existsSync(d)) continue;
    const target = join(dir, d);
    if (isSymlink(d)) symlinkSync(readlinkSync(d), target);
    else mkdirSync(target, { recursive: true, mode: 0o755 });
  }
}

/** Mount points inside the jail root for the exposed paths (files need a file). */
export function addMountPoints(root: string, spec: Spec): void {
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'bind') continue;
    const target = join(root, m.destination);
    if (existsSync(target) || isSymlink(target)) continue;
    let isDir = true;
    try {
      isDir = statSync(m.source!).isDirectory();
    } catch {
      // checked earlier
    }
    if (isDir) mkdirSync(target, { recursive: true, mode: 0o755 });
    else {
      mkdirSync(join(target, '..'), { recursive: true, mode: 0o755 });
      writeFileSync(target, '', { mode: 0o644 });
    }
  }
}

export interface JailRun {
  /** The temporary bundle (config.json, and the root unless --rootfs). */
  bundle: string;
  spec: Spec;
  cleanup: () => void;
}

/** Writes the jail's bundle to a temporary directory. */
export function prepareJail(o: JailOptions): JailRun {
  const bundle = mkdtempSync(join(tmpdir(), 'tsrun-jail-'));
  const cleanup = () => rmSync(bundle, { recursive: true, force: true });
  try {
    chmodSync(bundle, 0o755); // a user namespace's root must be able to traverse it
    let root: string;
    if (o.rootfs) {
      root = resolve(o.rootfs);
      if (!existsSync(root) || !statSync(root).isDirectory()) throw new InvalidArgumentError(`--rootfs ${o.rootfs}: not a directory`);
    } else {
      root = join(bundle, 'rootfs');
      makeHostViewRoot(root);
    }
    const spec = buildJailSpec(o, root);
    if (!o.rootfs) addMountPoints(root, spec);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    return { bundle, spec, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** The --publish specs, checked early (a bad one is a usage error before anything runs). */
export function checkPublish(specs: string[], network: string | undefined): void {
  for (const s of specs) parsePublish(s);
  if (specs.length && (!network || network === 'none')) throw new InvalidArgumentError('--publish needs a network: add --network bridge (or another named network)');
}
