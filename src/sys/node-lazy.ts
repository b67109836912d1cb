// Node modules the hot path must not load up front. node:child_process pulls
// in net, stream and dgram (~4 ms of a `tsrun run`), and tsrun's startup
// snapshot must not contain it (Node does not support it there yet), so it
// is required where a child process is started, not at module load.
import type * as ChildProcessModule from 'node:child_process';

export function childProcess(): typeof ChildProcessModule {
  return require('node:child_process') as typeof ChildProcessModule;
}
