// How a new container process enters its cgroup, as plan steps. Stage 0
// opens the files on the host (before joining any namespace); the process
// itself then moves in. Both routes avoid the kernel's global threadgroup
// lock, whose RCU grace period costs ~10 ms per create or exec when the
// runtime writes a pid to cgroup.procs:
//   v1: the child writes "0" to each hierarchy's `tasks` (one thread, itself);
//   v2: clone3(CLONE_INTO_CGROUP) starts the child in the directory.
import { join } from 'node:path';
import { TsrunError } from '../errors';
import { NO_SLOT, type Plan, Slot } from '../init/plan';

export interface CgroupTargets {
  /** v1 hierarchies' directories of the container's cgroup. */
  v1: string[];
  /** The cgroup2 directory, when the host has a v2 tree. */
  v2?: string;
}

const O_WRONLY = 0o1;
const O_DIRECTORY = 0o200000;

/** Adds stage 0's opens; returns the slot CLONE starts the child in
 * (NO_SLOT: none) and a function adding the child's join steps. With
 * cloneInto false (a cgroup namespace is joined before the clone, which
 * CLONE_INTO_CGROUP's checks refuse) v2 is joined by a cgroup.procs write. */
export function addCgroupOpens(plan: Plan, targets: CgroupTargets | undefined, cloneInto: boolean): { cloneSlot: number; addJoins: (p: Plan) => void } {
  const joins: { slot: number; dir: string }[] = [];
  let cloneSlot = NO_SLOT;
  let next = Slot.CGROUP;
  const take = (): number => {
    if (next >= Slot.KEPT) throw new TsrunError(`too many cgroup hierarchies on this host (at most ${Slot.KEPT - Slot.CGROUP})`);
    return next++;
  };
  for (const dir of targets?.v1 ?? []) {
    const slot = take();
    plan.add('openPath', `open the cgroup ${dir}`, { path: join(dir, 'tasks'), slot, flags: O_WRONLY });
    joins.push({ slot, dir });
  }
  if (targets?.v2) {
    const slot = take();
    if (cloneInto) {
      plan.add('openPath', `open the cgroup ${targets.v2}`, { path: targets.v2, slot, flags: O_DIRECTORY });
      cloneSlot = slot;
    } else {
      plan.add('openPath', `open the cgroup ${targets.v2}`, { path: join(targets.v2, 'cgroup.procs'), slot, flags: O_WRONLY });
      joins.push({ slot, dir: targets.v2 });
    }
  }
  return {
    cloneSlot,
    addJoins: (p) => {
      for (const j of joins) p.add('joinCgroup', `join the cgroup ${j.dir}`, { slot: j.slot });
    },
  };
}
