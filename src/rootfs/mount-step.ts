// The MOUNT and MOVE_MOUNT steps, typed: one place that knows their fields.
import { NO_SLOT, type Plan } from '../init/plan';

/** What a mount step does to its new mount besides making it. The native
 * init applies these to the new mount's own fd, never by looking the
 * destination up again (the image's symlinks could lead that lookup to
 * another mount once a volume is in place). */
export interface MountOptions {
  /** MS_* flags of a bind's remount (read-only, nosuid, ...). */
  remount?: number;
  /** MOUNT_ATTR_* set and cleared recursively (rro, rnosuid, ...). */
  recSet?: number;
  recClear?: number;
  /** One MS_SHARED/MS_PRIVATE/MS_SLAVE/MS_UNBINDABLE, with MS_REC for the r* forms. */
  propagation?: number;
  /** A slot (Slot.KEPT...) that keeps the new mount's fd for a later REMOUNT_SLOT. */
  keepSlot?: number;
  /** A bind's source, cloned on the host side by CLONE_TREE into this slot (Slot.SOURCE...). */
  sourceSlot?: number;
}

export interface MountStep extends MountOptions {
  source: string;
  target: string;
  fstype?: string;
  /** mount(2) flags: MS_BIND (| MS_REC) for a bind, else the new file system's. */
  flags: number;
  /** mount(2)-style data: "mode=755,size=65536k". */
  data?: string;
  /** T.* target flags. */
  tflags: number;
}

export function addMountStep(plan: Plan, what: string, m: MountStep): Plan {
  return plan.add('mount', what, m);
}

/** A detached mount the runtime passed in `slot` (id-mapped) onto target. */
export function addMoveMountStep(plan: Plan, what: string, m: MountOptions & { slot: number; target: string; tflags: number }): Plan {
  return plan.add('moveMount', what, m);
}
