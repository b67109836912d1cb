import { type Command, runtime } from '../command';

export const deleteCommand: Command = {
  name: 'delete',
  usage: 'delete any resources held by the container often used with detached container',
  argsUsage: '<container-id>',
  flags: [{ name: 'force', alias: ['f'], kind: 'bool', usage: 'Forcibly deletes the container if it is still running (uses SIGKILL)' }],
  nargs: 1,
  run: async (ctx, f, [id]) => {
    await (await runtime(ctx)).delete(id!, !!f.force);
  },
};
