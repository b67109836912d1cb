// Shared helpers for integration tests: real containers, run as root, through
// the real CLI (bin/tsrun, the bundled build).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeBusyboxBundle } from '../src/bundle/busybox';
import type { Spec } from '../src/oci/types';

export const REPO = resolve(__dirname, '..');
export const TSRUN = join(REPO, 'bin/tsrun');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private state root and scratch directory for one test file. */
export class Sandbox {
  readonly dir: string;
  readonly root: string;
  private n = 0;
  private readonly tag: string;

  constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `tsrun-it-${name}-`));
    this.root = join(this.dir, 'state');
    this.tag = `${name}-${process.pid}`;
  }

  /** A container id unique across concurrently running test files. */
  id(): string {
    return `${this.tag}-${this.n++}`;
  }

  /** A fresh busybox bundle; mutate the spec before it is written. */
  bundle(args: string[], mutate?: (spec: Spec) => void): string {
    const b = join(this.dir, `bundle${this.n++}`);
    makeBusyboxBundle(b, { args, mutate });
    return b;
  }

  /** Runs `tsrun --root <root> ...args`. */
  tsrun(args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): Result {
    const r: SpawnSyncReturns<string> = spawnSync(TSRUN, ['--root', this.root, ...args], {
      encoding: 'utf8',
      input: opts.input ?? '',
      timeout: opts.timeout ?? 20000,
      env: opts.env ?? process.env,
    });
    return { code: r.status ?? 128 + (r.signal ? 9 : 0), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `tsrun run --detach`: the container keeps the stdio it is given, so it
   * gets /dev/null and a file instead of pipes spawnSync would wait on. */
  runDetached(bundle: string, id = this.id()): Result & { id: string } {
    const errFile = join(this.dir, `${id}.stderr`);
    const err = openSync(errFile, 'w');
    const r = spawnSync(TSRUN, ['--root', this.root, 'run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', err], timeout: 20000 });
    closeSync(err);
    return { id, code: r.status ?? -1, stdout: '', stderr: readFileSync(errFile, 'utf8') };
  }

  /** `tsrun run` of a bundle; returns the container's output and exit code. */
  run(bundle: string, id = this.id()): Result {
    return this.tsrun(['run', '--bundle', bundle, id]);
  }

  /** Removes every container left under our root, then the scratch directory. */
  cleanup(): void {
    if (existsSync(this.root)) {
      for (const id of readdirSync(this.root)) this.tsrun(['delete', '--force', id]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Things a container may leave behind on the host, for leak checks. */
export function hostLeftovers(id: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(id)) out.push(`mount: ${line}`);
  for (const h of ['pids', 'memory', 'cpu', 'freezer', 'unified']) {
    const p = `/sys/fs/cgroup/${h}/tsrun/${id}`;
    if (existsSync(p)) out.push(`cgroup: ${p}`);
  }
  return out;
}
