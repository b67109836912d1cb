// Bundles the CLI into one file: one module to load keeps start-up short.
import { build } from 'esbuild';

await build({
  entryPoints: ['cmd/main.ts'],
  outfile: 'dist/tsrun.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  legalComments: 'none',
  logLevel: 'warning',
});
