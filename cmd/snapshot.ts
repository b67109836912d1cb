// Entry point of tsrun's startup snapshot (dist/tsrun.blob, made by
// `npm run build`; native/tsrun-launch.c starts Node with it): the CLI
// already loaded and its hot path compiled. Node runs the function below
// with the command line once the snapshot is restored.
import { startupSnapshot } from 'node:v8';
import { runAndExit } from './exit';
import { warmUp } from './warm-up';

void warmUp();
startupSnapshot.setDeserializeMainFunction(() => runAndExit(process.argv.slice(2)));
