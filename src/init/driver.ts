// The driver of the native init (native/, built as native/build/tsrun-init): starts it, or adopts
// the one the tsrun command started early, hands it a plan and speaks its
// control protocol:
//   Node -> init: the plan; later GO (+ the state JSON hooks get on stdin)
//   init -> Node: PID (from stage 0), then READY or ERROR(step, errno)
import type { EarlyInit } from './early-init';
import { childProcess } from '../sys/node-lazy';
import { closeSync, existsSync, writeSync } from 'node:fs';
import { sendWithFds } from '../sys/libc';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import { errnoName, errnoText, HookError, InitError, TsrunError } from '../errors';
import { ctrlFdNumber, type StdioEntry } from './fds';
import { Msg, SELF_COPY_STEP, type Plan, type Step } from './plan';
import { mark } from '../sys/trace';

const MSG_SIZE = 16;

/** The native init binary, built by `npm install` from native/ (init.c and its files). */
export function initBinary(): string {
  const override = process.env.TSRUN_INIT;
  if (override) return override;
  // dist/tsrun.js, src/init/driver.ts: look upwards for native/build.
  for (const rel of ['../native/build/tsrun-init', '../../native/build/tsrun-init']) {
    const p = join(__dirname, rel);
    if (existsSync(p)) return p;
  }
  throw new TsrunError('the native init is not built: run `npm install` (or `make -C native`) in the tsrun checkout');
}

export interface SpawnOptions {
  /** stdin, stdout, stderr for the container (file descriptors or 'inherit'/'ignore'). */
  stdio: [StdioEntry, StdioEntry, StdioEntry];
  /** Extra fds 3..3+n-1 passed through to the container (--preserve-fds). */
  preserveFds: number;
  /** More fds for the init after the control socket (ctrl+1, ctrl+2, ...). */
  extraFds?: number[];
}

/** Called with the init's host pid before it may continue; returns what the
 * init gets with GO: the state JSON for its hooks, the message for a seccomp
 * agent, and fds to pass (id-mapped mounts). */
export type OnPid = (pid: number) => Promise<{ state?: string; agent?: string; fds?: number[] }>;

export interface Launched {
  pid: number;
  /** Resolves with stage 0's exit code (relay mode: the container's). */
  exited: Promise<number>;
}

/** A native init started ahead of its plan: it waits for it on the control
 * socket, so its start-up overlaps the runtime's own work. */
export interface PendingInit {
  /** Sends the plan and drives the init to READY. */
  run(plan: Plan, onPid: OnPid): Promise<Launched>;
  /** Ends an init that will get no plan (bad config found meanwhile): it
   * sees the socket close before reading anything and exits. */
  abort(): void;
}

export function spawnInit(opts: SpawnOptions): PendingInit {
  const ctrlIndex = ctrlFdNumber(opts.preserveFds);
  const stdio: StdioEntry[] = [...opts.stdio];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  stdio.push('pipe'); // a unix socketpair in libuv: our control channel
  for (const fd of opts.extraFds ?? []) stdio.push(fd);
  mark('spawn init');
  const child = childProcess().spawn(initBinary(), [String(ctrlIndex), String(opts.extraFds?.length ?? 0)], { stdio, env: {} });
  mark('spawned');
  const ctrl = child.stdio[ctrlIndex] as Duplex;
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? osConstants.signals[signal] ?? 0 : 0)));
  });
  child.on('error', () => {});
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new TsrunError(`cannot start the native init ${initBinary()}: ${e.message}`))),
  );
  spawnError.catch(() => {}); // observed in run(); an aborted init's error is nobody's
  const reader = new MessageReader(ctrl);
  const writer = new ControlWriter(ctrl);
  return {
    run: (plan, onPid) =>
      drive(plan, onPid, {
        spawnError,
        reader,
        writer,
        exitedEarly: () => exited,
        ready: () => {
          ctrl.destroy();
          return exited;
        },
      }),
    abort: () => {
      ctrl.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** Takes over the init the tsrun command started early (see early-init.ts).
 * It is not our child: in relay mode it reports the container's exit status
 * over the socket, which stays open until then. */
export function adoptInit(early: EarlyInit, preserveFds: number): PendingInit {
  const pid = early.pid;
  const ctrl = new (require('node:net') as typeof import('node:net')).Socket({ fd: early.take(), readable: true, writable: true });
  const reader = new MessageReader(ctrl);
  const writer = new ControlWriter(ctrl);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(preserveFds, 0);
  writer.write(head); // how many inherited fds (3, 4, ...) the container keeps
  // Stage 0 relays: its EXIT message comes once the container has exited.
  const exitStatus = (): Promise<number> =>
    reader.next().then((m) => {
      ctrl.destroy();
      return m?.type === Msg.EXIT ? m.val : 255;
    });
  return {
    run: (plan, onPid) =>
      drive(plan, onPid, {
        spawnError: new Promise<never>(() => {}),
        reader,
        writer,
        exitedEarly: async () => 255, // its status is not ours to read
        ready: () => {
          if (plan.relays) return exitStatus();
          ctrl.destroy();
          return Promise.resolve(0);
        },
      }),
    abort: () => {
      ctrl.destroy();
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    },
  };
}

async function drive(
  plan: Plan,
  onPid: OnPid,
  io: {
    spawnError: Promise<never>;
    reader: MessageReader;
    writer: ControlWriter;
    /** Stage 0's exit status when it ended before sending anything. */
    exitedEarly: () => Promise<number>;
    /** Called once READY is in: closes the control socket when nothing more
     * will come on it; resolves with stage 0's exit status. */
    ready: () => Promise<number>;
  },
): Promise<Launched> {
  const { spawnError, reader, writer } = io;
  writer.write(plan.encode());

  const fail = (m: { step: number; err: number; val: number }): never => {
    if (m.step === SELF_COPY_STEP) {
      throw new InitError(`the native init cannot run from a protected copy of itself (${errnoText(m.err)}): refusing to run from the host binary`, 'protect the init binary', m.err);
    }
    const what = plan.describe(m.step);
    const step = plan.steps[m.step];
    const explained = step?.explain?.[m.err];
    if (explained) throw new InitError(`${what}: ${explained}`, what, m.err);
    if (step?.op === 'hook') throw hookStepError(step, m.err, m.val);
    if (step?.op === 'execCheck' && m.err === 2 /* ENOENT */) {
      throw new InitError(`${what}: executable file not found in $PATH`, what, m.err);
    }
    throw new InitError(`${what}: ${errnoText(m.err)}`, what, m.err);
  };

  const first = await Promise.race([reader.next(), spawnError]);
  if (!first) {
    const code = await io.exitedEarly();
    throw new TsrunError(`the native init exited (status ${code}) before creating the container`);
  }
  if (first.type === Msg.ERROR) fail(first);
  if (first.type !== Msg.PID) throw new TsrunError(`native init protocol error: unexpected message ${first.type}`);
  const pid = first.val;

  const parts = await onPid(pid);
  const payload = Buffer.concat([lengthPrefixed(parts.state ?? ''), lengthPrefixed(parts.agent ?? '')]);
  mark('GO');
  const go = Buffer.alloc(MSG_SIZE);
  go.writeUInt32LE(Msg.GO, 0);
  go.writeUInt32LE(payload.length, 12);
  if (parts.fds?.length) {
    // fds travel with the GO header (SCM_RIGHTS); the payload follows.
    const fd = writer.fd;
    if (fd === undefined) throw new TsrunError('cannot pass file descriptors: no control socket fd');
    try {
      sendWithFds(fd, go, parts.fds);
    } finally {
      for (const f of parts.fds) closeSync(f);
    }
    writer.write(payload);
  } else {
    writer.write(Buffer.concat([go, payload]));
  }

  const second = await reader.next();
  if (!second) throw new TsrunError('the container init exited before it was ready (see its stderr)');
  if (second.type === Msg.ERROR) fail(second);
  if (second.type !== Msg.READY) throw new TsrunError(`native init protocol error: unexpected message ${second.type}`);
  return { pid, exited: io.ready() };
}

const ETIMEDOUT = 110;
const ECHILD = 10;

/** The error for a HOOK step the init reports failed, with its errno and
 * the hook's wait status, worded like a host hook's failure. */
export function hookStepError(step: Step<'hook'>, errno: number, waitStatus: number): HookError {
  if (errno === ETIMEDOUT) return new HookError(`${step.what} timed out after ${step.args.timeout ?? '?'}s`);
  if (errno !== ECHILD) return new HookError(`${step.what} could not be run: ${errnoName(errno)}`);
  const signal = waitStatus & 0x7f;
  return new HookError(`${step.what} failed: ${signal ? `killed by signal ${signal}` : `exit status ${(waitStatus >> 8) & 0xff}`}`);
}

/** Writes to the control socket directly while it takes everything at once
 * (plans are far smaller than a socket's buffer): the stream machinery costs
 * about a millisecond when it first runs. Falls back to the stream for good
 * once a write would block, which keeps the order. */
class ControlWriter {
  readonly fd: number | undefined;
  private viaStream = false;

  constructor(private readonly stream: Duplex) {
    const fd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
    this.fd = fd !== undefined && fd >= 0 ? fd : undefined;
  }

  write(data: Buffer): void {
    if (!this.viaStream && this.fd !== undefined) {
      try {
        const n = writeSync(this.fd, data);
        if (n === data.length) return;
        data = data.subarray(n);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    }
    this.viaStream = true;
    this.stream.write(data);
  }
}

function lengthPrefixed(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

interface Message {
  type: number;
  step: number;
  err: number;
  val: number;
}

/** Fixed-size messages from a stream; null at end of stream. */
class MessageReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiter?: () => void;

  constructor(stream: Duplex) {
    stream.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const end = () => {
      this.ended = true;
      this.waiter?.();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  async next(): Promise<Message | null> {
    while (this.buf.length < MSG_SIZE) {
      if (this.ended) return null;
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
    const m = {
      type: this.buf.readUInt32LE(0),
      step: this.buf.readUInt32LE(4),
      err: this.buf.readInt32LE(8),
      val: this.buf.readUInt32LE(12),
    };
    this.buf = this.buf.subarray(MSG_SIZE);
    return m;
  }
}
