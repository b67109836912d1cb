import { type Command, runtime } from '../command';
import { UsageError } from '../usage-error';

/** Go-style durations as runc takes them: "5s", "500ms", "1m". */
function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new UsageError(`invalid duration "${text}" for --interval (e.g. 5s, 500ms)`);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new UsageError('--interval must be positive');
  return ms;
}

export const eventsCommand: Command = {
  name: 'events',
  usage: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
  argsUsage: '<container-id>',
  flags: [
    { name: 'interval', kind: 'string', default: '5s', usage: 'set the stats collection interval' },
    { name: 'stats', kind: 'bool', usage: 'display the container\'s stats then exit' },
  ],
  nargs: 1,
  run: async (ctx, f, [id]) => {
    const { jsonStringifyU64 } = await import('../../src/cgroups/fsutil');
    const rt = await runtime(ctx);
    const emit = (type: string, data?: unknown) =>
      process.stdout.write(jsonStringifyU64(data === undefined ? { type, id } : { type, id, data }) + '\n');
    if (f.stats) {
      emit('stats', rt.stats(id!).stats);
      return;
    }
    const interval = parseDuration(f.interval as string);
    let ooms = rt.stats(id!).oomKills;
    // Stats every interval, an "oom" event as soon as the kernel counts one;
    // ends when the container stops.
    let next = Date.now();
    for (;;) {
      let cur;
      try {
        cur = rt.stats(id!);
      } catch {
        return;
      }
      if (cur.oomKills > ooms) emit('oom');
      ooms = cur.oomKills;
      if (Date.now() >= next) {
        emit('stats', cur.stats);
        next = Date.now() + interval;
      }
      await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
    }
  },
};
