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
// The containerd shim (containerd-shim-tsrun-v2): a second entry point. It
// starts once and then stays up, so it needs no code cache.
await build({
  entryPoints: ['cmd/shim.ts'],
  outfile: 'dist/containerd-shim-tsrun-v2.js',
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
