// Entry point of the tsrun binary (bundled to dist/tsrun.js).
import { main } from './tsrun';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tsrun: ${(e as Error)?.message ?? e}\n`);
    process.exitCode = 1;
  },
);
