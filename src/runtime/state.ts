// The container's record on disk: <root>/<id>/state.json, written atomically
// (src/sys/atomic-file.ts), and a lock file (src/sys/lock-file.ts) that
// serialises tsrun processes working on the same container. Status is derived from the kernel (is the
// init alive, is it still waiting on the exec fifo), never trusted from disk.
//
// Everything here is trusted only if the caller alone could have written it:
// a state.json names hooks that delete runs, so a state root another user
// planted (/tmp/tsrun-<uid> before its owner's first run) or can write would
// run that user's programs as the caller. Checked on every open, not only on
// create, because the directory may have been planted before tsrun ever ran.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync, unlinkSync, existsSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { NotFoundError, StateError, TsrunError, UnsafePathError } from '../errors';
import type { ContainerStatus, Spec } from '../oci/types';
import type { NetworkLease } from '../network/index';
import { writeFileAtomic } from '../sys/atomic-file';
import { withLockFile } from '../sys/lock-file';
import { procStat } from '../sys/proc';

export const DEFAULT_ROOT = '/run/tsrun';
export const OCI_VERSION = '1.3.0';

export interface StoredState {
  ociVersion: string;
  id: string;
  /** Host pid of the container's init; 0 until it exists. */
  pid: number;
  /** The init's start time (clock ticks since boot), to tell it from a reused pid. */
  pidStartTime: number;
  bundle: string;
  rootfs: string;
  created: string;
  /** "creating" until create has finished; afterwards the kernel decides. */
  phase: 'creating' | 'created';
  cgroupPath: string;
  /** "systemd" when created with --systemd-cgroup: the cgroup is the unit's
   * (later commands use the unit whether or not they get the flag, as runc). */
  cgroupDriver?: 'systemd';
  /** The transient unit (scope or slice) systemd holds the container in. */
  systemdUnit?: string;
  owner: number;
  config: Spec;
  annotations?: Record<string, string>;
  /** The container's address lease and links, when it has a network. */
  network?: NetworkLease;
  /** The slirp4netns process serving the container (user-mode networking). */
  slirpPid?: number;
}

export function containerDir(root: string, id: string): string {
  return join(root, id);
}

export function fifoPath(dir: string): string {
  return join(dir, 'exec.fifo');
}

export function writeState(dir: string, state: StoredState): void {
  writeFileAtomic(join(dir, 'state.json'), JSON.stringify(state), 0o600);
}

type StateKind = 'state directory' | 'container directory' | 'state file';

/** Refuses what the caller (euid) does not own alone: a symbolic link, the
 * wrong type, another owner, or write access for group or others. */
function refuseUnlessOurs(path: string, what: StateKind, st: Stats): void {
  const me = process.geteuid?.() ?? 0;
  const problem = st.isSymbolicLink()
    ? 'is a symbolic link'
    : what === 'state file' ? !st.isFile() && 'is not a regular file' : !st.isDirectory() && 'is not a directory';
  if (problem) throw new UnsafePathError(`${what} ${path} ${problem}: refusing to use it`);
  if (st.uid !== me) throw new UnsafePathError(`${what} ${path} is owned by uid ${st.uid}, not by you (uid ${me}): refusing to use it`);
  if (st.mode & 0o022) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new UnsafePathError(`${what} ${path} is writable by its group or others (mode ${mode}): refusing to use it`);
  }
}

/** Whether a state or container directory exists; throws if it is not safely ours. */
function ownDirExists(path: string, what: StateKind): boolean {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  refuseUnlessOurs(path, what, st);
  return true;
}

/** Whether the container's directory exists under a root that is safely
 * ours (throws if either is not). */
export function containerExists(root: string, id: string): boolean {
  return ownDirExists(root, 'state directory') && ownDirExists(containerDir(root, id), 'container directory');
}

/** state.json's text, or undefined if there is none. Opened without
 * following a symlink, and checked on the open fd (no race with a swap). */
function readOwnFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new UnsafePathError(`state file ${path} is a symbolic link: refusing to use it`);
    throw e;
  }
  try {
    refuseUnlessOurs(path, 'state file', fstatSync(fd));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

export function readState(root: string, id: string): StoredState {
  if (!containerExists(root, id)) throw new NotFoundError(`container "${id}" does not exist`);
  const file = join(containerDir(root, id), 'state.json');
  const text = readOwnFile(file);
  if (text === undefined) {
    // A create killed before it wrote anything: only delete can act on it.
    return { ociVersion: OCI_VERSION, id, pid: 0, pidStartTime: 0, bundle: '', rootfs: '', created: '', phase: 'creating', cgroupPath: '', owner: 0, config: { ociVersion: OCI_VERSION } };
  }
  try {
    return JSON.parse(text) as StoredState;
  } catch {
    throw new TsrunError(`container "${id}": state file ${file} is corrupt`);
  }
}

/** The container ids under a root; each one's directory is checked when it is read. */
export function listIds(root: string): string[] {
  if (!ownDirExists(root, 'state directory')) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Is the recorded init still the live process it was? Zombies count as dead. */
export function initAlive(st: StoredState): boolean {
  const s = procStat(st.pid);
  return !!s && s.state !== 'Z' && s.state !== 'X' && s.startTime === st.pidStartTime;
}

export function deriveStatus(dir: string, st: StoredState, isPaused: () => boolean = () => false): ContainerStatus | 'paused' {
  if (st.phase === 'creating') return initAlive(st) ? 'creating' : 'stopped';
  if (!initAlive(st)) return 'stopped';
  if (existsSync(fifoPath(dir))) return 'created';
  return isPaused() ? 'paused' : 'running';
}

/** Creates the container's directory; fails if the id is taken. */
export function claimDir(root: string, id: string): string {
  // 0711 leaves no write bit for any umask to keep; a root that already
  // existed is checked like on every other open.
  mkdirSync(root, { recursive: true, mode: 0o711 });
  ownDirExists(root, 'state directory');
  const dir = containerDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StateError(`container "${id}" already exists`);
    throw e;
  }
  return dir;
}

/** Removes a container's directory: its usual files by name, anything
 * else (a crashed create's leftovers) by a recursive removal. */
export function removeDir(dir: string): void {
  for (const name of ['state.json', 'exec.fifo', '.lock']) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      // not there
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An exclusive lock on the container, held by its lock file. */
export async function withLock<T>(dir: string, fn: () => Promise<T> | T, timeoutMs = 10000): Promise<T> {
  const id = basename(dir);
  if (!containerExists(dirname(dir), id)) throw new NotFoundError(`container "${id}" does not exist`);
  const lock = join(dir, '.lock');
  return withLockFile(lock, fn, {
    timeoutMs,
    busy: () => new StateError(`container is locked by another tsrun process (${lock})`),
    openError: (e) => (e.code === 'ENOENT' ? new NotFoundError(`container "${id}" does not exist`) : e),
  });
}
