// The cgroups package: one import for the runtime and the CLI.
import type { LinuxResources } from '../oci/types';
import { freeze, isFrozen, thaw, type FreezeOptions } from './freezer';
import { type CgroupLayout, readCgroupLayout } from './hierarchy';
import { CgroupManager, resolveCgroupPath } from './manager';
import { oomKillCount } from './oom';
import { applyResources } from './resources';
import { readStats, type Stats } from './stats';

export { type CgroupLayout, type CgroupMode, type Hierarchy, parseCgroupMounts, readCgroupLayout } from './hierarchy';
export { CgroupManager, DEFAULT_PARENT, resolveCgroupPath } from './manager';
export {
  type ApplyOptions,
  applyResources,
  blkioWeightToIOWeight,
  DEFAULT_DEVICE_RULES,
  defaultDeviceRules,
  deviceRuleLine,
  deviceWrites,
  ioMaxLines,
  memorySwapToV2,
  v1MemoryOrder,
  sharesToWeight,
} from './resources';
export { isValidCpuList, isValidPageSize, validateResources } from './validate';
export * from './stats';
export { type FreezeOptions, freeze, isFrozen, thaw } from './freezer';
export { oomKillCount, underOom } from './oom';
export { parseMemoryBytes } from './memory-size';
export { mergeResources } from './update';
export { type Controller, type ControllerTarget, findController } from './controllers';
export { CgroupError, jsonStringifyU64, U64_MAX } from './fsutil';

/** One container's cgroup with everything you can do to it. */
export class ContainerCgroup {
  readonly manager: CgroupManager;

  constructor(manager: CgroupManager) {
    this.manager = manager;
  }

  /** For a container: linux.cgroupsPath resolved like runc's cgroupfs driver. */
  static forContainer(id: string, cgroupsPath: string | undefined, layout: CgroupLayout = readCgroupLayout()): ContainerCgroup {
    return new ContainerCgroup(new CgroupManager(layout, resolveCgroupPath(cgroupsPath, id)));
  }

  get path(): string {
    return this.manager.path;
  }

  create(): void {
    this.manager.create();
  }

  join(pid: number): void {
    this.manager.join(pid);
  }

  apply(res: LinuxResources | undefined, opts: { warn: (m: string) => void; update?: boolean }): void {
    applyResources(this.manager, res, opts);
  }

  stats(): Stats {
    return readStats(this.manager);
  }

  freeze(opts?: FreezeOptions): void {
    freeze(this.manager, opts);
  }

  thaw(): void {
    thaw(this.manager);
  }

  isFrozen(): boolean {
    return isFrozen(this.manager);
  }

  oomKillCount(): number {
    return oomKillCount(this.manager);
  }

  destroy(): Promise<void> {
    return this.manager.destroy();
  }
}
