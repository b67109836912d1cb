// The native init the tsrun command starts before Node (native/tsrun-launch.c):
// it boots while Node does, and waits on its control socket for a plan.
// create, run and exec hand it theirs when they can; otherwise it is let go
// (it reads EOF and exits).
import { closeSync } from 'node:fs';
import { ctrlFdNumber, type StdioEntry } from './fds';

export class EarlyInit {
  private open = true;

  constructor(
    /** Our end of its control socket (not close-on-exec: see usableFor). */
    readonly fd: number,
    readonly pid: number,
  ) {}

  /** From TSRUN_EARLY_INIT="fd pid", which is removed so that no child
   * process of ours sees it. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): EarlyInit | undefined {
    const value = env.TSRUN_EARLY_INIT;
    delete env.TSRUN_EARLY_INIT;
    const m = /^(\d+) (\d+)$/.exec(value ?? '');
    return m ? new EarlyInit(Number(m[1]), Number(m[2])) : undefined;
  }

  /** It has the command's own stdio and fds, and nothing else may be spawned
   * while its socket is open: Node cannot mark an inherited fd close-on-exec,
   * so a hook or helper would inherit the socket. */
  usableFor(o: { stdio: StdioEntry[]; preserveFds: number; extraFds: number[]; spawnsHelpers: boolean }): boolean {
    return this.open && o.stdio.every((s) => s === 'inherit') && o.extraFds.length === 0 && ctrlFdNumber(o.preserveFds) <= this.fd && !o.spawnsHelpers;
  }

  /** Hands the socket over (its new owner closes it). */
  take(): number {
    this.open = false;
    return this.fd;
  }

  /** Lets it go, if nobody took it. */
  release(): void {
    if (!this.open) return;
    this.open = false;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
  }
}
