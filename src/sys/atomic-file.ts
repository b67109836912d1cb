// The one way tsrun replaces a file (state.json, pid files, network leases,
// the shim's address file): the content goes to a temporary file in the
// target's directory, which is then renamed over the target, so a reader
// never sees half a file and a symlink at the target is replaced, not
// written through. The directory may be writable by others (a shared /tmp,
// a client's run directory): the temporary file is created with
// O_EXCL|O_NOFOLLOW, so a name planted there (a symlink to a host file) is
// never opened, and its name is random, so it cannot be planted ahead.
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** How many taken temporary names to step over before giving up. */
const ATTEMPTS = 16;

/** A temporary name beside `target` (its name cut short enough that the
 * temporary one stays within NAME_MAX). */
export function randomTempName(target: string): string {
  return `.${basename(target).slice(0, 200)}.${process.pid}.${Math.random().toString(36).slice(2, 12)}.tmp`;
}

export interface AtomicFileOptions {
  /** The new file's mode (before the umask). */
  mode?: number;
  /** Names the temporary file (tests plant files at chosen names). */
  tempName?: (target: string) => string;
}

/** A file replaced in two steps: the temporary file exists from create()
 * (so a bad path fails early), the target changes at commit(). */
export class AtomicFile {
  private constructor(
    readonly path: string,
    private tmp: string | undefined,
    /** Kept open until commit: the data goes to the file we created, never to one put in its place. */
    private fd: number,
  ) {}

  static create(path: string, o: AtomicFileOptions = {}): AtomicFile {
    const tempName = o.tempName ?? randomTempName;
    for (let i = 0; ; i++) {
      const tmp = join(dirname(path), tempName(path));
      try {
        return new AtomicFile(path, tmp, openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, o.mode ?? 0o600));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i + 1 >= ATTEMPTS) throw e;
      }
    }
  }

  /** Whether commit or discard has been called. */
  get done(): boolean {
    return this.tmp === undefined;
  }

  /** Writes the data and puts the file in place; on failure nothing is left. */
  commit(data: string | Buffer): void {
    const tmp = this.tmp;
    if (tmp === undefined) throw new Error(`${this.path}: already written or discarded`);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
      this.close();
      renameSync(tmp, this.path);
      this.tmp = undefined;
    } catch (e) {
      this.discard();
      throw e;
    }
  }

  /** Removes the temporary file. */
  discard(): void {
    this.close();
    if (this.tmp === undefined) return;
    try {
      unlinkSync(this.tmp);
    } catch {
      // gone already
    }
    this.tmp = undefined;
  }

  private close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** Replaces `path` with `data` at once (see above). */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  AtomicFile.create(path, { mode }).commit(data);
}
