import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Relative imports of every module of src/ and workers/: `src/a/b.ts` → its imports, as paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        const text = readFileSync(join(ROOT, path), 'utf8');
        const deps = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gm)]
          .map((m) => normalize(join(dirname(path), m[1]!)).replace(/\.js$/, '.ts'));
        graph.set(relative('.', path), deps);
      }
    }
  };
  walk('src');
  walk('workers');
  return graph;
}

/** Every cycle's modules (strongly connected components of more than one module). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (;;) { const w = stack.pop()!; onStack.delete(w); component.push(w); if (w === v) break; }
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/**
 * The route reads forward: modules import what is below them. A cycle or an import pointing
 * back up (the processor into the worker entry point, a tool into the CLI or the app) fails here
 * with the modules named.
 */
describe('module structure', () => {
  const graph = importGraph();

  it('finds the modules (the scan itself works)', () => {
    assert.ok(graph.size > 50);
    assert.ok(graph.get('src/pipeline.ts')!.includes('src/pool/dispatcher.ts'));
  });

  it('has no import cycle', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('a cycle would be found', () => {
    assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  });

  it('no import points back up', () => {
    const upward: string[] = [];
    for (const [from, deps] of graph) {
      for (const to of deps) {
        const intoWorkers = from.startsWith('src/') && to.startsWith('workers/');
        const intoCli = !from.startsWith('src/cli') && from !== 'src/cli.ts' && (to.startsWith('src/cli/') || to === 'src/cli.ts');
        const intoApp = (from.startsWith('src/loadtest/') || from.startsWith('src/replay/') || from.startsWith('src/ops/')) && to === 'src/app.ts';
        const intoTools = from.startsWith('src/') && !from.startsWith('src/loadtest/') && !from.startsWith('src/cli') && to.startsWith('src/loadtest/');
        if (intoWorkers || intoCli || intoApp || intoTools) upward.push(`${from} -> ${to}`);
      }
    }
    assert.deepEqual(upward, []);
  });
});
