// A terminal for a container run in the foreground without --console-socket
// (`tsrun run` of a `terminal: true` config, `tsrun exec -t`), as runc does:
// the init creates the pty inside the container and sends us the master over
// a socketpair; we relay it to our own terminal. Node has no socketpair,
// recvmsg or TIOCSWINSZ, so these come from libc through koffi, loaded only
// on this path.
import { closeSync } from 'node:fs';
import tty from 'node:tty';
import { TsrunError } from '../errors';
import { libc, msghdr, rightsFd, setWinsize } from '../sys/libc';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

export class ConsolePair {
  private readonly c = libc();
  /** Our end: the master arrives here. */
  readonly ours: number;
  /** The init's end: passed to it as an inherited fd. */
  readonly theirs: number;

  constructor() {
    const sv = new Int32Array(2);
    if (this.c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw new TsrunError('cannot create a console socketpair');
    this.ours = sv[0]!;
    this.theirs = sv[1]!;
  }

  /** The pty master the init sent (it did so before reporting ready). */
  receiveMaster(): number {
    const control = Buffer.alloc(64);
    const { msg } = msghdr(this.c, Buffer.alloc(256), control);
    const n = this.c.recvmsg(this.ours, msg, 0x40000000 /* MSG_CMSG_CLOEXEC */);
    const fd = n < 0 ? undefined : rightsFd(control);
    if (fd === undefined) throw new TsrunError('the container did not send its terminal');
    return fd;
  }

  setWindowSize(fd: number, rows: number, cols: number): void {
    setWinsize(fd, rows, cols);
  }

  closeTheirs(): void {
    closeSync(this.theirs);
  }

  close(): void {
    closeSync(this.ours);
  }
}

/** Relays between our stdio and the pty master until stopped. */
export function relayTerminal(pair: ConsolePair, master: number): () => Promise<void> {
  const stream = new tty.ReadStream(master);
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  const resize = () => {
    if (process.stdout.isTTY) pair.setWindowSize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  process.stdout.on('resize', resize);
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.pipe(stream);
  stream.pipe(process.stdout);
  stream.on('error', () => {}); // EIO when the last slave closes
  return async () => {
    // Drain what the container wrote before it exited.
    await new Promise<void>((r) => {
      if (stream.destroyed || stream.readableEnded) return r();
      stream.once('close', () => r());
      stream.once('end', () => r());
      setTimeout(r, 200);
    });
    process.stdout.off('resize', resize);
    stdin.unpipe(stream);
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
    stdin.pause();
    stream.destroy();
  };
}
