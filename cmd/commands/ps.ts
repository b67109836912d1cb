import { childProcess } from '../../src/sys/node-lazy';
import { type Command, formatFlag, runtime } from '../command';
import { UsageError } from '../usage-error';

export const psCommand: Command = {
  name: 'ps',
  usage: 'ps displays the processes running inside a container',
  argsUsage: '<container-id> [ps options]',
  interspersed: false,
  flags: [formatFlag],
  nargs: [1, Infinity],
  run: async (ctx, f, [id, ...psArgs]) => {
    const pids = (await runtime(ctx)).pids(id!);
    if (f.format === 'json') {
      process.stdout.write(JSON.stringify(pids) + '\n');
      return;
    }
    if (f.format !== 'table') throw new UsageError(`invalid format option "${f.format}": use table or json`);
    // Like runc: the host's ps, filtered to the container's processes.
    const out = childProcess().execFileSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' }).split('\n');
    const header = out[0] ?? '';
    const col = header.trim().split(/\s+/).indexOf('PID');
    if (col < 0) throw new UsageError('ps: the output of ps has no PID column');
    const wanted = new Set(pids.map(String));
    process.stdout.write(header + '\n');
    for (const line of out.slice(1)) if (wanted.has(line.trim().split(/\s+/)[col] ?? '')) process.stdout.write(line + '\n');
  },
};
