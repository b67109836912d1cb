// Test helper: the official OCI runtime-spec JSON schemas (in ../shared/oci-schema relative to
// the repo root) loaded into one Ajv instance, used as an oracle.

import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const REPO_ROOT = path.resolve(__dirname, '../..');
export const SCHEMA_DIR = path.resolve(REPO_ROOT, '../shared/oci-schema');

// config-schema.json refers to other platforms' files that the shared copy does not carry.
const STUBS: Record<string, object> = {
  'config-solaris.json': { solaris: { type: 'object' } },
  'config-windows.json': { windows: { type: 'object' } },
  'config-vm.json': { vm: { type: 'object' } },
  'config-zos.json': { zos: { type: 'object' } },
  'config-freebsd.json': { freebsd: { type: 'object' } },
};

export interface Oracle {
  config: ValidateFunction;
  state: ValidateFunction;
  features: ValidateFunction;
  errors(fn: ValidateFunction): string;
}

export function loadOracle(): Oracle {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const file of fs.readdirSync(SCHEMA_DIR)) {
    if (!file.endsWith('.json')) continue;
    const schema = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
    // The files declare draft-04; the keywords they use mean the same in Ajv's default draft-07.
    delete schema.$schema;
    ajv.addSchema(schema, file);
  }
  for (const [file, schema] of Object.entries(STUBS)) {
    if (!ajv.getSchema(file)) ajv.addSchema(schema, file);
  }
  const get = (key: string) => {
    const fn = ajv.getSchema(key);
    if (!fn) throw new Error(`schema ${key} not found in ${SCHEMA_DIR}`);
    return fn;
  };
  return {
    config: get('config-schema.json'),
    state: get('state-schema.json'),
    features: get('features-schema.json'),
    errors: (fn) => ajv.errorsText(fn.errors),
  };
}
