// Bundles the CLI into one file (one module to load keeps start-up short)
// and writes V8's code cache for it, which bin/tsrun hands to vm.Script.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { Script } from 'node:vm';
import Module from 'node:module';

const outfile = 'dist/tsrun.js';
await build({
  entryPoints: ['cmd/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  legalComments: 'none',
  logLevel: 'warning',
});
const script = new Script(Module.wrap(readFileSync(outfile, 'utf8')), { filename: new URL(`../${outfile}`, import.meta.url).pathname });
writeFileSync(`${outfile}.cache`, script.createCachedData());
