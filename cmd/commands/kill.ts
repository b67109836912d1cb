import { type Command, runtime } from '../command';

export const killCommand: Command = {
  name: 'kill',
  usage: 'kill sends the specified signal (default: SIGTERM) to the container\'s init process',
  argsUsage: '<container-id> [signal]',
  flags: [{ name: 'all', alias: ['a'], kind: 'bool', usage: 'send the specified signal to all processes inside the container' }],
  nargs: [1, 2],
  run: async (ctx, f, [id, sig]) => {
    const { parseSignal } = await import('../../src/runtime/signals');
    const signal = parseSignal(sig ?? 'SIGTERM', { allowZero: true });
    await (await runtime(ctx)).kill(id!, signal, !!f.all);
  },
};
