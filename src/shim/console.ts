// A console socket for a container with a terminal: the init connects to it
// and sends the pty master with SCM_RIGHTS before it reports ready, so once
// create/exec has returned the master is waiting in the socket.
import { unlinkSync } from 'node:fs';
import { closeFd, listenUnix, tryAccept, tryReceiveFd } from '../sys/libc';

export class ConsoleSocket {
  private readonly fd: number;
  private closed = false;

  constructor(readonly path: string) {
    try {
      unlinkSync(path);
    } catch {
      // not there
    }
    this.fd = listenUnix(path);
  }

  /** The pty master, waiting at most timeoutMs for it. */
  async receiveMaster(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let conn = -1;
    try {
      for (;;) {
        if (conn < 0) conn = tryAccept(this.fd);
        if (conn >= 0) {
          const master = tryReceiveFd(conn);
          if (master >= 0) return master;
        }
        if (Date.now() > deadline) throw new Error('the container did not send its terminal');
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      closeFd(conn);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
    try {
      unlinkSync(this.path);
    } catch {
      // gone
    }
  }
}
