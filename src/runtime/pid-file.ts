// --pid-file: the pid goes to a temporary file in the target's directory,
// which is then renamed over the target, so a reader never sees half a pid
// and a symlink at the target is replaced, not written through. The
// directory may be writable by others (a shared /tmp, a client's run
// directory): the temporary file is created with O_EXCL|O_NOFOLLOW, so a
// name planted there (a symlink to a host file) is never opened, and its
// name is random, so it cannot be planted ahead.
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoText, TsrunError } from '../errors';

/** How many taken temporary names to step over before giving up. */
const ATTEMPTS = 16;

export function randomTempName(target: string): string {
  return `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 12)}.tmp`;
}

export class PidFile {
  private constructor(
    readonly path: string,
    private tmp: string | undefined,
    /** Kept open until commit: the pid goes to the file we created, never to one put in its place. */
    private fd: number,
  ) {}

  /** Creates the temporary file now, so that a bad path fails before the
   * container or process exists. tempName is for tests. */
  static prepare(path: string, tempName: (target: string) => string = randomTempName): PidFile {
    for (let i = 0; ; i++) {
      const tmp = join(dirname(path), tempName(path));
      try {
        return new PidFile(path, tmp, openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i + 1 >= ATTEMPTS) throw pidFileError(path, e);
      }
    }
  }

  /** Writes the pid and puts the file in place. */
  commit(pid: number): void {
    const tmp = this.tmp;
    if (tmp === undefined) throw new TsrunError(`pid file ${this.path}: already written or discarded`);
    try {
      writeSync(this.fd, String(pid));
      this.close();
      renameSync(tmp, this.path);
      this.tmp = undefined;
    } catch (e) {
      this.discard();
      throw pidFileError(this.path, e);
    }
  }

  /** Removes the temporary file (create or exec failed). */
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

function pidFileError(path: string, e: unknown): TsrunError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TsrunError(`cannot write the pid file ${path}: ${code ? errnoText(code) : String(e)}`, { cause: e });
}
