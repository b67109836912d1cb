import { type Command, formatFlag, runtime } from '../command';
import { UsageError } from '../usage-error';

export const listCommand: Command = {
  name: 'list',
  usage: 'lists containers started by tsrun with the given root',
  argsUsage: '',
  flags: [formatFlag, { name: 'quiet', alias: ['q'], kind: 'bool', usage: 'display only container IDs' }],
  nargs: 0,
  run: async (ctx, f) => {
    const list = (await runtime(ctx)).list();
    const format = f.format as string;
    if (f.quiet) {
      for (const c of list) process.stdout.write(c.id + '\n');
    } else if (format === 'json') {
      process.stdout.write(JSON.stringify(list) + '\n');
    } else if (format === 'table') {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...list.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('') + '\n');
    } else {
      throw new UsageError(`invalid format option "${format}": use table or json`);
    }
  },
};
