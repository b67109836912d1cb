import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, T } from '../../src/shim/proto';
import { Code, encodeFrame, FrameDecoder, HEADER_LENGTH, MESSAGE_LENGTH_MAX, TtrpcClient, TtrpcError, TtrpcServer, TYPE_REQUEST, TYPE_RESPONSE } from '../../src/shim/ttrpc';

describe('ttrpc framing', () => {
  it('writes the 10-byte big-endian header', () => {
    const f = encodeFrame(0x01020304, TYPE_REQUEST, Buffer.from('abc'));
    expect(f.subarray(0, HEADER_LENGTH).toString('hex')).toBe('00000003' + '01020304' + '01' + '00');
    expect(f.subarray(HEADER_LENGTH).toString()).toBe('abc');
  });

  it('reassembles frames split at any byte and several in one chunk', () => {
    const a = encodeFrame(1, TYPE_REQUEST, Buffer.from('hello'));
    const b = encodeFrame(3, TYPE_RESPONSE, Buffer.alloc(0));
    const c = encodeFrame(5, TYPE_REQUEST, Buffer.alloc(70000, 7));
    const all = Buffer.concat([a, b, c]);
    for (const step of [1, 3, 10, 11, 4096, all.length]) {
      const d = new FrameDecoder();
      const got = [];
      for (let i = 0; i < all.length; i += step) got.push(...d.push(all.subarray(i, i + step)));
      expect(got.map((f) => [f.streamId, f.type, f.payload.length])).toEqual([
        [1, 1, 5],
        [3, 2, 0],
        [5, 1, 70000],
      ]);
    }
  });

  it('skips an oversized frame and goes on', () => {
    const d = new FrameDecoder();
    const head = Buffer.alloc(HEADER_LENGTH);
    head.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
    head.writeUInt32BE(9, 4);
    head.writeUInt8(1, 8);
    const first = d.push(Buffer.concat([head, Buffer.alloc(100)]));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ streamId: 9, oversized: true });
    expect(d.push(Buffer.alloc(MESSAGE_LENGTH_MAX + 1 - 100 - 10))).toHaveLength(0);
    const next = d.push(Buffer.concat([Buffer.alloc(10), encodeFrame(11, 1, Buffer.from('x'))]));
    expect(next.map((f) => f.streamId)).toEqual([11]);
  });
});

describe('ttrpc server and client', () => {
  let dir: string | undefined;
  let server: TtrpcServer | undefined;
  afterEach(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), 'tsrun-ttrpc-'));
    const path = join(dir, 's');
    server = new TtrpcServer();
    server.register('svc', 'Echo', (p, ctx) => encode(T.Status, { code: 1, message: `${decode<{ message: string }>(T.Status, p).message}:${ctx.metadata.get('ns')?.[0] ?? ''}` }));
    server.register('svc', 'Slow', async (p) => {
      await new Promise((r) => setTimeout(r, 50));
      return p;
    });
    server.register('svc', 'Fail', () => {
      throw new TtrpcError(Code.NOT_FOUND, 'no such thing');
    });
    server.register('svc', 'Crash', () => {
      throw new Error('boom');
    });
    await server.listen(path);
    return path;
  }

  it('answers requests, with metadata, errors as statuses, unknown methods as UNIMPLEMENTED', async () => {
    const path = await start();
    const c = await TtrpcClient.connect(path);
    try {
      const out = await c.call('svc', 'Echo', encode(T.Status, { message: 'hi' }), { metadata: { ns: 'default' } });
      expect(decode<{ message: string }>(T.Status, out).message).toBe('hi:default');
      await expect(c.call('svc', 'Fail', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.NOT_FOUND, message: 'no such thing' });
      await expect(c.call('svc', 'Crash', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNKNOWN, message: 'boom' });
      await expect(c.call('svc', 'Nope', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });
      await expect(c.call('other', 'Echo', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });
    } finally {
      c.close();
    }
  });

  it('serves concurrent requests on one connection, answering out of order', async () => {
    const path = await start();
    const c = await TtrpcClient.connect(path);
    try {
      const order: string[] = [];
      const slow = c.call('svc', 'Slow', Buffer.from('slow')).then((b) => order.push(b.toString()));
      const fast = c.call('svc', 'Echo', encode(T.Status, { message: 'fast' })).then(() => order.push('fast'));
      await Promise.all([slow, fast]);
      expect(order).toEqual(['fast', 'slow']);
    } finally {
      c.close();
    }
  });

  it('speaks the wire format a raw client writes (odd stream ids, raw frames)', async () => {
    const path = await start();
    const sock = createConnection(path);
    const req = encode(T.Request, { service: 'svc', method: 'Echo', payload: encode(T.Status, { message: 'raw' }), metadata: [{ key: 'NS', value: 'x' }] });
    const reply = await new Promise<Buffer>((resolve) => {
      const d = new FrameDecoder();
      sock.on('data', (chunk: Buffer) => {
        for (const f of d.push(chunk)) {
          expect(f.streamId).toBe(7);
          expect(f.type).toBe(TYPE_RESPONSE);
          resolve(f.payload);
        }
      });
      // header and body in separate writes
      const frame = encodeFrame(7, TYPE_REQUEST, req);
      sock.write(frame.subarray(0, 4));
      setTimeout(() => sock.write(frame.subarray(4)), 10);
    });
    sock.destroy();
    const res = decode<{ status: unknown; payload: Buffer }>(T.Response, reply);
    expect(res.status).toBeNull();
    expect(decode<{ message: string }>(T.Status, res.payload).message).toBe('raw:x');
  });

  it('fails pending calls when the server goes away', async () => {
    const path = await start();
    const c = await TtrpcClient.connect(path);
    const p = c.call('svc', 'Slow', Buffer.from('x'));
    server!.close();
    await expect(p).rejects.toBeInstanceOf(Error);
    expect(c.closed).toBe(true);
  });
});
