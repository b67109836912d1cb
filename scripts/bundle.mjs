// Bundles the CLI into one file (one module to load keeps start-up short),
// writes V8's code cache for it, and makes tsrun's startup snapshot:
//   dist/tsrun.js (+ .cache)   the CLI, for cmd/launch.cjs (the slow path)
//   dist/tsrun.blob            Node's startup snapshot with the CLI loaded
//   dist/tsrun.launch          what native/tsrun-launch.c needs to use it
//   dist/containerd-shim-tsrun-v2.js   the containerd shim
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import Module from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
// `tsrun --version` prints the commit it was built from, as runc does.
function commit() {
  try {
    return execFileSync('git', ['-C', root, 'describe', '--always', '--dirty', '--long'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Loaded at run time from node_modules: koffi (native), and the D-Bus
  // client, which only --systemd-cgroup uses (kept out of the snapshot).
  external: ['koffi', '@jellybrick/dbus-next'],
  legalComments: 'none',
  logLevel: 'warning',
  define: { TSRUN_COMMIT: JSON.stringify(commit()) },
};

const outfile = join(dist, 'tsrun.js');
await build({ ...common, entryPoints: [join(root, 'cmd/main.ts')], outfile });
// The containerd shim (containerd-shim-tsrun-v2): a second entry point. It
// starts once and then stays up, so it needs no code cache.
await build({ ...common, entryPoints: [join(root, 'cmd/shim.ts')], outfile: join(dist, 'containerd-shim-tsrun-v2.js') });
const script = new Script(Module.wrap(readFileSync(outfile, 'utf8')), { filename: outfile });
writeFileSync(`${outfile}.cache`, script.createCachedData());

// The startup snapshot. Node's flags for the CLI go in dist/tsrun.launch too.
const launchInfo = join(dist, 'tsrun.launch');
const blob = join(dist, 'tsrun.blob');
const snapshotEntry = join(dist, 'tsrun-snapshot.js');
rmSync(launchInfo, { force: true });
await build({ ...common, entryPoints: [join(root, 'cmd/snapshot.ts')], outfile: snapshotEntry });
try {
  // Without NODE_EXTRA_CA_CERTS, as the launcher starts Node.
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapshotEntry], { cwd: dist, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const st = statSync(process.execPath);
  const identity = `${st.dev} ${st.ino} ${st.size} ${Math.floor(st.mtimeMs / 1000)}`;
  const nodeArgs = [`--snapshot-blob=${blob}`];
  writeFileSync(launchInfo, [root, process.execPath, identity, ...nodeArgs].join('\n') + '\n');
} catch (e) {
  // tsrun still works, through cmd/launch.cjs: slower to start.
  process.stderr.write(`warning: no startup snapshot for tsrun (${e.stderr?.toString().trim().split('\n').pop() ?? e.message}); tsrun starts slower\n`);
}
