// OOM kills in the container's cgroup, for `runc events` to report by polling:
// an "oom" event whenever the count goes up.
import { findController } from './controllers';
import { parseFlatKeyed, readOptional } from './fsutil';
import type { CgroupManager } from './manager';

/** Number of processes the kernel's OOM killer has killed in the cgroup
 * (v1 memory.oom_control "oom_kill", v2 memory.events "oom_kill"). 0 when
 * there is no memory controller or the cgroup is gone. */
export function oomKillCount(mgr: CgroupManager): number {
  const t = findController(mgr, 'memory');
  if (!t) return 0;
  const text = readOptional(t.dir, t.version === 1 ? 'memory.oom_control' : 'memory.events');
  if (text === undefined) return 0;
  return parseFlatKeyed(text).oom_kill ?? 0;
}

/** Whether the cgroup is under OOM right now (v1 "under_oom 1"; v2 has no such flag). */
export function underOom(mgr: CgroupManager): boolean {
  const t = findController(mgr, 'memory');
  if (!t || t.version !== 1) return false;
  return (parseFlatKeyed(readOptional(t.dir, 'memory.oom_control') ?? '').under_oom ?? 0) === 1;
}
