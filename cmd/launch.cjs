'use strict';
// tsrun without its startup snapshot (native/tsrun-launch.c falls back to
// this when the snapshot does not fit the Node binary): loads the bundled
// build with V8's code cache (written by `npm run build`), which saves
// compiling the bundle on every call.
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const file = path.join(__dirname, '../dist/tsrun.js');
// process.argv[1] is this file; the arguments follow, as for the snapshot.
const source = fs.readFileSync(file, 'utf8');
let cachedData;
try {
  cachedData = fs.readFileSync(file + '.cache');
} catch {
  // no cache: compile as usual
}
const script = new vm.Script(Module.wrap(source), {
  filename: file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext()(mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
