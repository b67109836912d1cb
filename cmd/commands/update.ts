import { readFileSync } from 'node:fs';
import { type Command, runtime } from '../command';
import { UsageError } from '../usage-error';

export const updateCommand: Command = {
  name: 'update',
  usage: 'update container resource constraints',
  argsUsage: '<container-id>',
  description:
    'Flags: --resources/-r FILE|- (a linux.resources JSON), --memory, --memory-reservation, --memory-swap, --kernel-memory (ignored), --cpu-quota, --cpu-period, --cpu-shares, --cpu-rt-period, --cpu-rt-runtime, --cpuset-cpus, --cpuset-mems, --pids-limit, --blkio-weight. Memory sizes take k, m, g suffixes; -1 means unlimited.',
  flags: [],
  raw: true,
  nargs: 1,
  run: async (ctx, _f, args) => {
    // Loaded here: its flag table is not needed by any other command.
    const { parseUpdateArgs } = await import('../update-flags');
    const parsed = parseUpdateArgs(args, {
      readFile: (p) => readFileSync(p, 'utf8'),
      readStdin: () => readFileSync(0, 'utf8'),
      warn: (m) => ctx.log.log('warning', m),
    });
    if (parsed.args.length !== 1) throw new UsageError('"tsrun update" requires exactly 1 argument (usage: tsrun update [command options] <container-id>)');
    await (await runtime(ctx)).update(parsed.args[0]!, parsed.resources);
  },
};
