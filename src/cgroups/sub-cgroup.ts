// `exec --cgroup`: the exec'd process joins a sub-cgroup of the container's
// cgroup, for every hierarchy ("sub") or per controller ("cpu,cpuacct:sub"),
// as runc 1.1 does.
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ConfigError, InvalidArgumentError } from '../errors';
import type { CgroupLayout } from './hierarchy';

/** --cgroup arguments as runc reads them: "path" (alone), or "ctrl[,ctrl]:path". Key "" is every hierarchy. */
export function parseSubCgroups(args: readonly string[]): Map<string, string> {
  const paths = new Map<string, string>();
  for (const arg of args) {
    const parts = arg.split(':');
    if (parts.length > 2) throw new InvalidArgumentError(`invalid --cgroup argument: ${arg}`);
    if (parts.length === 1) {
      if (args.length !== 1) throw new InvalidArgumentError(`invalid --cgroup argument: ${arg} (missing <controller>: prefix)`);
      paths.set('', arg);
    } else {
      for (const ctrl of parts[0]!.split(',')) paths.set(ctrl, parts[1]!);
    }
  }
  return paths;
}

/** The directories an exec'd process joins: the container's cgroup, or below
 * it where --cgroup says so. Each must exist already. */
export function subCgroupTargets(layout: CgroupLayout, cgroupPath: string, sub: Map<string, string>): { v1: string[]; v2?: string } {
  const known = new Set(layout.hierarchies.flatMap((h) => h.controllers));
  for (const ctrl of sub.keys()) if (ctrl !== '' && !known.has(ctrl)) throw new ConfigError(`unknown controller ${ctrl} in --cgroup`);
  const out: { v1: string[]; v2?: string } = { v1: [] };
  for (const h of layout.hierarchies) {
    const base = posix.join('/', cgroupPath);
    const add = sub.get('') ?? h.controllers.map((c) => sub.get(c)).find((p) => p !== undefined) ?? '';
    const path = posix.join(base, add);
    if (path !== base && !path.startsWith(`${base}/`)) throw new ConfigError(`--cgroup: ${add} is not a sub cgroup path`);
    const dir = join(h.mountpoint, path);
    if (!existsSync(dir)) throw new ConfigError(`error adding pid to cgroup ${join(dir, 'cgroup.procs')}: no such file or directory`);
    if (h.version === 2) out.v2 = dir;
    else out.v1.push(dir);
  }
  return out;
}
