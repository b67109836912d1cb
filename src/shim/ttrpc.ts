// ttrpc, containerd's RPC protocol for shims, over unix sockets. Each frame
// is a 10-byte header (big-endian u32 payload length, u32 stream id, u8 type
// 1=request/2=response, u8 flags) and a protobuf payload: a ttrpc.Request
// {service, method, payload, timeout_nano, metadata} or a ttrpc.Response
// {status (google.rpc.Status), payload}. Clients use odd stream ids; a
// connection carries many requests at once and answers may come in any order.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { decode, encode, T } from './proto';

export const HEADER_LENGTH = 10;
export const MESSAGE_LENGTH_MAX = 4 << 20;
export const TYPE_REQUEST = 1;
export const TYPE_RESPONSE = 2;

/** gRPC status codes (containerd's errdefs maps them to its error kinds). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** An error with a status code, sent to the client as google.rpc.Status. */
export class TtrpcError extends Error {
  override name = 'TtrpcError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  payload: Buffer;
}

export function encodeFrame(streamId: number, type: number, payload: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(HEADER_LENGTH);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt32BE(streamId >>> 0, 4);
  head.writeUInt8(type, 8);
  head.writeUInt8(flags, 9);
  return Buffer.concat([head, payload]);
}

/** Splits a byte stream into frames. Oversized frames are skipped and
 * reported with `oversized: true` (and an empty payload), as ttrpc does. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private length = 0;
  private skip = 0;

  push(data: Buffer): (Frame & { oversized?: boolean })[] {
    const out: (Frame & { oversized?: boolean })[] = [];
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    if (data.length) {
      this.chunks.push(data);
      this.length += data.length;
    }
    for (;;) {
      if (this.length < HEADER_LENGTH) break;
      const buf = this.flatten();
      const len = buf.readUInt32BE(0);
      const frame = { streamId: buf.readUInt32BE(4), type: buf.readUInt8(8), flags: buf.readUInt8(9) };
      if (len > MESSAGE_LENGTH_MAX) {
        const have = buf.length - HEADER_LENGTH;
        const dropped = Math.min(have, len);
        this.skip = len - dropped;
        this.reset(buf.subarray(HEADER_LENGTH + dropped));
        out.push({ ...frame, payload: Buffer.alloc(0), oversized: true });
        if (this.skip > 0) break;
        continue;
      }
      if (buf.length < HEADER_LENGTH + len) break;
      out.push({ ...frame, payload: Buffer.from(buf.subarray(HEADER_LENGTH, HEADER_LENGTH + len)) });
      this.reset(buf.subarray(HEADER_LENGTH + len));
    }
    return out;
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private reset(rest: Buffer): void {
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
  }
}

export interface RequestContext {
  service: string;
  method: string;
  /** Request metadata (keys lower-cased), e.g. containerd-namespace-ttrpc. */
  metadata: Map<string, string[]>;
  /** The request's deadline (ms since the epoch), if the client set one. */
  deadline?: number;
}

export type Handler = (payload: Buffer, ctx: RequestContext) => Promise<Buffer> | Buffer;

interface WireRequest {
  service: string;
  method: string;
  payload: Buffer;
  timeout_nano: number;
  metadata: { key: string; value: string }[];
}

/** A ttrpc server: register handlers, then `listen` or `handle` sockets. */
export class TtrpcServer {
  private readonly handlers = new Map<string, Handler>();
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  /** Called when a connection opens or closes (the shim's idle accounting). */
  onConnectionChange?: (open: number) => void;
  /** Called when a handler throws something that is not a TtrpcError. */
  onError?: (e: unknown, ctx: RequestContext) => void;

  register(service: string, method: string, handler: Handler): void {
    this.handlers.set(`${service}/${method}`, handler);
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Listens on a unix socket path (already unlinked by the caller). */
  listen(path: string): Promise<Server> {
    const server = createServer((s) => this.handle(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  close(): void {
    this.server?.close();
    for (const s of this.sockets) s.destroy();
  }

  handle(sock: Socket): void {
    this.sockets.add(sock);
    this.onConnectionChange?.(this.sockets.size);
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) void this.dispatch(sock, f);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.sockets.delete(sock);
      this.onConnectionChange?.(this.sockets.size);
    });
  }

  private async dispatch(sock: Socket, f: Frame & { oversized?: boolean }): Promise<void> {
    if (f.type !== TYPE_REQUEST) return; // nothing else is meaningful from a client
    const reply = (status: { code: number; message: string } | null, payload: Buffer) => {
      if (sock.destroyed) return;
      const body = encode(T.Response, status ? { status, payload } : { payload });
      sock.write(encodeFrame(f.streamId, TYPE_RESPONSE, body));
    };
    if (f.oversized) {
      reply({ code: Code.RESOURCE_EXHAUSTED, message: `message length exceeds maximum message size of ${MESSAGE_LENGTH_MAX}` }, Buffer.alloc(0));
      return;
    }
    let req: WireRequest;
    try {
      req = decode<WireRequest>(T.Request, f.payload);
    } catch (e) {
      reply({ code: Code.INVALID_ARGUMENT, message: `cannot decode request: ${(e as Error).message}` }, Buffer.alloc(0));
      return;
    }
    const metadata = new Map<string, string[]>();
    for (const kv of req.metadata) {
      const k = kv.key.toLowerCase();
      metadata.set(k, [...(metadata.get(k) ?? []), kv.value]);
    }
    const ctx: RequestContext = {
      service: req.service,
      method: req.method,
      metadata,
      deadline: req.timeout_nano > 0 ? Date.now() + req.timeout_nano / 1e6 : undefined,
    };
    const handler = this.handlers.get(`${req.service}/${req.method}`);
    if (!handler) {
      reply({ code: Code.UNIMPLEMENTED, message: `${req.service}/${req.method}: not implemented` }, Buffer.alloc(0));
      return;
    }
    try {
      const out = await handler(req.payload, ctx);
      reply(null, out);
    } catch (e) {
      if (e instanceof TtrpcError) {
        reply({ code: e.code, message: e.message }, Buffer.alloc(0));
      } else {
        this.onError?.(e, ctx);
        reply({ code: Code.UNKNOWN, message: e instanceof Error ? e.message : String(e) }, Buffer.alloc(0));
      }
    }
  }
}

/** A ttrpc client on one connection (the shim uses it to forward events). */
export class TtrpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private closedError?: Error;

  private constructor(private readonly sock: Socket) {
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.type !== TYPE_RESPONSE) continue;
        const p = this.pending.get(f.streamId);
        if (!p) continue;
        this.pending.delete(f.streamId);
        try {
          const res = decode<{ status: { code: number; message: string } | null; payload: Buffer }>(T.Response, f.payload);
          if (res.status && res.status.code !== Code.OK) p.reject(new TtrpcError(res.status.code, res.status.message));
          else p.resolve(res.payload);
        } catch (e) {
          p.reject(e as Error);
        }
      }
    });
    const fail = (e?: Error) => {
      this.closedError = e ?? new TtrpcError(Code.UNAVAILABLE, 'ttrpc: closed');
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
    };
    sock.on('error', fail);
    sock.on('close', () => fail());
  }

  static connect(path: string, timeoutMs = 5000): Promise<TtrpcClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `ttrpc: connecting to ${path} timed out`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new TtrpcClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined || this.sock.destroyed;
  }

  call(service: string, method: string, payload: Buffer, opts: { metadata?: Record<string, string>; timeoutMs?: number } = {}): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId;
    this.nextId += 2;
    const metadata = Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value }));
    const body = encode(T.Request, { service, method, payload, timeout_nano: opts.timeoutMs ? opts.timeoutMs * 1e6 : 0, metadata });
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new TtrpcError(Code.DEADLINE_EXCEEDED, `ttrpc: ${service}/${method} timed out`));
        }, opts.timeoutMs);
      }
      this.pending.set(id, {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sock.write(encodeFrame(id, TYPE_REQUEST, body));
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
