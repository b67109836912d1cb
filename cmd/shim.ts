// Entry point of containerd-shim-tsrun-v2 (bundled to dist/containerd-shim-tsrun-v2.js,
// run by bin/containerd-shim-tsrun-v2). See src/shim/main.ts.
import { main } from '../src/shim/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`containerd-shim-tsrun-v2: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
