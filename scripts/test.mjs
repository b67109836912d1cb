#!/usr/bin/env node
// `npm test`: build, type-check, then every test (vitest), ending with one
// plain summary line "tests: N passed, N failed" that CI reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
if (run('npm', ['run', '--silent', 'build']) !== 0) process.exit(1);
if (run('npm', ['run', '--silent', 'typecheck']) !== 0) process.exit(1);

const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-'));
const report = join(dir, 'report.json');
const code = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  // A test file that fails before its tests run (an import error, a missing
  // fixture) has no failed test of its own: count it as one failure.
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
  failed = r.numFailedTests + Math.max(brokenFiles, r.numRuntimeErrorTestSuites ?? 0);
} catch {
  failed = Math.max(failed, 1);
}
rmSync(dir, { recursive: true, force: true });
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
