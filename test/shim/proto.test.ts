import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode, packAny, T, timestamp, u64 } from '../../src/shim/proto';

const PROTO = join(__dirname, '../../src/shim/proto');

describe('shim protobuf messages', () => {
  it('descriptor.json is generated from the vendored .proto files', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gen = require(join(PROTO, 'generate.cjs')) as { json: string };
    const current = readFileSync(join(PROTO, 'descriptor.json'), 'utf8');
    expect(current, 'stale: run `node src/shim/proto/generate.cjs --write`').toBe(gen.json);
  });

  it('encodes with proto3 wire rules (golden bytes)', () => {
    const b = encode(T.DeleteResponse, { pid: 42, exit_status: 3, exited_at: { seconds: 1, nanos: 2 } });
    expect(b.toString('hex')).toBe('082a' + '1003' + '1a04' + '0801' + '1002');
    // Defaults are not written.
    expect(encode(T.DeleteResponse, { pid: 0, exit_status: 0 }).length).toBe(0);
    // A string field and a nested message.
    const s = encode(T.Status, { code: 5, message: 'no' });
    expect(s.toString('hex')).toBe('0805' + '12026e6f');
    // Packed repeated uint64 (proto3 default), as Go writes it.
    const cpu = encode('io.containerd.cgroups.v1.CPUUsage', { total: 1, per_cpu: [1, 2, 300] });
    expect(cpu.toString('hex')).toBe('0801' + '2204' + '0102ac02');
  });

  it('decodes requests with every field present', () => {
    const bytes = encode(T.CreateTaskRequest, {
      id: 'c1',
      bundle: '/b',
      rootfs: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u'] }],
      stdout: '/fifo/out',
    });
    const r = decode<Record<string, unknown>>(T.CreateTaskRequest, bytes);
    expect(r).toMatchObject({ id: 'c1', bundle: '/b', terminal: false, stdin: '', stdout: '/fifo/out', stderr: '' });
    expect(r.rootfs).toEqual([{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/l', 'upperdir=/u'] }]);
  });

  it('round-trips events in Anys with containerd type URLs', () => {
    const any = packAny('containerd.events.TaskExit', { container_id: 'c', id: 'c', pid: 7, exit_status: 137, exited_at: timestamp(1500) });
    expect(any.type_url).toBe('containerd.events.TaskExit');
    const back = decode<Record<string, unknown>>('containerd.events.TaskExit', any.value);
    expect(back).toEqual({ container_id: 'c', id: 'c', pid: 7, exit_status: 137, exited_at: { seconds: 1, nanos: 500_000_000 } });
    const wrapped = decode<{ type_url: string; value: Buffer }>(T.Any, encode(T.Any, any));
    expect(wrapped.type_url).toBe('containerd.events.TaskExit');
    expect(Buffer.compare(wrapped.value, any.value)).toBe(0);
  });

  it('keeps 64-bit values exact', () => {
    const limit = 9223372036854771712; // v1 "unlimited"
    const m = encode(T.Metrics, { memory: { usage: { limit: u64(limit), usage: u64(4096) } } });
    const t = decode<{ memory: { usage: { limit: number } } }>(T.Metrics, m);
    expect(BigInt(t.memory.usage.limit)).toBe(9223372036854771712n);
    expect(u64(2 ** 64)).toBe('18446744073709551615');
    expect(u64(-1)).toBe(0);
    const max = encode('io.containerd.cgroups.v1.MemoryEntry', { limit: u64(2 ** 64) });
    expect(max.toString('hex')).toBe('08ffffffffffffffffff01');
  });

  it('task service enum and timestamps', () => {
    const st = encode(T.StateResponse, { id: 'x', status: 2, exit_status: 0 });
    expect(decode<{ status: number }>(T.StateResponse, st).status).toBe(2);
    expect(timestamp(new Date(0))).toEqual({ seconds: 0, nanos: 0 });
    expect(timestamp(-1)).toEqual({ seconds: -1, nanos: 999_000_000 });
  });
});
