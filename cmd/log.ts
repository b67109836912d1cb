// runc-compatible logging: errors as one line on stderr and, with --log, as
// lines in the log file ({"level","msg","time"} with --log-format json), the
// last of which containerd and podman show to their users. As with runc the
// log file exists after every command (clients open it), and --debug adds
// level=debug lines: to the log file, else to stderr in logrus' text form.
import { appendFileSync } from 'node:fs';
import { errnoText, TsrunError } from '../src/errors';
import { UsageError } from './usage-error';

export type Level = 'debug' | 'info' | 'warning' | 'error';

export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: 'text' | 'json',
    readonly debugEnabled: boolean,
  ) {
    if (format !== 'text' && format !== 'json') throw new UsageError(`invalid log format "${format}": use text or json`);
    if (file) {
      try {
        appendFileSync(file, '');
      } catch (e) {
        throw new TsrunError(`cannot open the log file ${file}: ${errnoText((e as NodeJS.ErrnoException).code ?? String(e))}`);
      }
    }
  }

  log(level: Level, msg: string): void {
    if (level === 'debug' && !this.debugEnabled) return;
    const time = new Date().toISOString();
    const text = `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    if (this.file) {
      const line = this.format === 'json' ? JSON.stringify({ level, msg, time }) : text;
      try {
        appendFileSync(this.file, line + '\n');
      } catch {
        // the log is best effort; stderr still gets errors
      }
    }
    if (level === 'error') process.stderr.write(`tsrun: ${msg}\n`);
    else if (level === 'warning') process.stderr.write(`tsrun: warning: ${msg}\n`);
    else if (!this.file) process.stderr.write(level === 'debug' ? `${text}\n` : `tsrun: ${level}: ${msg}\n`);
  }
}
