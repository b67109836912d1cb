// A process's stdio as containerd hands it to a shim: paths of FIFOs the
// client has made (or file:// URIs). Without a terminal the FIFOs go to the
// container as they are, opened so that no open blocks: stdout/stderr read-
// write (a FIFO opened O_RDWR never waits for a reader, and the container
// never gets EPIPE when the client goes away), stdin read-only without
// O_NONBLOCK set (EOF once the client's writer closes). With a terminal the
// shim copies between the pty master and the FIFOs.
import { closeSync, constants, fstatSync, mkdirSync, openSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import tty from 'node:tty';
import type { StdioEntry } from '../init/fds';
import { setBlocking } from '../sys/libc';
import { Code, TtrpcError } from './ttrpc';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

type Target = { kind: 'none' } | { kind: 'fifo' | 'file'; path: string };

/** A stdio string: "", a path, fifo://path or file://path. */
export function parseStdio(s: string): Target {
  if (!s) return { kind: 'none' };
  const m = /^([a-z]+):\/\/(.*)$/.exec(s);
  if (!m) return { kind: 'fifo', path: s };
  const [, scheme, rest] = m;
  const path = decodeURIComponent(rest!.replace(/\?.*$/, ''));
  if (scheme === 'fifo') return { kind: 'fifo', path };
  if (scheme === 'file') return { kind: 'file', path };
  throw new TtrpcError(Code.UNIMPLEMENTED, `stdio ${scheme}:// is not supported by the tsrun shim`);
}

function isFifo(fd: number): boolean {
  return fstatSync(fd).isFIFO();
}

/** An fd to write output to: FIFOs read-write, files appended. */
function openOutput(t: Target): number | undefined {
  if (t.kind === 'none') return undefined;
  if (t.kind === 'file') {
    mkdirSync(dirname(t.path), { recursive: true });
    return openSync(t.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
  }
  try {
    return openSync(t.path, constants.O_RDWR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TtrpcError(Code.NOT_FOUND, `stdio ${t.path} does not exist`);
    throw e;
  }
}

export class ProcessIO {
  /** What the runtime passes to the process as fds 0, 1, 2. */
  readonly stdio: [StdioEntry, StdioEntry, StdioEntry] = ['ignore', 'ignore', 'ignore'];
  /** Our copies of the fds in `stdio`, closed once the process has them. */
  private handed: number[] = [];
  private master?: tty.ReadStream;
  private masterFd?: number;
  private input?: Socket;
  private output?: Writable;
  private outputClosed?: Promise<void>;
  private masterDone?: Promise<void>;

  private constructor(readonly paths: StdioPaths) {}

  static open(paths: StdioPaths): ProcessIO {
    const io = new ProcessIO(paths);
    try {
      if (paths.terminal) io.openTerminalSide();
      else io.openDirect();
    } catch (e) {
      io.close();
      throw e;
    }
    return io;
  }

  private openDirect(): void {
    const stdin = parseStdio(this.paths.stdin);
    if (stdin.kind !== 'none') {
      const fd = openSync(stdin.path, constants.O_RDONLY | constants.O_NONBLOCK);
      this.handed.push(fd);
      if (isFifo(fd)) setBlocking(fd);
      this.stdio[0] = fd;
    }
    const out = parseStdio(this.paths.stdout);
    const err = parseStdio(this.paths.stderr);
    const outFd = openOutput(out);
    if (outFd !== undefined) {
      this.handed.push(outFd);
      this.stdio[1] = outFd;
    }
    if (err.kind !== 'none' && out.kind !== 'none' && err.path === out.path) {
      this.stdio[2] = outFd!;
    } else {
      const errFd = openOutput(err);
      if (errFd !== undefined) {
        this.handed.push(errFd);
        this.stdio[2] = errFd;
      }
    }
  }

  /** With a terminal the process's stdio is the pty: we only open the client's side. */
  private openTerminalSide(): void {
    const stdin = parseStdio(this.paths.stdin);
    if (stdin.kind !== 'none') {
      // Read-write: opening never blocks, and no EOF while the client reconnects.
      const fd = openSync(stdin.path, stdin.kind === 'fifo' ? constants.O_RDWR : constants.O_RDONLY);
      if (isFifo(fd)) this.input = new Socket({ fd, readable: true, writable: false });
      else closeSync(fd); // a file as a terminal's input: nothing to relay
    }
    const out = parseStdio(this.paths.stdout);
    const fd = openOutput(out);
    if (fd !== undefined) {
      if (isFifo(fd)) {
        const s = new Socket({ fd, readable: false, writable: true });
        s.on('error', () => {});
        this.outputClosed = new Promise((r) => s.once('close', () => r()));
        this.output = s;
      } else {
        const w = createWriteStream('', { fd, autoClose: true });
        w.on('error', () => {});
        this.outputClosed = new Promise((r) => w.once('close', () => r()));
        this.output = w;
      }
    }
  }

  /** The process has its fds now: drop ours. */
  released(): void {
    for (const fd of this.handed) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.handed = [];
  }

  /** Starts copying between the pty master and the client's FIFOs. */
  attachTerminal(masterFd: number): void {
    this.masterFd = masterFd;
    const m = new tty.ReadStream(masterFd);
    this.master = m;
    m.on('error', () => {}); // EIO once the last slave closes
    this.masterDone = new Promise((r) => {
      m.once('close', () => r());
      m.once('end', () => r());
    });
    if (this.output) m.pipe(this.output);
    else m.resume();
    if (this.input) {
      this.input.on('error', () => {});
      this.input.pipe(m, { end: false });
    }
  }

  get terminalFd(): number | undefined {
    return this.masterFd;
  }

  /** CloseIO: the client has no more input. */
  closeStdin(): void {
    if (this.input) {
      this.input.unpipe();
      this.input.destroy();
      this.input = undefined;
      // A terminal reads end-of-file as ^D.
      if (this.master && !this.master.destroyed) this.master.write('\x04');
    }
  }

  /** After the process has exited: let the terminal's last output through
   * (at most `ms`), then close everything so the client sees EOF. */
  async finish(ms = 500): Promise<void> {
    if (this.master && this.masterDone) {
      await Promise.race([this.masterDone, new Promise((r) => setTimeout(r, ms))]);
    }
    this.close();
    if (this.outputClosed) await Promise.race([this.outputClosed, new Promise((r) => setTimeout(r, ms))]);
  }

  close(): void {
    this.released();
    this.input?.destroy();
    this.input = undefined;
    if (this.master) {
      this.master.unpipe();
      this.master.destroy();
      this.master = undefined;
    }
    this.output?.end();
    this.output = undefined;
  }
}
