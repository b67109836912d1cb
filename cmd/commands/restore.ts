import { type Command, consoleSocketFlag, detachFlag, pidFileFlag } from '../command';
import { checkCriuArgs, criuFlags, criuUnavailable } from './checkpoint';

export const restoreCommand: Command = {
  name: 'restore',
  usage: 'restore a container from a previous checkpoint',
  argsUsage: '<container-id>',
  description: 'Restores the saved state of the container instance that was previously saved using the tsrun checkpoint command.',
  flags: [
    ...criuFlags,
    consoleSocketFlag,
    { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory' },
    detachFlag,
    pidFileFlag,
    { name: 'no-subreaper', kind: 'bool', usage: 'disable the use of the subreaper used to reap reparented processes' },
    { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root to jail process inside rootfs' },
    { name: 'lsm-profile', kind: 'string', usage: 'Specify an LSM profile to be used during restore in the form of TYPE:NAME' },
    { name: 'lsm-mount-context', kind: 'string', usage: 'Specify an LSM mount context to be used during restore' },
  ],
  nargs: 1,
  run: async (_ctx, f) => {
    checkCriuArgs(f, 'restore');
    criuUnavailable('restore');
  },
};
