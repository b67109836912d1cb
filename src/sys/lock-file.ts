// The one lock tsrun takes (a container's state, a bridge's leases, the
// shim's start): a lock file that names its owner's pid and start time,
// created whole (see take) and removed when the holder is done. A lock whose owner has
// died (or whose pid was reused) is broken. Node has no flock(), and a lock
// file keeps every command free of native modules. Locks taken in one
// process exclude each other too (the shim runs many containers).
import { closeSync, constants, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomTempName } from './atomic-file';
import { ownStartTime, procStat } from './proc';

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  timeoutMs: number;
  /** The error thrown once timeoutMs has passed. */
  busy: () => Error;
  /** The error for a lock file that cannot be created (other than being taken). */
  openError?: (e: NodeJS.ErrnoException) => Error;
  /** The wait between attempts, in milliseconds (default 5). */
  retryMs?: () => number;
}

/** Runs fn holding the lock file at `path`. */
export async function withLockFile<T>(path: string, fn: () => Promise<T> | T, o: LockOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  while (!take(path, o)) {
    breakStaleLock(path);
    if (Date.now() > deadline) throw o.busy();
    await new Promise((r) => setTimeout(r, o.retryMs?.() ?? 5));
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // its directory is gone (a deleted container)
    }
  }
}

/** Creates the lock file with its owner already in it: written to a
 * temporary file (O_EXCL|O_NOFOLLOW, random name) and linked into place,
 * which fails if the lock is taken. A waiter never reads a lock file that
 * has no owner yet (it would take it for a dead owner's). False: taken. */
function take(path: string, o: LockOptions): boolean {
  let tmp: string | undefined;
  try {
    tmp = join(dirname(path), randomTempName(path));
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${process.pid} ${ownStartTime()}`);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') return false;
    throw o.openError?.(err) ?? err;
  } finally {
    if (tmp !== undefined) {
      try {
        unlinkSync(tmp);
      } catch {
        // not created
      }
    }
  }
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
