// Runs the CLI and ends the process with its exit code, for both entry
// points (the bundle and the startup snapshot).
import { main } from './tsrun';

/** Exits as soon as the command is done: a natural exit would first tear
 * the whole V8 heap down page by page (several ms). Every command awaits its
 * own work, and writes to stdout/stderr (files, pipes, terminals) are
 * synchronous on Linux, so nothing is cut short. */
export function runAndExit(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`tsrun: ${(e as Error)?.message ?? e}\n`);
      process.exit(1);
    },
  );
}
