/**
 * One definition per name (issue 30: "an interface defined twice"): a type, interface or class
 * exported under one name by two modules of src/ is either one thing written twice (an owner too
 * many: import it instead) or two things a reader will take for one. The names below are two
 * things each, told apart by where they live; any other name defined twice fails. And the other
 * way round (issue 55, names): one shape written under two names is one thing named twice (an
 * alias says so: `type PathsConfig = PathOptions`), unless it is listed as two things.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { sources } from '../helpers/source-files.ts';

const ROOT = join(import.meta.dirname, '../..');

/** Name → why its two definitions are two things. */
const DISTINCT: Readonly<Record<string, string>> = {
  Admission:
    "admit's decision on a request, and candor/client's wait for an origin (the kit has none of admit)",
  CanaryAction:
    "the library's word for an operator's action, and the timeline's word for what happened (issue 36's one vocabulary would end it)",
  CanaryEvent: "the controller's step as it reports it, and the timeline's event made from it",
  HealthEvent: "the gateway's health transition, and explain's reading of one from a log line",
  Report: "the config checker's problem callback, and explain's report",
  RequestBody:
    "an upstream exchange's body source, and the body of candor/client's fetch (public, fetch's own type)",
  RequestFacts: "what candor/client's retry rule reads of a call, and what diagnose sent",
  Tally: "a histogram's counts in the canary's statistics, and explain's counter of log lines",
};

test('no type, interface or class is defined under one name by two modules, but the distinct ones listed', () => {
  const definedIn = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^export (?:declare )?(?:interface|type|(?:abstract )?class) (\w+)/gm))
      definedIn.set(m[1], [...(definedIn.get(m[1]) ?? []), relative(ROOT, file)]);
  }
  const twice = [...definedIn]
    .filter(([name, files]) => files.length > 1 && !(name in DISTINCT))
    .map(([name, files]) => `${name}: ${files.join(', ')}`);
  assert.deepEqual(twice, []);
  const stale = Object.keys(DISTINCT).filter((name) => (definedIn.get(name)?.length ?? 0) < 2);
  assert.deepEqual(stale, [], 'a name no longer defined twice leaves the list');
});

/** Shapes written under two names that are two things, and why (the names, sorted, joined by " = "). */
const DISTINCT_SHAPES: Readonly<Record<string, string>> = {
  'LabelValue = PathSegment':
    "a metric label's value, and a step of a config field's path: `string | number` both",
  'DnsServer = GatewayListener':
    "a DNS server ACME's DNS-01 asks, and a listener of the gateway a DNS answer must not point at",
  'Dispatcher = H2StreamSlot':
    'what takes an exchange (a pool, a session), and the one stream slot of an HTTP/2 session that takes one',
  'ProbeTls = UpstreamTlsConfig':
    "diagnose's TLS for one probe (no server name sent when undefined), and the upstream's configured TLS it is made from",
};

/** An interface's or an object type's members, or a type alias's type, as text without comments or spacing. */
function shapeOf(
  node: ts.InterfaceDeclaration | ts.TypeAliasDeclaration,
  source: ts.SourceFile,
): string | undefined {
  if (node.typeParameters) return undefined;
  const text = (n: ts.Node) =>
    n
      .getText(source)
      .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      .replace(/\s+/g, ' ')
      .replace(/;$/, '')
      .trim();
  const members = ts.isInterfaceDeclaration(node)
    ? node.heritageClauses
      ? undefined
      : node.members
    : ts.isTypeLiteralNode(node.type)
      ? node.type.members
      : undefined;
  if (members) return members.map(text).sort().join('; ');
  if (ts.isTypeAliasDeclaration(node) && !ts.isTypeReferenceNode(node.type)) return text(node.type);
  return undefined;
}

test('no shape is written under two names (an alias names the one it is), but the distinct ones listed', () => {
  const named = new Map<string, Set<string>>();
  const where = new Map<string, string>();
  for (const file of sources(join(ROOT, 'src'))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (!ts.isInterfaceDeclaration(statement) && !ts.isTypeAliasDeclaration(statement)) continue;
      const shape = shapeOf(statement, source);
      if (shape === undefined || shape.length < 12) continue;
      named.set(shape, (named.get(shape) ?? new Set()).add(statement.name.text));
      where.set(statement.name.text, relative(ROOT, file));
    }
  }
  const twice = [...named.values()]
    .filter((names) => names.size > 1)
    .map((names) => [...names].sort().join(' = '));
  assert.deepEqual(
    twice
      .filter((pair) => !(pair in DISTINCT_SHAPES))
      .map(
        (pair) =>
          `${pair} (${pair
            .split(' = ')
            .map((name) => where.get(name))
            .join(', ')})`,
      ),
    [],
  );
  assert.deepEqual(
    Object.keys(DISTINCT_SHAPES).filter((pair) => !twice.includes(pair)),
    [],
    'a pair no longer one shape leaves the list',
  );
});

/**
 * A function (or a const) exported under one name by two modules is two things a reader takes
 * for one (issue 55: `admitRequest` was admit's phase and a policy's check): each is named for
 * what it does, and an import says which without its path.
 */
test('no function or const is exported under one name by two modules', () => {
  const definedIn = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    // The library's face (src/index.ts) wraps the gateway's own under their names: one thing.
    if (relative(ROOT, file) === join('src', 'index.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^export (?:async )?(?:function\*? |const |let )(\w+)/gm))
      definedIn.set(m[1], [...(definedIn.get(m[1]) ?? []), relative(ROOT, file)]);
  }
  const twice = [...definedIn]
    .filter(([, files]) => files.length > 1)
    .map(([name, files]) => `${name}: ${files.join(', ')}`);
  assert.deepEqual(twice, []);
});
