import { bundleFlag, consoleSocketFlag, type Command, type Ctx, networkFlags, noNewKeyringFlag, noPivotFlag, pidFileFlag, preserveFdsFlag, runtime } from '../command';

/** The options create and run share, from their flags. */
export function createOptions(f: Record<string, unknown>, ctx: Ctx) {
  return {
    earlyInit: ctx.early,
    bundle: (f.bundle as string) || process.cwd(),
    pidFile: (f['pid-file'] as string) || undefined,
    consoleSocket: (f['console-socket'] as string) || undefined,
    noPivot: !!f['no-pivot'],
    noNewKeyring: !!f['no-new-keyring'],
    preserveFds: (f['preserve-fds'] as number) || 0,
    network: (f.network as string) || undefined,
    publish: (f.publish as string[] | undefined) ?? [],
  };
}

export const createCommand: Command = {
  name: 'create',
  usage: 'create a container',
  argsUsage: '<container-id>',
  description: 'The create command creates an instance of a container for a bundle. The bundle is a directory with a specification file named "config.json" and a root filesystem.',
  flags: [bundleFlag, consoleSocketFlag, pidFileFlag, noPivotFlag, noNewKeyringFlag, preserveFdsFlag, ...networkFlags],
  nargs: 1,
  startsProcess: true,
  run: async (ctx, f, [id]) => {
    await (await runtime(ctx)).create(id!, createOptions(f, ctx));
  },
};
