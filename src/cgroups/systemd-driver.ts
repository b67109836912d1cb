// The systemd cgroup driver as the runtime uses it: which unit and cgroup a
// container gets, starting its transient unit with the init's pid, changing
// and stopping it. Loaded by the runtime only for containers that use it.
import { ConfigError } from '../errors';
import type { LinuxDeviceCgroup, LinuxResources } from '../oci/types';
import type { CgroupLayout } from './hierarchy';
import { defaultDeviceRules } from './resources';
import { isRunningSystemd, NO_SYSTEMD, parseSystemdCgroupsPath, resourceProperties, type SystemdCgroup, unitBaseProperties } from './systemd';
import { withSystemd } from './systemd-dbus';

export type { SystemdCgroup } from './systemd';

/** The unit and cgroup path for a container created with --systemd-cgroup;
 * throws one line when the driver cannot be used here. No side effects. */
export function systemdCgroupFor(cgroupsPath: string | undefined, id: string, rootless: boolean): SystemdCgroup {
  if (!isRunningSystemd()) throw new ConfigError(NO_SYSTEMD);
  if (rootless) {
    throw new ConfigError('--systemd-cgroup: rootless containers with the systemd cgroup driver (the user manager\'s bus) are not supported yet; omit the flag');
  }
  return parseSystemdCgroupsPath(cgroupsPath, id, rootless);
}

/** cgroup v2 only (unified) or v1 (legacy, hybrid): which properties systemd takes. */
export function propertyVersion(layout: CgroupLayout): 1 | 2 {
  return layout.mode === 'unified' ? 2 : 1;
}

export interface StartOptions {
  pid: number;
  layout: CgroupLayout;
  resources: LinuxResources | undefined;
  /** The paths of linux.devices (their defaults give way, as in the files). */
  devicePaths: readonly string[];
  skipDevices: boolean;
  warn: (m: string) => void;
}

/** StartTransientUnit of the container's scope (or slice) with its init's
 * pid and resources, waiting for the job (systemd moves the pid, creates the
 * cgroup if it is not there yet, and writes the limits it knows). */
export async function startUnit(cg: SystemdCgroup, id: string, o: StartOptions): Promise<void> {
  const version = propertyVersion(o.layout);
  await withSystemd(false, async (c) => {
    const systemdVersion = await c.systemdVersion();
    const deviceRules: LinuxDeviceCgroup[] | undefined = o.skipDevices ? undefined : [...(o.resources?.devices ?? []), ...defaultDeviceRules(o.devicePaths)];
    const props = [
      ...unitBaseProperties(cg, { pid: o.pid, version, description: `tsrun container ${id}` }),
      ...resourceProperties(o.resources, { version, systemdVersion, deviceRules, warn: o.warn }),
    ];
    await c.startTransientUnit(cg.unit, props);
  });
}

/** `update`: the unit's properties for the merged resources (devices left alone, as the files). */
export async function updateUnit(unit: string, layout: CgroupLayout, resources: LinuxResources, warn: (m: string) => void): Promise<void> {
  await withSystemd(false, async (c) => {
    const props = resourceProperties(resources, { version: propertyVersion(layout), systemdVersion: await c.systemdVersion(), warn });
    await c.setUnitProperties(unit, props);
  });
}

/** StopUnit (waiting for the job) and ResetFailedUnit, as runc's delete does. */
export async function stopUnit(unit: string): Promise<void> {
  await withSystemd(false, async (c) => {
    await c.stopUnit(unit);
    await c.resetFailedUnit(unit);
  });
}
