// Parses the vendored .proto files with protobuf.js and prints the JSON
// descriptor the shim loads at run time. `node src/shim/proto/generate.cjs
// --write` rewrites descriptor.json; test/shim/proto.test.ts checks it is
// current.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const protobuf = require('protobufjs');

const FILES = [
  'ttrpc/ttrpc.proto',
  'task/shim.proto',
  'events/task.proto',
  'events/ttrpc-events.proto',
  'cgroups/metrics.proto',
  'cgroups/metrics-v2.proto',
];

/** Import paths as the upstream files write them, to our copies. */
const IMPORTS = {
  'github.com/containerd/containerd/api/types/mount.proto': 'types/mount.proto',
  'github.com/containerd/containerd/api/types/task/task.proto': 'types/task.proto',
  'google/rpc/status.proto': 'google/rpc/status.proto',
};
/** Go code-generation options only: not needed to encode or decode. */
const SKIPPED = ['gogoproto/gogo.proto', 'github.com/containerd/containerd/protobuf/plugin/fieldpath.proto'];

function descriptor() {
  const root = new protobuf.Root();
  const seen = new Set();
  const load = (rel) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const text = readFileSync(join(__dirname, rel), 'utf8');
    const parsed = protobuf.parse(text, root, { keepCase: true, alternateCommentMode: false });
    for (const imp of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      if (SKIPPED.includes(imp)) continue;
      if (imp.startsWith('google/protobuf/')) {
        if (seen.has(imp)) continue;
        seen.add(imp);
        const common = protobuf.common.get(imp);
        if (!common) throw new Error(`${rel}: unknown import ${imp}`);
        root.addJSON(common.nested);
        continue;
      }
      const mapped = IMPORTS[imp];
      if (!mapped) throw new Error(`${rel}: unknown import ${imp}`);
      load(mapped);
    }
  };
  for (const f of FILES) load(f);
  root.resolveAll();
  return stripOptions(root.toJSON({ keepComments: false }));
}

/** Drops options (gogoproto's, go_package...) that mean nothing to protobuf.js. */
function stripOptions(node, isNameMap = false) {
  if (Array.isArray(node)) return node.map((n) => stripOptions(n));
  if (node && typeof node === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      // In "fields", "nested", "methods", "values" the keys are names, not properties.
      if (!isNameMap && (k === 'options' || k === 'comment' || k === 'comments')) continue;
      out[k] = stripOptions(v, !isNameMap && ['fields', 'nested', 'methods', 'values', 'oneofs'].includes(k));
    }
    return out;
  }
  return node;
}

const json = JSON.stringify(descriptor(), null, 1) + '\n';
if (require.main === module) {
  if (process.argv.includes('--write')) writeFileSync(join(__dirname, 'descriptor.json'), json);
  else process.stdout.write(json);
}
module.exports = { descriptor, json };
