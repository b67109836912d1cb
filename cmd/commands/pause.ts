import { type Command, runtime } from '../command';

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'pause suspends all processes inside the container',
  argsUsage: '<container-id>',
  flags: [],
  nargs: 1,
  run: async (ctx, _f, [id]) => {
    await (await runtime(ctx)).pause(id!);
  },
};
