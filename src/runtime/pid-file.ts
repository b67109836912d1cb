// --pid-file: written with src/sys/atomic-file.ts, whose temporary file is
// created before the container or process exists (a bad path fails first)
// and is safe in a directory others can write to (a shared /tmp, a client's
// run directory).
import { errnoText, TsrunError } from '../errors';
import { AtomicFile, randomTempName } from '../sys/atomic-file';

export class PidFile {
  private constructor(private readonly file: AtomicFile) {}

  get path(): string {
    return this.file.path;
  }

  /** Creates the temporary file now. tempName is for tests. */
  static prepare(path: string, tempName: (target: string) => string = randomTempName): PidFile {
    try {
      return new PidFile(AtomicFile.create(path, { mode: 0o644, tempName }));
    } catch (e) {
      throw pidFileError(path, e);
    }
  }

  /** Writes the pid and puts the file in place. */
  commit(pid: number): void {
    if (this.file.done) throw new TsrunError(`pid file ${this.path}: already written or discarded`);
    try {
      this.file.commit(String(pid));
    } catch (e) {
      throw pidFileError(this.path, e);
    }
  }

  /** Removes the temporary file (create or exec failed). */
  discard(): void {
    this.file.discard();
  }
}

function pidFileError(path: string, e: unknown): TsrunError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TsrunError(`cannot write the pid file ${path}: ${code ? errnoText(code) : String(e)}`, { cause: e });
}
