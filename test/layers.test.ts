// The module layers of src/ (src/README.md): each folder imports only the
// folders below it, so no folder imports one that imports it back, and
// nothing in src/ imports the CLI (cmd/).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Bottom to top: a folder may import only folders before it in this list
 * (and files of its own). `errors` is the file src/errors.ts. */
const LAYERS = ['errors', 'sys', 'oci', 'init', 'seccomp', 'cgroups', 'namespaces', 'network', 'rootfs', 'runtime', 'bundle', 'shim', 'jail'];

const REPO = resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|cjs|mjs|js)$/.test(name) ? [p] : [];
  });
}

/** Relative specifiers of a file's static imports and exports, import()
 * expressions and require() calls. */
export function specifiers(text: string): string[] {
  const patterns = [
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /\bimport\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!)).filter((s) => s.startsWith('.'));
}

/** The layer a repository path belongs to: `src/<folder>/...` or the file
 * `src/<name>.ts`, `cmd` for the CLI, undefined for anything else. */
function layerOf(rel: string): string | undefined {
  const segs = rel.split('/');
  if (segs[0] === 'cmd') return 'cmd';
  if (segs[0] !== 'src' || segs.length < 2) return undefined;
  return segs.length === 2 ? segs[1]!.replace(/\.[^.]+$/, '') : segs[1];
}

interface Edge {
  file: string;
  spec: string;
  from: string;
  to: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of [...sourceFiles(join(REPO, 'src')), ...sourceFiles(join(REPO, 'cmd'))]) {
    const rel = relative(REPO, file);
    const from = layerOf(rel)!;
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const to = layerOf(relative(REPO, resolve(dirname(file), spec)));
      if (to !== undefined && to !== from) out.push({ file: rel, spec, from, to });
    }
  }
  return out;
}

/** Cycles in the folder graph, each as a path a -> b -> ... -> a. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

describe('module layers', () => {
  const all = edges();
  const src = all.filter((e) => e.from !== 'cmd');

  it('finds the imports it checks', () => {
    expect(specifiers(`import a from './a';\nexport * from "../b";\nconst c = await import('./c');\nrequire('../d') as typeof import('../d');\nimport './e';`)).toEqual([
      './a',
      '../b',
      './e',
      './c',
      '../d',
      '../d',
    ]);
    expect(src.length).toBeGreaterThan(50);
  });

  it('has no import cycle between folders of src/', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of src) {
      if (!graph.has(e.from)) graph.set(e.from, new Set());
      graph.get(e.from)!.add(e.to);
    }
    expect(cycles(graph)).toEqual([]);
  });

  it('every folder imports only folders below it', () => {
    const folders = new Set(readdirSync(join(REPO, 'src')).filter((n) => statSync(join(REPO, 'src', n)).isDirectory() || n.endsWith('.ts')).map((n) => n.replace(/\.ts$/, '')));
    expect([...folders].filter((f) => !LAYERS.includes(f)), 'folders of src/ missing from LAYERS').toEqual([]);
    const upward = src
      .filter((e) => e.to !== 'cmd' && !(LAYERS.indexOf(e.to) >= 0 && LAYERS.indexOf(e.to) < LAYERS.indexOf(e.from)))
      .map((e) => `${e.file} (${e.from}) imports ${e.spec} (${e.to})`);
    expect(upward).toEqual([]);
  });

  it('nothing in src/ imports cmd/', () => {
    expect(src.filter((e) => e.to === 'cmd').map((e) => `${e.file} imports ${e.spec}`)).toEqual([]);
  });

  it('src/README.md lists the same layers in the same order', () => {
    const readme = readFileSync(join(REPO, 'src/README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([a-z-]+)(?:\/|\.ts)` \|/gm)].map((m) => m[1]);
    expect(rows).toEqual(['cmd', ...[...LAYERS].reverse()]);
  });
});
