// config.json's root, mounts, devices, masked and read-only paths, turned
// into plan steps. Every mount target is resolved by the native side inside
// the rootfs (openat2 RESOLVE_IN_ROOT), so symlinks cannot lead to the host.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { Mount, Spec } from '../oci/types';
import { type Plan, Slot, T } from '../init/plan';
import { mountPointHolding, parseMountInfo } from '../sys/mountinfo';
import { isUnder, onProcfs, procMountRefusal, unmountsBeforeMoveRoot } from './proc-guard';
import { addMountStep, addMoveMountStep } from './mount-step';
import { checkIdmapMount, type IdmapSource } from './idmap-mount';
import type { CgroupLayout } from '../cgroups/hierarchy';
import {
  MS_BIND,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_UNBINDABLE,
  parseMountOptions,
} from './options';
import { addDeviceSteps, addDevSymlinkSteps } from './devices';

export interface RootfsContext {
  spec: Spec;
  bundle: string;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  /** The container has a new user namespace (device nodes must be bind mounts). */
  userns: boolean;
  noPivot: boolean;
  cgroups: CgroupLayout;
  cgroupPath: string;
  newCgroupns: boolean;
  /** Filled in: sources the runtime must pass as id-mapped mount fds, in slot order. */
  idmapSources: IdmapSource[];
  /** Filled in: mounts made read-write for now and read-only at the end. */
  readonlyLater: ReadonlyLater[];
  /** Bind sources already cloned on the host side (addHostSourceClones), by mount. */
  sourceSlots?: Map<Mount, number>;
}

/** Stage 0 (before the user namespace exists): the runtime clones every bind
 * source on the host, so that a source the container's root could not look
 * up (a 0700 directory) still works, as runc opens them before entering the
 * user namespace. Needs a privileged runtime; id-mapped binds have their own
 * path. Returns the slot of each mount's clone. */
export function addHostSourceClones(plan: Plan, spec: Spec, bundle: string): Map<Mount, number> {
  const slots = new Map<Mount, number>();
  for (const m of spec.mounts ?? []) {
    const o = parseMountOptions(m.options);
    const idmapped = o.idmap || !!m.uidMappings || !!m.gidMappings;
    if (!(o.bind || m.type === 'bind') || idmapped || !m.source) continue;
    const slot = Slot.SOURCE + slots.size;
    if (slot >= Slot.SOURCE_END) throw new ConfigError(`config.json: at most ${Slot.SOURCE_END - Slot.SOURCE} bind mounts are supported with a user namespace`);
    const src = bindSource(m.source, bundle);
    plan.add('cloneTree', `open the bind mount source ${src}`, { path: src, slot, recursive: o.recursive ? 1 : 0 });
    slots.set(m, slot);
  }
  return slots;
}

function bindSource(source: string, bundle: string): string {
  return isAbsolute(source) ? source : resolve(bundle, source);
}

/** A read-only tmpfs or /dev is mounted read-write and turned read-only
 * after what goes inside it (devices, /dev/pts, sub-mounts) is there, as
 * runc does; its fd is kept in a slot meanwhile, never looked up again. */
export interface ReadonlyLater {
  slot: number;
  dest: string;
  flags: number;
}

const PROPAGATION: Record<string, number> = {
  private: MS_PRIVATE,
  shared: MS_SHARED,
  slave: MS_SLAVE,
  unbindable: MS_UNBINDABLE,
  rprivate: MS_PRIVATE,
  rshared: MS_SHARED,
  rslave: MS_SLAVE,
  runbindable: MS_UNBINDABLE,
};

/** Steps up to and including pivot_root, in the container's new mount namespace. */
export function addRootfsSteps(plan: Plan, ctx: RootfsContext, beforePivot: (plan: Plan) => void): void {
  const { spec, rootfs } = ctx;
  // Keep our mounts from leaking back to the host, and the host's from
  // reaching us unless rootfsPropagation asks for it.
  const rootProp = spec.linux?.rootfsPropagation;
  // An unbindable tree could not bind the rootfs onto itself: start private,
  // the configured propagation is applied again after pivot_root.
  const wanted = rootProp ? PROPAGATION[rootProp]! : MS_SLAVE;
  const propFlag = (wanted === MS_UNBINDABLE ? MS_PRIVATE : wanted) | MS_REC;
  addMountStep(plan, `make / ${rootProp ?? 'slave'} (rootfsPropagation)`, { source: '', target: '/', flags: propFlag, tflags: 0 });
  if (propFlag & MS_SHARED) {
    // pivot_root refuses a new root whose parent mount is shared.
    const holder = mountPointHolding(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')), realpathSync(rootfs));
    addMountStep(plan, `make the mount holding ${rootfs} (${holder}) private (pivot_root refuses a shared parent)`, { source: '', target: holder, flags: MS_PRIVATE, tflags: 0 });
  }
  addMountStep(plan, `bind mount the rootfs ${rootfs} onto itself`, { source: rootfs, target: rootfs, flags: MS_BIND | MS_REC, tflags: 0 });
  plan.add('setRoot', `open the rootfs ${rootfs}`, { path: rootfs });
  if ((spec.linux?.maskedPaths?.length ?? 0) > 0) addNullDevice(plan);

  const mounts = spec.mounts ?? [];
  for (const m of mounts) addMount(plan, ctx, m);
  const devIsBound = mounts.some((m) => normDest(m.destination) === '/dev' && isBind(m));
  if (!devIsBound) addDeviceSteps(plan, spec, ctx.userns);

  beforePivot(plan);

  if (ctx.noPivot) {
    // chroot leaves the host's mounts in the namespace: a full procfs or
    // sysfs there would let a nested user namespace mount a fresh, unmasked
    // one (the kernel checks every mount of the namespace). runc hides them too.
    for (const path of unmountsBeforeMoveRoot(readFileSync('/proc/self/mountinfo', 'utf8'), rootfs)) {
      plan.add('umount', `hide the host's ${path} from the container (--no-pivot)`, { path, cover: 1 });
    }
    plan.add('moveRoot', `move the rootfs to / (--no-pivot)`, { root: rootfs });
  } else {
    plan.add('pivotRoot', `pivot_root into ${rootfs}`, { root: rootfs });
  }
  plan.add('setRoot', 'open the new root', { path: '/' });
  if (!devIsBound) addDevSymlinkSteps(plan);
  // A private /: propagation settings are for the container's own mounts.
  if (rootProp) addMountStep(plan, `make / ${rootProp}`, { source: '', target: '/', flags: PROPAGATION[rootProp]! | MS_REC, tflags: 0 });
}

/** Steps after pivot_root: read-only mounts made writable for a while,
 * read-only and masked paths, read-only root. */
export function addRootfsFinishSteps(plan: Plan, spec: Spec, readonlyLater: ReadonlyLater[]): void {
  for (const r of readonlyLater) {
    plan.add('remountSlot', `remount ${r.dest} read-only`, { slot: r.slot, flags: r.flags, tflags: T.KEEP_LOCKED });
  }
  for (const p of spec.linux?.readonlyPaths ?? []) {
    const flags = T.IN_ROOT | T.IGNORE_ENOENT;
    addMountStep(plan, `bind ${p} read-only (readonlyPaths)`, {
      source: p,
      target: p,
      flags: MS_BIND | MS_REC,
      tflags: flags | T.SRC_IN_ROOT | T.KEEP_LOCKED,
      remount: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
    });
  }
  // A missing path is fine (as with runc): there is nothing to hide.
  for (const p of spec.linux?.maskedPaths ?? []) {
    plan.add('mask', `mask ${p} (maskedPaths)`, { path: p, nullSlot: Slot.NULLDEV, tflags: T.IGNORE_ENOENT });
  }
  if (spec.root?.readonly) {
    plan.add('remount', 'remount the root read-only (root.readonly)', { target: '/', flags: MS_RDONLY, tflags: 0 });
  }
}

/** The null device masks are bound from: the host's, opened before the
 * pivot and checked to be char 1:3, never whatever the container's
 * /dev/null is (CVE-2025-31133 class). */
function addNullDevice(plan: Plan): void {
  plan.add('openPath', 'open the null device for masked paths', { path: '/dev/null', slot: Slot.NULLDEV, flags: 0o10000000 /* O_PATH */ });
  plan.add('expectDev', 'check that /dev/null is the null device', { slot: Slot.NULLDEV, type: S_IFCHR, major: 1, minor: 3 });
  plan.explain(19 /* ENODEV */, '/dev/null is not the null character device (1:3)');
  plan.add('cloneMount', 'keep a bind of the null device for masked paths', { slot: Slot.NULLDEV });
}

const S_IFCHR = 0o020000;

function normDest(d: string): string {
  const parts = d.split('/').filter((p) => p && p !== '.');
  return '/' + parts.join('/');
}

function isBind(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function addMount(plan: Plan, ctx: RootfsContext, m: Mount): void {
  const dest = normDest(m.destination);
  if (dest === '/') throw new ConfigError(`config.json: mount destination "${m.destination}" cannot be the root`);
  if (dest.split('/').includes('..')) throw new ConfigError(`config.json: mount destination "${m.destination}" must not contain ".."`);
  const bindOfProc = dest === '/proc' && !!m.source && parseMountOptions(m.options).bind && onProcfs(bindSource(m.source, ctx.bundle));
  const refusal = procMountRefusal(dest, m.type, bindOfProc);
  if (refusal) throw new ConfigError(`config.json: mount ${dest}: ${refusal}`);
  // At mount time the target is checked again as resolved: a symlink in the
  // image or in an earlier mount must not move a mount into /proc.
  const guard = isUnder(dest, '/proc') ? 0 : T.NOT_PROCFS;
  const plainDir = m.type === 'proc' || m.type === 'sysfs' ? T.PLAIN_DIR : 0;
  const o = parseMountOptions(m.options);
  const idmapped = o.idmap || !!m.uidMappings || !!m.gidMappings;
  if (idmapped) checkIdmapMount(m, dest, ctx.userns, ctx.spec.linux?.uidMappings, ctx.spec.linux?.gidMappings);
  if (o.tmpcopyup && m.type !== 'tmpfs') throw new ConfigError(`config.json: mount ${dest}: tmpcopyup is only for tmpfs mounts`);
  const data = o.data.join(',');
  const type = m.type ?? '';

  // A missing destination behind a dangling symlink is created where the
  // link points, inside the rootfs (runc's securejoin does the same).
  const inRoot = T.IN_ROOT | guard | T.FOLLOW_DANGLING;
  // Options, recursive attributes and propagation go with the mount step
  // itself (applied to the new mount's fd): see mount-step.ts.
  const after = {
    remount: o.flags & ~(MS_BIND | MS_REC),
    recSet: o.recAttrSet,
    recClear: o.recAttrClear,
    propagation: o.propagation[o.propagation.length - 1] ?? 0,
  };
  if (type === 'cgroup' || type === 'cgroup2') {
    addCgroupMount(plan, ctx, dest, o.flags, inRoot);
  } else if (o.bind || type === 'bind') {
    const source = m.source ?? '';
    if (!source) throw new ConfigError(`config.json: bind mount ${dest} needs a source`);
    const src = bindSource(source, ctx.bundle);
    let isDir = true;
    try {
      isDir = statSync(src).isDirectory();
    } catch (e) {
      throw new ConfigError(`config.json: bind mount source ${src} for ${dest}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    const mk = isDir ? T.MKDIR : T.MKDIR | T.MKFILE;
    if (idmapped) {
      // The runtime passes a detached id-mapped copy (see idmap-mount.ts).
      const slot = Slot.PASSED + ctx.idmapSources.length;
      if (slot >= Slot.PASSED_END) throw new ConfigError(`config.json: at most ${Slot.PASSED_END - Slot.PASSED} id-mapped mounts are supported`);
      ctx.idmapSources.push({ source: src, recursive: o.recursive || o.ridmap });
      addMoveMountStep(plan, `mount the id-mapped ${src} on ${dest}`, { slot, target: dest, tflags: inRoot | mk | T.KEEP_LOCKED, ...after });
    } else {
      const sourceSlot = ctx.sourceSlots?.get(m);
      addMountStep(plan, `bind mount ${src} on ${dest}`, { source: src, target: dest, flags: MS_BIND | (o.recursive ? MS_REC : 0), tflags: inRoot | mk | T.KEEP_LOCKED, ...after, sourceSlot });
    }
    explainProcfs(plan, dest);
  } else if (idmapped) {
    throw new ConfigError(`config.json: mount ${dest}: only bind mounts can be id-mapped`);
  } else {
    const source = m.source ?? type;
    const copyup = o.tmpcopyup ? T.COPYUP : 0;
    const what = `mount ${type || 'none'} on ${dest}${copyup ? ' (copying its contents up)' : ''}`;
    const later = (type === 'tmpfs' || dest === '/dev') && o.flags & MS_RDONLY ? keepForReadonly(ctx, dest, o.flags) : undefined;
    const flags = later ? o.flags & ~MS_RDONLY : o.flags;
    addMountStep(plan, what, { source, target: dest, fstype: type, flags, data, tflags: inRoot | T.MKDIR | copyup | plainDir, ...after, remount: 0, keepSlot: later });
    explainProcfs(plan, dest);
    // runc's words, which its tests and users look for.
    if (plainDir) plan.explain(40 /* ELOOP */, `${type} must be mounted on ordinary directory (${dest} is a symlink in the rootfs)`).explain(20 /* ENOTDIR */, `${type} must be mounted on ordinary directory (${dest} is not a directory in the rootfs)`);
  }
}

function keepForReadonly(ctx: RootfsContext, dest: string, flags: number): number {
  const slot = Slot.KEPT + ctx.readonlyLater.length;
  if (slot >= Slot.KEPT_END) throw new ConfigError(`config.json: at most ${Slot.KEPT_END - Slot.KEPT} read-only tmpfs or /dev mounts are supported`);
  ctx.readonlyLater.push({ slot, dest, flags: flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME) });
  return slot;
}

function explainProcfs(plan: Plan, dest: string): void {
  plan.explain(18 /* EXDEV */, `${dest} resolves to a path inside /proc, where nothing may be mounted`);
}

/** /sys/fs/cgroup inside: the unified tree, or on v1/hybrid hosts a tmpfs with
 * one directory per hierarchy. With a new cgroup namespace each is a fresh
 * cgroup mount showing the container's cgroup as "/"; without one, the
 * container's own cgroup directories are bind mounted. */
function addCgroupMount(plan: Plan, ctx: RootfsContext, dest: string, flags: number, inRoot: number): void {
  const mountFlags = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  const fsMount = (h: { version: 1 | 2; controllers: string[]; mountpoint: string }, target: string) => {
    if (ctx.newCgroupns) {
      const fstype = h.version === 2 ? 'cgroup2' : 'cgroup';
      const data = h.version === 2 ? '' : h.controllers.join(',');
      addMountStep(plan, `mount ${fstype} on ${target}`, { source: fstype, target, fstype, flags: mountFlags, data, tflags: inRoot | T.MKDIR });
    } else {
      const src = `${h.mountpoint}${ctx.cgroupPath}`;
      addMountStep(plan, `bind mount ${src} on ${target}`, { source: src, target, flags: MS_BIND | MS_REC, tflags: inRoot | T.MKDIR | T.KEEP_LOCKED, remount: mountFlags });
    }
  };
  const layout = ctx.cgroups;
  if (layout.mode === 'unified') {
    fsMount(layout.hierarchies[0]!, dest);
    return;
  }
  addMountStep(plan, `mount tmpfs on ${dest}`, { source: 'tmpfs', target: dest, fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'mode=755', tflags: inRoot | T.MKDIR });
  for (const h of layout.hierarchies) fsMount(h, `${dest}/${basename(h.mountpoint)}`);
  if (flags & MS_RDONLY) {
    plan.add('remount', `remount ${dest} read-only`, { target: dest, flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, tflags: inRoot | T.KEEP_LOCKED });
  }
}

