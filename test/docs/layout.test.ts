/**
 * The layout guard: folders own one thing each, and data flows down (DESIGN.md, lesson 13).
 * Every import in src/ is read with the TypeScript parser; the folder-level graph must have no
 * cycle and must only go down the layer order below, and no two files may import each other,
 * however far round; README.md's "How the code is laid out"
 * lists exactly the folders that exist, in this order. A failure names every offending import
 * by file:line.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { DOCS_TEXT, docsSection } from '../helpers/docs-text.ts';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * Top to bottom, the groups of src/ (and the modules at its root). A group imports only groups of
 * lower layers; groups of one layer do not import each other. Each line says why the layer is there.
 */
const GROUPS: ReadonlyArray<readonly string[]> = [
  ['index'], // the library's public API (`import … from 'candor'`): what a program needs to start a gateway
  ['server'], // the composition root and what runs it: the command line, the admin API, the demo
  ['kits'], // tools built on the libraries without running the gateway: client, app, diagnose, explain, fault kit
  ['proxy'], // the request path: accept, route, admit, select, forward, decide, the session that runs them
  ['upstream'], // the upstream side: targets and their balancer, connections and pools, health, circuits, budgets
  ['observe'], // what the gateway says about itself: the request record and access log, metrics, traces
  ['core'], // what everything is made of: the HTTP/1.1 parsers, the failure taxonomy, config, net, limits, ids
];

/**
 * Inside each group, top to bottom, the same rule between its folders (and modules at its root).
 */
const FOLDERS: Readonly<Record<string, ReadonlyArray<readonly string[]>>> = {
  server: [
    ['cli'], // the command line: arguments, the commands, exit codes
    ['demo', 'admin'], // `serve --demo`; the admin API over the cluster primary's control
    ['cluster'], // the cluster's primary: its workers, its control of them (reload, changes, merged answers), its log
    ['gateway'], // the composition root: builds a runtime from a config, starts listeners
    // the canary controller, for the primary and the gateway run in-process; automatic HTTPS:
    // orders, renews and stores certificates, for the gateway and the primary; a fleet's config
    // taken from etcd, its last good copy, its push and history
    ['canary', 'acme', 'fleet'],
  ],
  kits: [
    ['app'], // `candor/app` sets the client's propagation context
    ['client', 'diagnose', 'explain', 'fault-kit'],
  ],
  proxy: [
    ['session'], // the per-request pipeline, composing the phases below
    ['accept'], // the door: caps a listener's requests (admit's limiter), answers what it rejects
    ['static'], // a route's static files, a stage answering from a directory (reads forward's codings, cache's preconditions)
    ['cache'], // the response cache (RFC 9111), a stage: reads forward's codings and the fields access leaves
    ['route', 'admit', 'select', 'forward'], // the phases, peers
    ['decide'], // retry policy and the error response, used by every phase that answers
    ['stages'], // the stage contract every feature of a route implements, and its runner: the session knows it, never a feature
  ],
  upstream: [
    ['health'], // active checks and outlier detection, over the targets
    ['targets'], // the upstream runtime model: targets, balancer, panic
    // the HTTP/1.1 and HTTP/2 clients (connector, connection, pool, session); an upstream's
    // breakers (its circuit, made of core/retry's, and its retry budget); targets found by DNS;
    // a canary's counts per side and their judgement; the etcd client a fleet's config comes through
    ['connections', 'breakers', 'discovery', 'canary', 'config-source'],
  ],
  observe: [
    ['tracing', 'metrics', 'events'], // spans and metrics of a request; the deploy timeline's events
    ['log'], // the request record and the access log
  ],
  core: [
    ['config', 'http1'], // schema and loading of the frozen config; the strict HTTP/1.1 parsers and serializers
    ['file-path'], // a static route's path as names under its root: its run's and its config's check (a fallback)
    // the vocabulary, socket-level utilities, the counts every bound is made of, the retry
    // primitives the gateway and candor/client share (circuit, backoff, idempotent methods), and
    // the escaping of what others wrote before it is printed, a request path's normal form, whose
    // code a stack's frames are, what a thrown value says, a state file read without waiting: import nothing of ours
    [
      'failure',
      'net',
      'limits',
      'ids',
      'retry',
      'tls',
      'version',
      'printable',
      'uri-path',
      'stats',
      'credential-names',
      'stack-frames',
      'thrown-text',
      'state-file',
    ],
    // a field value's optional whitespace (the parsers and the failure's renderings trim alike),
    // an HTTP-date read strictly (Retry-After, a client's conditionals), and a name mistyped's
    // nearest (the config's fields, candor/client's options), a qvalue's weight (Accept's and
    // Accept-Encoding's alike), whether a library this Node bundles is older than a version
    ['ows', 'http-date', 'did-you-mean', 'qvalue', 'bundled-versions'],
  ],
};

/**
 * Type-only edges (`import type` / `export type`, erased before Node runs the module) allowed to
 * break the order or close a cycle, "from -> to" at either level, with why. An entry whose edge no
 * longer exists fails the test, so that the list only shrinks.
 */
const ALLOWED_TYPE_EDGES: ReadonlyMap<string, string> = new Map<string, string>([]);

/**
 * Imports known to break the layout, "file -> unit", each being removed where it lives (files
 * another branch is reworking). They are reported by file:line in the todo test below rather
 * than failing the suite; anything not listed here fails it. An entry that is no longer a
 * violation fails too, so that the list only shrinks.
 */
const KNOWN_VIOLATIONS: ReadonlyMap<string, string> = new Map<string, string>([]);

/**
 * Import cycles between files known to exist, each as the files of the cycle (its strongly
 * connected component), sorted and joined by ", ", with why it is still there. Another branch
 * is reworking these files; the cycle goes when it lands. An entry that is no longer exactly a
 * cycle of the graph fails, so that the list only shrinks.
 */
const KNOWN_FILE_CYCLES: ReadonlyMap<string, string> = new Map<string, string>([]);

/** One import of one module. */
interface Import {
  /** Relative to the repository root, e.g. "src/proxy/accept/listener.ts". */
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

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly imports: Import[];
}

/**
 * One level of the rule: the groups of src/, or the folders inside one group. `unitOf` names the
 * unit a path under src/ belongs to at this level, or undefined when the path is outside it.
 */
interface Level {
  readonly name: string;
  readonly layers: ReadonlyArray<readonly string[]>;
  readonly unitOf: (pathInSrc: string) => string | undefined;
  /** The units that exist on disk: every one must have a layer, and every layer's unit must exist. */
  readonly units: () => string[];
}

/** The folders and the modules of a directory, modules without `.ts`. */
function entries(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory() || name.endsWith('.ts'))
    .map((name) => name.replace(/\.ts$/, ''))
    .sort();
}

const GROUP_LEVEL: Level = {
  name: 'groups of src/',
  layers: GROUPS,
  unitOf: (pathInSrc) => pathInSrc.split(sep)[0].replace(/\.ts$/, ''),
  units: () => entries(SRC),
};

/** The level inside one group: units are its folders and the modules at its root. */
function folderLevel(group: string): Level {
  return {
    name: `folders of src/${group}/`,
    layers: FOLDERS[group] ?? [],
    unitOf: (pathInSrc) => {
      const parts = pathInSrc.split(sep);
      if (parts[0] !== group || parts.length < 2) return undefined;
      return parts[1].replace(/\.ts$/, '');
    },
    units: () => entries(join(SRC, group)),
  };
}

const GROUP_DIRS = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
const LEVELS: readonly Level[] = [GROUP_LEVEL, ...GROUP_DIRS.sort().map(folderLevel)];

/** The modules that import what a config names (users' plugins: outside src/, so in no layer). */
const USER_MODULE_IMPORTERS: ReadonlySet<string> = new Set(['src/core/config/plugin-import.ts']);

/** Every import between two modules of src/: the importing file, and the path it reaches (or a computed one). */
function allImports(): Array<{ file: string; found: Import; target: string }> {
  const out: Array<{ file: string; found: Import; target: string }> = [];
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const path = join(SRC, file);
    for (const found of readImports(relative(ROOT, path), readFileSync(path, 'utf8'))) {
      if (found.specifier.startsWith('<computed')) {
        // The one computed import that reaches no module of src/: a user's plugin, named by the config.
        if (USER_MODULE_IMPORTERS.has(found.file)) continue;
        out.push({ file, found, target: found.specifier });
        continue;
      }
      if (!found.specifier.startsWith('.')) continue; // node: built-ins and packages
      const target = relative(SRC, resolve(dirname(path), found.specifier));
      if (target.startsWith('..')) continue; // package.json and the like, outside src/
      out.push({ file, found, target });
    }
  }
  return out;
}

const IMPORTS = allImports();

/** A level's graph: "from -> to" with every import that makes it. */
function graphOf(level: Level): Map<string, Edge> {
  const edges = new Map<string, Edge>();
  for (const { file, found, target } of IMPORTS) {
    const from = level.unitOf(file);
    if (from === undefined) continue;
    const to = target.startsWith('<computed') ? target : level.unitOf(target);
    if (to === undefined || from === to) continue;
    const key = `${from} -> ${to}`;
    const edge = edges.get(key) ?? { from, to, imports: [] };
    edge.imports.push(found);
    edges.set(key, edge);
  }
  return edges;
}

/** The key an allow-list or known-violation entry uses for a unit: the group, or group/folder. */
function qualified(level: Level, unit: string): string {
  return level === GROUP_LEVEL ? unit : `${level.name.slice('folders of src/'.length, -1)}/${unit}`;
}

/** The imports of an edge that count: all of them, or only the runtime ones when the type-only part is allowed. */
function counted(
  level: Level,
  edge: Edge,
  skip: (found: Import, to: string) => boolean = () => false,
): Import[] {
  const allowed = ALLOWED_TYPE_EDGES.has(`${qualified(level, edge.from)} -> ${qualified(level, edge.to)}`);
  return edge.imports.filter(
    (found) => !(allowed && found.typeOnly) && !skip(found, qualified(level, edge.to)),
  );
}

function where(imports: readonly Import[]): string {
  return imports.map((found) => `${found.file}:${found.line}${found.typeOnly ? ' (type)' : ''}`).join(', ');
}

const GRAPHS = new Map(LEVELS.map((level) => [level, graphOf(level)] as const));
const isKnown = (found: Import, to: string): boolean => KNOWN_VIOLATIONS.has(`${found.file} -> ${to}`);

/** Who imports whom, counting only the imports `skip` leaves. */
function adjacency(level: Level, skip?: (found: Import, to: string) => boolean): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const edge of (GRAPHS.get(level) as Map<string, Edge>).values()) {
    if (counted(level, edge, skip).length === 0) continue;
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

/** The cycles of a level's graph (each once, shortest first found), with the imports of every step. */
function cycles(level: Level, skip?: (found: Import, to: string) => boolean): string[] {
  const graph = GRAPHS.get(level) as Map<string, Edge>;
  const next = adjacency(level, skip);
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
      return `    ${from} -> ${edge.to}: ${where(counted(level, edge, skip))}`;
    });
    return `  ${level.name}: ${name} -> ${cycle[0]}\n${steps.join('\n')}`;
  });
}

interface LayerViolation {
  readonly found: Import;
  readonly from: string;
  readonly to: string;
  readonly why: string;
}

/** Every import against a level's layer order, by file and line. */
function layerViolations(level: Level, skip?: (found: Import, to: string) => boolean): LayerViolation[] {
  const layerOf = new Map(
    level.layers.flatMap((layer, index) => layer.map((unit) => [unit, index] as const)),
  );
  const violations: LayerViolation[] = [];
  for (const edge of (GRAPHS.get(level) as Map<string, Edge>).values()) {
    const from = layerOf.get(edge.from);
    const to = layerOf.get(edge.to);
    let why: string | undefined;
    if (from === undefined || to === undefined) why = 'has no layer';
    else if (to < from) why = `climbs from layer ${from + 1} to layer ${to + 1}`;
    else if (to === from) why = `imports a peer of layer ${from + 1} (${level.layers[from].join(', ')})`;
    if (why === undefined) continue;
    for (const found of counted(level, edge, skip)) {
      violations.push({ found, from: qualified(level, edge.from), to: qualified(level, edge.to), why });
    }
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

test('every group of src/ and every folder of a group has a layer, and every layer names units that exist', () => {
  assert.deepEqual(Object.keys(FOLDERS).sort(), GROUP_DIRS.sort(), 'FOLDERS names exactly the groups');
  for (const level of LEVELS) {
    const declared = level.layers.flat();
    assert.equal(new Set(declared).size, declared.length, `${level.name}: a unit is in two layers`);
    assert.deepEqual([...declared].sort(), level.units(), level.name);
  }
});

test('the allow-list holds type-only edges that exist', () => {
  for (const key of ALLOWED_TYPE_EDGES.keys()) {
    const exists = LEVELS.some((level) =>
      [...(GRAPHS.get(level) as Map<string, Edge>).values()].some(
        (edge) =>
          `${qualified(level, edge.from)} -> ${qualified(level, edge.to)}` === key &&
          edge.imports.some((found) => found.typeOnly),
      ),
    );
    assert.ok(exists, `allowed edge ${key} has no type-only import left`);
  }
});

test('no cycle between groups, nor between folders of a group (the allow-list and the known violations aside)', () => {
  const found = LEVELS.flatMap((level) => cycles(level, isKnown));
  assert.equal(found.length, 0, `${found.length} cycle(s):\n${found.join('\n')}`);
});

test('imports only go down the layer order, between groups and inside each (the known violations aside)', () => {
  const found = LEVELS.flatMap((level) => describe(layerViolations(level, isKnown)));
  assert.equal(found.length, 0, `${found.length} import(s) against the layer order:\n${found.join('\n')}`);
});

/**
 * The file graph: every import between two modules of src/, the type-only ones included. A
 * type-only import is erased before Node runs the module, so a cycle closed by one cannot load in
 * the wrong order; it counts all the same, because a file cycle is a design fault before it is a
 * load-order one: neither file can be read, tested or moved without the other, and the first
 * value import along the cycle turns it into a runtime one. The fix is as cheap as the fault: the
 * type moves to the module that owns it, or the importer names an interface of what it needs.
 */
function fileGraph(): Map<string, Map<string, Import[]>> {
  const next = new Map<string, Map<string, Import[]>>();
  for (const { file, found, target } of IMPORTS) {
    if (target.startsWith('<computed') || target === file) continue; // computed: refused by the layer test
    const targets = next.get(file) ?? new Map<string, Import[]>();
    targets.set(target, [...(targets.get(target) ?? []), found]);
    next.set(file, targets);
  }
  return next;
}

/** The strongly connected components of more than one file (Tarjan): every file cycle lies in one. */
function fileCycles(graph: Map<string, Map<string, Import[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file) as number);
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file)?.keys() ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file) as number, index.get(to) as number));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1) components.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return components.sort((a, b) => a[0].localeCompare(b[0]));
}

/** A file cycle with the imports inside it, by file:line. */
function describeFileCycle(graph: Map<string, Map<string, Import[]>>, files: readonly string[]): string {
  const members = new Set(files);
  const steps = files.flatMap((from) =>
    [...(graph.get(from) ?? new Map<string, Import[]>())]
      .filter(([to]) => members.has(to))
      .map(([to, imports]) => `    ${from} -> ${to}: ${where(imports)}`),
  );
  return `  ${files.join(', ')}\n${steps.join('\n')}`;
}

const FILE_GRAPH = fileGraph();
const FILE_CYCLES = fileCycles(FILE_GRAPH);

test('the file cycle finder finds a cycle however long, and each once', () => {
  const imp = (file: string): Import => ({ file, line: 1, specifier: '', typeOnly: false });
  const graph = new Map<string, Map<string, Import[]>>([
    ['a.ts', new Map([['b.ts', [imp('a.ts')]]])],
    ['b.ts', new Map([['c.ts', [imp('b.ts')]]])],
    [
      'c.ts',
      new Map([
        ['a.ts', [imp('c.ts')]],
        ['d.ts', [imp('c.ts')]],
      ]),
    ],
    ['d.ts', new Map([['e.ts', [imp('d.ts')]]])],
    ['e.ts', new Map([['d.ts', [imp('e.ts')]]])],
    ['f.ts', new Map([['a.ts', [imp('f.ts')]]])],
  ]);
  assert.deepEqual(fileCycles(graph), [
    ['a.ts', 'b.ts', 'c.ts'],
    ['d.ts', 'e.ts'],
  ]);
});

test('no import cycle between files, type-only imports included (the known file cycles aside)', () => {
  const found = FILE_CYCLES.filter((files) => !KNOWN_FILE_CYCLES.has(files.join(', '))).map((files) =>
    describeFileCycle(FILE_GRAPH, files),
  );
  assert.equal(found.length, 0, `${found.length} file cycle(s):\n${found.join('\n')}`);
});

test('every known file cycle is still one: the list only shrinks', () => {
  const all = new Set(FILE_CYCLES.map((files) => files.join(', ')));
  for (const key of KNOWN_FILE_CYCLES.keys()) {
    assert.ok(all.has(key), `${key} is no longer a file cycle (or not this one): update KNOWN_FILE_CYCLES`);
  }
});

test('every known violation is still one: the list only shrinks', () => {
  const all = new Set(
    LEVELS.flatMap((level) => layerViolations(level).map(({ found, to }) => `${found.file} -> ${to}`)),
  );
  for (const key of KNOWN_VIOLATIONS.keys()) {
    assert.ok(all.has(key), `${key} is no longer a violation: delete it from KNOWN_VIOLATIONS`);
  }
});

test('no violation at all, every one named by file:line', (t) => {
  const found = LEVELS.flatMap((level) => [...cycles(level), ...describe(layerViolations(level))]);
  if (found.length > 0) t.diagnostic(`cycles and imports against the layer order:\n${found.join('\n')}`);
  assert.equal(found.length, 0, found.join('\n'));
});

const README = DOCS_TEXT;
const section = docsSection;

test('README "How the code is laid out": one row per group and per folder that exist, in the layer order', () => {
  // Rows: | 3 | `src/proxy/` | what it owns |, then | 3.1 | `src/proxy/session/` | what it owns |
  const groups: Array<[layer: string, unit: string]> = [];
  const folders: Array<[layer: string, unit: string]> = [];
  for (const line of section('How the code is laid out').split('\n')) {
    const match = /^\|\s*(\d+(?:\.\d+)?)\s*\|\s*`src\/([a-z0-9/-]+?)(?:\/|\.ts)`\s*\|/.exec(line);
    if (match === null) continue;
    (match[1].includes('.') ? folders : groups).push([match[1], match[2]]);
  }
  assert.deepEqual(
    groups,
    GROUPS.flatMap((layer, index) => layer.map((unit) => [String(index + 1), unit])),
    'the README lists every group of src/ with the layer this test declares, in the same order',
  );
  assert.deepEqual(
    folders,
    GROUPS.flat().flatMap((group, groupIndex) =>
      (FOLDERS[group] ?? []).flatMap((layer, index) =>
        layer.map((unit) => [`${groupIndex + 1}.${index + 1}`, `${group}/${unit}`]),
      ),
    ),
    'the README lists every folder of every group with its layer inside the group, in the same order',
  );
});

test('every src/ path the README names exists', () => {
  const missing = [...README.matchAll(/\bsrc\/[A-Za-z0-9_./-]*[A-Za-z0-9_]/g)]
    .map((match) => match[0])
    .filter((path) => !existsSync(join(ROOT, path)));
  assert.deepEqual([...new Set(missing)], []);
});

test('no file of the request session is over 350 lines: what is not the pipeline itself lives in the phase it belongs to', () => {
  const dir = join(ROOT, 'src/proxy/session');
  const over = readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ name, lines: readFileSync(join(dir, name), 'utf8').split('\n').length - 1 }))
    .filter((file) => file.lines > 350);
  assert.deepEqual(over, []);
});
