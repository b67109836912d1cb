// The container's record on disk: <root>/<id>/state.json, written atomically
// (temp file + rename), and a lock file that serialises tsrun processes
// working on the same container. Status is derived from the kernel (is the
// init alive, is it still waiting on the exec fifo), never trusted from disk.
import { closeSync, constants, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, StateError, TsrunError } from '../errors';
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

export function readState(root: string, id: string): StoredState {
  const dir = containerDir(root, id);
  let text: string;
  try {
    text = readFileSync(join(dir, 'state.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (existsSync(dir)) {
        // A create killed before it wrote anything: only delete can act on it.
        return { ociVersion: OCI_VERSION, id, pid: 0, pidStartTime: 0, bundle: '', rootfs: '', created: '', phase: 'creating', cgroupPath: '', owner: 0, config: { ociVersion: OCI_VERSION } };
      }
      throw new NotFoundError(`container "${id}" does not exist`);
    }
    throw e;
  }
  try {
    return JSON.parse(text) as StoredState;
  } catch {
    throw new TsrunError(`container "${id}": state file ${join(dir, 'state.json')} is corrupt`);
  }
}

export function listIds(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
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
  mkdirSync(root, { recursive: true, mode: 0o711 });
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
  const lock = join(dir, '.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NotFoundError(`container "${dir.split('/').pop()}" does not exist`);
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
