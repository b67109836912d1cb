import { type Command, runtime } from '../command';

export const resumeCommand: Command = {
  name: 'resume',
  usage: 'resumes all processes that have been previously paused',
  argsUsage: '<container-id>',
  flags: [],
  nargs: 1,
  run: async (ctx, _f, [id]) => {
    await (await runtime(ctx)).resume(id!);
  },
};
