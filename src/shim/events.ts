// Task events back to containerd, in order. Like containerd's own v2 shims,
// events are forwarded over ttrpc to containerd's TTRPC_ADDRESS
// (containerd.services.events.ttrpc.v1.Events/Forward, one connection kept
// open): no process per event. Without a ttrpc address they go through
// `-publish-binary` (`containerd --address A publish --topic T --namespace N`
// with the event, a google.protobuf.Any, on stdin).
import { spawn } from 'node:child_process';
import { encode, packAny, T, timestamp } from './proto';
import { TtrpcClient } from './ttrpc';

export const Topic = {
  create: '/tasks/create',
  start: '/tasks/start',
  exit: '/tasks/exit',
  delete: '/tasks/delete',
  execAdded: '/tasks/exec-added',
  execStarted: '/tasks/exec-started',
  oom: '/tasks/oom',
  paused: '/tasks/paused',
  resumed: '/tasks/resumed',
} as const;

const EVENT_TYPES: Record<string, string> = {
  [Topic.create]: 'containerd.events.TaskCreate',
  [Topic.start]: 'containerd.events.TaskStart',
  [Topic.exit]: 'containerd.events.TaskExit',
  [Topic.delete]: 'containerd.events.TaskDelete',
  [Topic.execAdded]: 'containerd.events.TaskExecAdded',
  [Topic.execStarted]: 'containerd.events.TaskExecStarted',
  [Topic.oom]: 'containerd.events.TaskOOM',
  [Topic.paused]: 'containerd.events.TaskPaused',
  [Topic.resumed]: 'containerd.events.TaskResumed',
};

const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const NAMESPACE_HEADER = 'containerd-namespace-ttrpc';
const ATTEMPTS = 5;

export interface PublisherOptions {
  namespace: string;
  /** containerd's ttrpc socket (the TTRPC_ADDRESS environment variable). */
  ttrpcAddress?: string;
  /** `-publish-binary` and `-address`, used when there is no ttrpc address. */
  publishBinary?: string;
  address?: string;
  log?: (msg: string) => void;
}

export interface Envelope {
  topic: string;
  type: string;
  event: Record<string, unknown>;
  at: Date;
}

export class Publisher {
  private queue: Envelope[] = [];
  private running = false;
  private client?: TtrpcClient;
  private idle: (() => void)[] = [];
  /** Everything published so far (tests and debugging). */
  readonly sent: Envelope[] = [];
  /** Replaces the transport (tests). */
  transport?: (e: Envelope) => Promise<void>;

  constructor(private readonly opts: PublisherOptions) {}

  publish(topic: string, event: Record<string, unknown>): void {
    const type = EVENT_TYPES[topic];
    if (!type) throw new Error(`unknown event topic ${topic}`);
    this.queue.push({ topic, type, event, at: new Date() });
    if (!this.running) void this.drain();
  }

  /** Resolves once everything queued so far has been sent (or given up on). */
  flush(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length) {
      const e = this.queue.shift()!;
      for (let attempt = 1; ; attempt++) {
        try {
          await (this.transport ?? ((x: Envelope) => this.send(x)))(e);
          this.sent.push(e);
          break;
        } catch (err) {
          this.client?.close();
          this.client = undefined;
          if (attempt >= ATTEMPTS) {
            this.opts.log?.(`dropping event ${e.topic}: ${(err as Error).message}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 50 * attempt));
        }
      }
    }
    this.running = false;
    for (const r of this.idle.splice(0)) r();
  }

  private async send(e: Envelope): Promise<void> {
    const any = packAny(e.type, e.event);
    if (this.opts.ttrpcAddress) {
      if (!this.client || this.client.closed) this.client = await TtrpcClient.connect(this.opts.ttrpcAddress.replace(/^unix:\/\//, ''));
      const req = encode(T.ForwardRequest, {
        envelope: { timestamp: timestamp(e.at), namespace: this.opts.namespace, topic: e.topic, event: any },
      });
      await this.client.call(EVENTS_SERVICE, 'Forward', req, { metadata: { [NAMESPACE_HEADER]: this.opts.namespace }, timeoutMs: 5000 });
      return;
    }
    if (!this.opts.publishBinary) throw new Error('no way to publish events: neither TTRPC_ADDRESS nor -publish-binary');
    await publishWithBinary(this.opts.publishBinary, this.opts.address ?? '', this.opts.namespace, e.topic, encode(T.Any, any));
  }
}

function publishWithBinary(bin: string, address: string, ns: string, topic: string, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [...(address ? ['--address', address] : []), 'publish', '--topic', topic, '--namespace', ns];
    const child = spawn(bin, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} publish exited with ${code}: ${err.trim()}`))));
    child.stdin!.on('error', () => {});
    child.stdin!.end(payload);
  });
}
