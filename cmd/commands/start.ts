import { type Command, runtime } from '../command';

export const startCommand: Command = {
  name: 'start',
  usage: 'executes the user defined process in a created container',
  argsUsage: '<container-id>',
  flags: [],
  nargs: 1,
  run: async (ctx, _f, [id]) => {
    await (await runtime(ctx)).start(id!);
  },
};
