// The container's record on disk: <root>/<id>/state.json, written atomically
// (temp file + rename), and a lock file that serialises tsrun processes
// working on the same container. Status is derived from the kernel (is the
// init alive, is it still waiting on the exec fifo), never trusted from disk.
//
// Everything here is trusted only if the caller alone could have written it:
// a state.json names hooks that delete runs, so a state root another user
// planted (/tmp/tsrun-<uid> before its owner's first run) or can write would
// run that user's programs as the caller. Checked on every open, not only on
// create, because the directory may have been planted before tsrun ever ran.
import { closeSync, constants, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync, existsSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { NotFoundError, StateError, TsrunError, UnsafePathError } from '../errors';
import type { ContainerStatus, Spec } from '../oci/types';
import type { NetworkLease } from '../network/index';

export const DEFAULT_ROOT = '/run/tsrun';
export const OCI_VERSION = '1.2.0';

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
  owner: number;
  config: Spec;
  annotations?: Record<string, string>;
  /** networking (issue 7): the container's address lease and links, when it has a network. */
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
  const tmp = join(dir, `.state.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, join(dir, 'state.json'));
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

/** Fields 3 (state), 4 (ppid) and 22 (starttime) of /proc/<pid>/stat, or undefined if gone. */
export function procStat(pid: number): { state: string; ppid: number; startTime: number } | undefined {
  if (pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, ppid: Number(rest[1]), startTime: Number(rest[19]) };
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

/** An exclusive lock on the container held by a lock file naming its owner's
 * pid; a lock whose owner has died is broken. Node has no flock(), and a
 * lock file keeps every command free of native modules. */
export async function withLock<T>(dir: string, fn: () => Promise<T> | T, timeoutMs = 10000): Promise<T> {
  const id = basename(dir);
  if (!containerExists(dirname(dir), id)) throw new NotFoundError(`container "${id}" does not exist`);
  const lock = join(dir, '.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NotFoundError(`container "${id}" does not exist`);
      if (code !== 'EEXIST') throw e;
      breakStaleLock(lock);
      if (Date.now() > deadline) throw new StateError(`container is locked by another tsrun process (${lock})`);
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    writeSync(fd, `${process.pid} ${ownStartTime()}`);
    closeSync(fd);
    try {
      return await fn();
    } finally {
      try {
        unlinkSync(lock);
      } catch {
        // the directory is gone (delete)
      }
    }
  }
}

let own: { pid: number; start: number } | undefined;
/** This process's start time, read once (keyed by pid: a startup snapshot
 * carries module state over from the process that built it). */
function ownStartTime(): number {
  if (own?.pid !== process.pid) own = { pid: process.pid, start: procStat(process.pid)?.startTime ?? 0 };
  return own.start;
}

function breakStaleLock(lock: string): void {
  const stale = staleLockText(lock);
  if (stale !== undefined) breakLockIfStill(lock, stale);
}

/** The lock file's text if its owner is gone (a dead pid, or a reused one). */
export function staleLockText(lock: string): string | undefined {
  try {
    const text = readFileSync(lock, 'utf8');
    const [pid, start] = text.split(' ').map(Number);
    const s = procStat(pid ?? 0);
    return !s || s.startTime !== start ? text : undefined;
  } catch {
    return undefined; // released meanwhile
  }
}

/** Removes the lock if it still is the stale one read before. It is moved
 * aside first (so only one waiter breaks it) and checked there: between our
 * read and the move, another waiter may have broken it and a new owner taken
 * the lock, whose file we must then put back. */
export function breakLockIfStill(lock: string, stale: string): void {
  const aside = `${lock}.stale.${process.pid}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // gone: broken by another waiter or released
  }
  try {
    if (readFileSync(aside, 'utf8') === stale) return;
    linkSync(aside, lock); // a live owner's lock: back where it was (fails if a newer one is there)
  } catch {
    // a newer lock took the place meanwhile: leave it
  } finally {
    unlinkSync(aside);
  }
}
