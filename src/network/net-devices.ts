// linux.netDevices (runtime-spec 1.3): host network devices moved into the
// container's new network namespace, renamed when asked, with their
// permanent global addresses and up. They are never moved back: when the
// namespace goes, the kernel returns physical devices to the host and
// destroys virtual ones, as the spec says.
import { ConfigError, TsrunError } from '../errors';
import type { LinuxNetDevice } from '../oci/types';
import { AF, IFA_F, RT_SCOPE } from './netlink';
import { NetlinkError, Rtnl } from './rtnl';

const IFNAMSIZ = 16;

/** The kernel's rules for an interface name (dev_valid_name). */
export function validInterfaceName(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ) return false;
  if (name === '.' || name === '..') return false;
  return !/[/:\s]/.test(name);
}

/** Checks made before anything is set up. */
export function checkNetDevices(devices: Record<string, LinuxNetDevice> | undefined, ctx: { netns: boolean; rootless: boolean }): void {
  const names = Object.keys(devices ?? {});
  if (names.length === 0) return;
  if (!ctx.netns) throw new ConfigError('linux.netDevices: moving network devices needs a network namespace of the container\'s own (linux.namespaces has no "network")');
  if (ctx.rootless) throw new ConfigError('linux.netDevices: network devices cannot be moved by an unprivileged user');
  const targets = new Set<string>();
  for (const name of names) {
    if (!validInterfaceName(name)) throw new ConfigError(`linux.netDevices: invalid network device name ${JSON.stringify(name)}`);
    const to = devices![name]!.name || name;
    if (!validInterfaceName(to)) throw new ConfigError(`linux.netDevices.${name}.name: invalid network device name ${JSON.stringify(to)}`);
    if (!to.includes('%d') && targets.has(to)) throw new ConfigError(`linux.netDevices: two devices would be named ${JSON.stringify(to)} in the container`);
    targets.add(to);
  }
}

/** Moves each device into the network namespace of `pid` (the container's
 * init, waiting for the runtime). */
export function moveNetDevices(devices: Record<string, LinuxNetDevice> | undefined, pid: number): void {
  const entries = Object.entries(devices ?? {});
  if (entries.length === 0) return;
  const host = new Rtnl();
  let inner: Rtnl | undefined;
  try {
    // The kernel drops a device's addresses when it changes namespace:
    // the permanent global ones are put back. One dump serves every device.
    const permanent = [...host.addresses(AF.INET), ...host.addresses(AF.INET6)].filter((a) => (a.flags & IFA_F.PERMANENT) !== 0 && a.scope === RT_SCOPE.UNIVERSE);
    for (const [name, dev] of entries) {
      const link = host.link(name);
      if (!link) throw new TsrunError(`linux.netDevices: there is no network device ${JSON.stringify(name)} on the host`);
      const keep = permanent.filter((a) => a.index === link.index);
      const wanted = dev.name || name;
      inner ??= Rtnl.inNetnsOf(pid);
      // Checked before the move: the kernel moves the device first and
      // renames it after, so a refused name would still take it away.
      const taken = () => new TsrunError(`linux.netDevices: a network device named ${JSON.stringify(wanted)} already exists in the container`);
      if (!wanted.includes('%d') && inner.link(wanted)) throw taken();
      try {
        host.moveToNetns(link.index, pid, wanted);
      } catch (e) {
        if (e instanceof NetlinkError && e.errno === 17 /* EEXIST */) throw taken();
        throw e;
      }
      // A "%d" template is filled in by the kernel: find the device by what moved.
      const moved = wanted.includes('%d') ? inner.links().find((l) => l.mac === link.mac && l.kind === link.kind && new RegExp(`^${wanted.replace('%d', '\\d+')}$`).test(l.name)) : inner.link(wanted);
      if (!moved) throw new TsrunError(`linux.netDevices: ${name} moved into the container but was not found there as ${wanted}`);
      for (const a of keep) inner.addAddress(moved.index, a.address, a.prefixlen, { nodad: a.family === AF.INET6, existOk: true, what: moved.name });
      inner.setUp(moved.index, moved.name);
    }
  } finally {
    inner?.close();
    host.close();
  }
}
