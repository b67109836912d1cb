import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TsrunError } from '../../src/errors';
import { bundleFlag, type Command } from '../command';

export const specCommand: Command = {
  name: 'spec',
  usage: 'create a new specification file',
  argsUsage: '',
  description: 'The spec command creates a new specification file named "config.json" for the bundle.',
  flags: [bundleFlag, { name: 'rootless', kind: 'bool', usage: 'generate a configuration for a rootless container' }],
  nargs: 0,
  run: async (_ctx, f) => {
    const { defaultSpec } = await import('../../src/oci/defaults');
    const bundle = resolve((f.bundle as string) || '.');
    const file = join(bundle, 'config.json');
    if (existsSync(file)) throw new TsrunError(`File ${file} exists. Remove it first`);
    if (!existsSync(bundle)) throw new TsrunError(`bundle ${bundle} does not exist`);
    writeFileSync(file, JSON.stringify(defaultSpec({ rootless: !!f.rootless }), null, '\t') + '\n');
  },
};
