import { type Command, runtime } from '../command';

export const stateCommand: Command = {
  name: 'state',
  usage: 'output the state of a container',
  argsUsage: '<container-id>',
  flags: [],
  nargs: 1,
  run: async (ctx, _f, [id]) => {
    const st = await (await runtime(ctx)).state(id!);
    process.stdout.write(JSON.stringify(st, null, '  ') + '\n');
  },
};
