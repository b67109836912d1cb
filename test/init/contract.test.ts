// The plan contract, end to end: every operation the TypeScript side can
// emit, with generated field values, is decoded by the native init's own
// (generated) decoder exactly as encoded. build/plan-echo is that decoder
// printing what it read; a drift between the two sides is a red test here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutOf, MAX_SLOTS, NO_SLOT, OPS, type FieldLayout, type OpName } from '../../src/init/ops';
import { Plan } from '../../src/init/plan';
import { prng } from '../prng';

const ECHO = join(__dirname, '../../native/build/plan-echo');
const SEED = 20261203;

function echo(buf: Buffer): { code: number | null; lines: Record<string, unknown>[] } {
  const r = spawnSync(ECHO, [], { input: buf, encoding: 'utf8' });
  return { code: r.status, lines: r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Values a field of this type may carry, and what plan-echo prints for them. */
function generate(f: FieldLayout, rnd: () => number): { value: unknown; printed: unknown } {
  const int = (n: number) => Math.floor(rnd() * n);
  const str = () => {
    const pool = ['', 'a', '/proc/self/fd', 'h\u00e9', '\u{1F600}', 'quote"back\\slash', 'tab\tnewline\n', 'x'.repeat(300)];
    return pool[int(pool.length)]!;
  };
  const u64 = (): { value: number | bigint; printed: string } => {
    const pick = int(5);
    if (pick === 0) return { value: 0, printed: '0' };
    if (pick === 1) return { value: int(2 ** 31), printed: '' };
    if (pick === 2) return { value: -1, printed: (2n ** 64n - 1n).toString() };
    if (pick === 3) return { value: 2 ** 40 + int(1000), printed: '' };
    return { value: (1n << 63n) | BigInt(int(1 << 30)), printed: '' };
  };
  const asPrinted = (v: number | bigint, p: string) => p || BigInt.asUintN(64, BigInt(v)).toString();
  switch (f.type) {
    case 'u64': {
      const { value, printed } = u64();
      return { value, printed: asPrinted(value, printed) };
    }
    case 'slot': {
      const value = f.optional && int(3) === 0 ? NO_SLOT : int(MAX_SLOTS);
      return { value, printed: String(value) };
    }
    case 'str': {
      const value = str();
      return { value, printed: value };
    }
    case 'strv': {
      const value = Array.from({ length: int(4) }, str);
      return { value, printed: value };
    }
    case 'bytes': {
      const value = Buffer.from(Array.from({ length: int(40) }, () => int(256)));
      return { value, printed: value.toString('hex') };
    }
    case 'u64v': {
      const vs = Array.from({ length: int(5) }, u64);
      return { value: vs.map((v) => v.value), printed: vs.map((v) => asPrinted(v.value, v.printed)) };
    }
  }
}

describe('the plan contract (src/init/ops.ts, encoded here, decoded by the native init)', () => {
  it('plan-echo is built', () => {
    expect(existsSync(ECHO), `${ECHO}: run npm run build`).toBe(true);
  });

  it('every operation, with every optional field given or left out, round-trips field by field', () => {
    const rnd = prng(SEED);
    const plan = new Plan();
    const expected: Record<string, unknown>[] = [];
    const names = Object.keys(OPS) as OpName[];
    for (let round = 0; round < 8; round++) {
      for (const op of names) {
        const args: Record<string, unknown> = {};
        const printed: Record<string, unknown> = { op };
        for (const f of layoutOf(op)) {
          if (f.optional && rnd() < 0.3) {
            printed[f.name] = f.type === 'slot' ? String(NO_SLOT) : f.type === 'u64' ? '0' : '';
            continue;
          }
          const g = generate(f, rnd);
          args[f.name] = g.value;
          printed[f.name] = g.printed;
        }
        (plan.add as (op: OpName, what: string, args: unknown) => Plan)(op, op, args);
        expected.push(printed);
      }
    }
    const r = echo(plan.encode());
    expect(r.lines).toEqual(expected);
    expect(r.code).toBe(0);
  });

  it('a step with a byte too many or too few, a slot out of range, or an unknown op is refused (EINVAL / ENOSYS)', () => {
    const good = new Plan().add('setns', 'x', { path: '/proc/1/ns/net', nstype: 0x40000000 }).encode();
    expect(echo(good).lines).toEqual([{ op: 'setns', path: '/proc/1/ns/net', nstype: String(0x40000000) }]);

    const patch = (b: Buffer, f: (b: Buffer) => Buffer) => {
      const out = f(Buffer.from(b));
      out.writeUInt32LE(out.length - 4, 0);
      return out;
    };
    // One trailing byte inside the step.
    const long = patch(good, (b) => {
      const x = Buffer.concat([b, Buffer.from([0])]);
      x.writeUInt32LE(x.readUInt32LE(8) + 1, 8);
      return x;
    });
    expect(echo(long).lines).toEqual([{ error: 22 }]);
    // The u64 cut short.
    const short = patch(good, (b) => {
      const x = b.subarray(0, b.length - 1);
      x.writeUInt32LE(x.readUInt32LE(8) - 1, 8);
      return x;
    });
    expect(echo(short).lines).toEqual([{ error: 22 }]);
    // A step length beyond the plan.
    const beyond = Buffer.from(good);
    beyond.writeUInt32LE(beyond.readUInt32LE(8) + 100, 8);
    expect(echo(beyond).lines).toEqual([{ error: 22 }]);

    expect(echo(new Plan().add('joinCgroup', 'x', { slot: MAX_SLOTS }).encode()).lines).toEqual([{ error: 22 }]);
    expect(echo(new Plan().add('joinCgroup', 'x', { slot: NO_SLOT }).encode()).lines).toEqual([{ error: 22 }]);
    expect(echo(new Plan().add('clone', 'x', { flags: 0, cgroupSlot: MAX_SLOTS }).encode()).lines).toEqual([{ error: 22 }]);

    const unknown = Buffer.from(new Plan().add('ready', 'x').encode());
    unknown.writeUInt32LE(9999, 4);
    expect(echo(unknown).lines).toEqual([{ error: 38 }]);
  });

  it('the generated native files are up to date with src/init/ops.ts', () => {
    const r = spawnSync(process.execPath, [join(__dirname, '../../scripts/gen-plan-abi.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('opcodes are unique', () => {
    const codes = Object.values(OPS).map((o) => o.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
