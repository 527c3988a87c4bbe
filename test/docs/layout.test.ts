/**
 * The layout guard: folders own one thing each, and data flows down (DESIGN.md, lesson 13).
 * Every import in src/ is read with the TypeScript parser; the folder-level graph must have no
 * cycle and must only go down the layer order below; README.md's "How the code is laid out"
 * lists exactly the folders that exist, in this order. A failure names every offending import
 * by file:line.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * Top to bottom. A unit (a folder of src, or a module at its root) imports only units of lower
 * layers; units of one layer do not import each other. Each line says why the layer is there.
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  // The command line (parses arguments, runs one of the things below, owns exit codes) and the
  // library's public API (what a program needs to start a gateway, as the command line does).
  ['cli', 'index'],
  // `serve --demo`: a gateway plus fault-kit upstreams; the admin API over the cluster primary's control;
  // `candor/app`: readiness, shutdown and keep-alive for an app behind a gateway (it sets the client's propagation)
  ['demo', 'admin', 'app'],
  ['gateway'], // the composition root: builds a runtime from a config, starts listeners
  // The request pipeline, and the tools that use the libraries without running the gateway
  // (candor/client, an app's fetch, reads the failure table and shares the gateway's circuit).
  ['session', 'diagnose', 'explain', 'fault-kit', 'client'],
  ['accept'], // the door: caps a listener's requests (admit's limiter), answers what it rejects (decide's response)
  // The phases: peers, composed by the session; and the spans the session reports them in.
  ['route', 'admit', 'select', 'forward', 'health', 'tracing'],
  // retry policy and the error response, used by every phase that answers; the metrics every phase counts into
  ['decide', 'metrics'],
  ['upstream'], // the upstream runtime model: targets, pools, balancer, circuit
  ['http1'], // the HTTP/1.1 client library
  ['log'], // the request record and the access log
  ['config'], // schema, validation, defaults (names failure types)
  // the vocabulary, socket-level utilities and the counts every bound is made of: import nothing of ours
  ['failure', 'net', 'limits', 'trace', 'version'],
];

/**
 * Type-only edges (`import type` / `export type`, erased before Node runs the module) allowed to
 * break the order or close a cycle, "from -> to" with why. An entry whose edge no longer exists
 * fails the test, so that the list only shrinks.
 */
const ALLOWED_TYPE_EDGES: ReadonlyMap<string, string> = new Map<string, string>([]);

/**
 * Imports known to break the layout, "file -> folder", each being removed where it lives (files
 * another branch is reworking). They are reported by file:line in the todo test below rather
 * than failing the suite; anything not listed here fails it. An entry that is no longer a
 * violation fails too, so that the list only shrinks.
 */
const KNOWN_VIOLATIONS: ReadonlyMap<string, string> = new Map<string, string>([]);

/** One import of one module. */
interface Import {
  /** Relative to the repository root, e.g. "src/accept/listener.ts". */
  readonly file: string;
  readonly line: number;
  /** The specifier as written. */
  readonly specifier: string;
  /** `import type` / `export type`: erased, no runtime edge. `import { type A }` is not: it still loads the module. */
  readonly typeOnly: boolean;
}

/** Every static import, re-export and dynamic `import('…')` in a module's text. */
function readImports(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: ts.Expression, typeOnly: boolean) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    // A computed dynamic import cannot be checked: it is named as such, and fails below.
    const text = ts.isStringLiteralLike(specifier)
      ? specifier.text
      : `<computed ${specifier.getText(source)}>`;
    found.push({ file, line, specifier: text, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      // `typeof import('…')` in a type: type-only by nature.
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The unit a path under src/ belongs to: its first folder, or the module's name at the root. */
function unitOf(pathInSrc: string): string {
  const parts = pathInSrc.split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, '');
}

/** Every folder of src/ and every module at its root: the units the layers and README must name. */
function units(): string[] {
  return readdirSync(SRC)
    .filter((name) => statSync(join(SRC, name)).isDirectory() || name.endsWith('.ts'))
    .map((name) => name.replace(/\.ts$/, ''))
    .sort();
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly imports: Import[];
}

/** The folder-level graph: "from -> to" with every import that makes it. */
function folderGraph(): Map<string, Edge> {
  const edges = new Map<string, Edge>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const path = join(SRC, file);
    for (const found of readImports(relative(ROOT, path), readFileSync(path, 'utf8'))) {
      let to: string;
      if (found.specifier.startsWith('<computed')) to = found.specifier;
      else if (!found.specifier.startsWith('.'))
        continue; // node: built-ins and packages
      else {
        const target = relative(SRC, resolve(dirname(path), found.specifier));
        if (target.startsWith('..')) continue; // package.json and the like, outside src/
        to = unitOf(target);
      }
      const from = unitOf(file);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      const edge = edges.get(key) ?? { from, to, imports: [] };
      edge.imports.push(found);
      edges.set(key, edge);
    }
  }
  return edges;
}

/** The imports of an edge that count: all of them, or only the runtime ones when the type-only part is allowed. */
function counted(edge: Edge, skip: (found: Import, to: string) => boolean = () => false): Import[] {
  const allowed = ALLOWED_TYPE_EDGES.has(`${edge.from} -> ${edge.to}`);
  return edge.imports.filter((found) => !(allowed && found.typeOnly) && !skip(found, edge.to));
}

function where(imports: readonly Import[]): string {
  return imports.map((found) => `${found.file}:${found.line}${found.typeOnly ? ' (type)' : ''}`).join(', ');
}

const graph = folderGraph();
const layerOf = new Map(LAYERS.flatMap((layer, index) => layer.map((unit) => [unit, index] as const)));
const isKnown = (found: Import, to: string): boolean => KNOWN_VIOLATIONS.has(`${found.file} -> ${to}`);

/** Who imports whom, counting only the imports `skip` leaves. */
function adjacency(skip?: (found: Import, to: string) => boolean): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const edge of graph.values()) {
    if (counted(edge, skip).length === 0) continue;
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  return next;
}

/** The shortest path from `start` to `goal` (both included), or undefined. */
function path(next: Map<string, string[]>, start: string, goal: string): string[] | undefined {
  const previous = new Map<string, string>([[start, start]]);
  const queue = [start];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    if (at === goal) {
      const way = [goal];
      while (way[0] !== start) way.unshift(previous.get(way[0]) as string);
      return way;
    }
    for (const to of next.get(at) ?? []) {
      if (!previous.has(to)) {
        previous.set(to, at);
        queue.push(to);
      }
    }
  }
  return undefined;
}

/** The cycles of the folder graph (each once, shortest first found), with the imports of every step. */
function cycles(skip?: (found: Import, to: string) => boolean): string[] {
  const next = adjacency(skip);
  // Every edge on a cycle shows its shortest one; a cycle found from several edges is reported once.
  const found = new Map<string, string[]>();
  for (const [from, targets] of next) {
    for (const to of targets) {
      const back = path(next, to, from);
      if (back === undefined) continue;
      const cycle = [from, ...back.slice(0, -1)];
      const first = cycle.indexOf([...cycle].sort()[0]);
      const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
      found.set(rotated.join(' -> '), rotated);
    }
  }
  return [...found.entries()].map(([name, cycle]) => {
    const steps = cycle.map((from, i) => {
      const edge = graph.get(`${from} -> ${cycle[(i + 1) % cycle.length]}`) as Edge;
      return `    ${from} -> ${edge.to}: ${where(counted(edge, skip))}`;
    });
    return `  ${name} -> ${cycle[0]}\n${steps.join('\n')}`;
  });
}

interface LayerViolation {
  readonly found: Import;
  readonly from: string;
  readonly to: string;
  readonly why: string;
}

/** Every import against the layer order, by file and line. */
function layerViolations(skip?: (found: Import, to: string) => boolean): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const edge of graph.values()) {
    const from = layerOf.get(edge.from);
    const to = layerOf.get(edge.to);
    let why: string | undefined;
    if (from === undefined || to === undefined) why = 'has no layer';
    else if (to < from) why = `climbs from layer ${from + 1} to layer ${to + 1}`;
    else if (to === from) why = `imports a peer of layer ${from + 1} (${LAYERS[from].join(', ')})`;
    if (why === undefined) continue;
    for (const found of counted(edge, skip)) violations.push({ found, from: edge.from, to: edge.to, why });
  }
  return violations.sort((a, b) => a.found.file.localeCompare(b.found.file) || a.found.line - b.found.line);
}

function describe(violations: readonly LayerViolation[]): string[] {
  return violations.map(
    ({ found, from, to, why }) =>
      `  ${found.file}:${found.line}: ${from} -> ${to} ${why}${found.typeOnly ? ' (type only)' : ''}`,
  );
}

test('the import reader sees static, re-exported, dynamic and type-only imports', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from '../b/b.ts';",
    "import { type C } from './c.ts';",
    "export { d } from './d.ts';",
    "export type { E } from './e.ts';",
    'const f = await import(',
    "  './f.ts');",
    "type G = typeof import('./g.ts');",
  ].join('\n');
  assert.deepEqual(
    readImports('x.ts', text).map(({ line, specifier, typeOnly }) => [line, specifier, typeOnly]),
    [
      [1, './a.ts', false],
      [2, '../b/b.ts', true],
      [3, './c.ts', false],
      [4, './d.ts', false],
      [5, './e.ts', true],
      [6, './f.ts', false],
      [8, './g.ts', true],
    ],
  );
});

test('every unit of src/ has a layer, and every layer names units that exist', () => {
  const declared = LAYERS.flat();
  assert.equal(new Set(declared).size, declared.length, 'a unit is in two layers');
  assert.deepEqual([...declared].sort(), units());
});

test('the allow-list holds type-only edges that exist', () => {
  for (const key of ALLOWED_TYPE_EDGES.keys()) {
    const edge = graph.get(key);
    assert.ok(
      edge?.imports.some((found) => found.typeOnly),
      `allowed edge ${key} has no type-only import left`,
    );
  }
});

test('no cycle between folders (type-only edges of the allow-list and the known violations aside)', () => {
  const found = cycles(isKnown);
  assert.equal(found.length, 0, `${found.length} cycle(s) between folders:\n${found.join('\n')}`);
});

test('imports only go down the layer order (the known violations aside)', () => {
  const found = describe(layerViolations(isKnown));
  assert.equal(found.length, 0, `${found.length} import(s) against the layer order:\n${found.join('\n')}`);
});

test('every known violation is still one: the list only shrinks', () => {
  const next = adjacency();
  const climbing = new Set(layerViolations().map(({ found, to }) => `${found.file} -> ${to}`));
  for (const key of KNOWN_VIOLATIONS.keys()) {
    const [file, to] = key.split(' -> ');
    const from = unitOf(relative(SRC, join(ROOT, file)));
    const imports = graph.get(`${from} -> ${to}`)?.imports.some((found) => found.file === file) ?? false;
    const onCycle = imports && path(next, to, from) !== undefined;
    assert.ok(
      climbing.has(key) || onCycle,
      `${key} is no longer a violation: delete it from KNOWN_VIOLATIONS`,
    );
  }
});

test('no violation at all, every one named by file:line', (t) => {
  const found = [...cycles(), ...describe(layerViolations())];
  if (found.length > 0) t.diagnostic(`cycles and imports against the layer order:\n${found.join('\n')}`);
  assert.equal(found.length, 0, found.join('\n'));
});

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The text under a "## " heading, up to the next one. */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  assert.notEqual(start, -1, `README.md has no "## ${heading}" section`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

test('README "How the code is laid out": one row per folder that exists, in the layer order', () => {
  // Rows: | layer | `src/name/` (or `src/name.ts`) | what it owns |
  const rows: Array<[layer: number, unit: string]> = [];
  for (const line of section('How the code is laid out').split('\n')) {
    const match = /^\|\s*(\d+)\s*\|\s*`src\/([a-z0-9-]+)(?:\/|\.ts)`\s*\|/.exec(line);
    if (match) rows.push([Number(match[1]), match[2]]);
  }
  assert.deepEqual(
    rows.map(([, unit]) => unit).sort(),
    units(),
    'the README lists exactly the folders of src/',
  );
  assert.deepEqual(
    rows,
    LAYERS.flatMap((layer, index) => layer.map((unit) => [index + 1, unit])),
    'the README gives every folder the layer this test declares, in the same order',
  );
});

test('every src/ path the README names exists', () => {
  const missing = [...README.matchAll(/\bsrc\/[A-Za-z0-9_./-]*[A-Za-z0-9_]/g)]
    .map((match) => match[0])
    .filter((path) => !existsSync(join(ROOT, path)));
  assert.deepEqual([...new Set(missing)], []);
});
