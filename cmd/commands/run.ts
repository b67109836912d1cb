import { bundleFlag, type Command, consoleSocketFlag, detachFlag, forwardSignals, networkFlags, noNewKeyringFlag, noPivotFlag, pidFileFlag, preserveFdsFlag, runtime } from '../command';
import { createOptions } from './create';

export const runCommand: Command = {
  name: 'run',
  usage: 'create and run a container',
  argsUsage: '<container-id>',
  description: 'The run command creates an instance of a container for a bundle and starts it; in the foreground it waits for the container and exits with its exit code.',
  flags: [
    bundleFlag,
    consoleSocketFlag,
    detachFlag,
    { name: 'keep', kind: 'bool', usage: 'do not delete the container after it exits' },
    pidFileFlag,
    noPivotFlag,
    noNewKeyringFlag,
    preserveFdsFlag,
    ...networkFlags,
  ],
  nargs: 1,
  startsProcess: true,
  run: async (ctx, f, [id]) => {
    const rt = await runtime(ctx);
    let stop = () => {};
    const code = await rt.run(id!, {
      ...createOptions(f, ctx),
      detach: !!f.detach,
      keep: !!f.keep,
      onStarted: (pid) => (stop = forwardSignals(pid)),
    });
    stop();
    return code;
  },
};
