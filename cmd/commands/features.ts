import type { Command } from '../command';

export const featuresCommand: Command = {
  name: 'features',
  usage: 'show the enabled features',
  argsUsage: '',
  flags: [],
  nargs: 0,
  run: async () => {
    const { features } = await import('../../src/oci/features');
    process.stdout.write(JSON.stringify(features(), null, '    ') + '\n');
  },
};
