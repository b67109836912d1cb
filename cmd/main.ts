// Entry point of the bundled CLI (dist/tsrun.js, loaded by cmd/launch.cjs
// when the startup snapshot cannot be used).
import { runAndExit } from './exit';

runAndExit(process.argv.slice(2));
