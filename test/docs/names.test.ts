/**
 * One meaning per name (issue 55, names): Candor's own word for a response is "answer"; "hold"
 * is the hold feature (a request waiting for a target of its upstream to come back); "own" is
 * "made by the gateway itself". Read in src/: its file names, and the names it declares for
 * types, classes, functions, methods and accessors, and its module-level constants. "response"
 * is left where the name is someone else's (node's ServerResponse, fetch's Response, undici's
 * handler hooks) or user-facing (the plugin API); snake_case and capitals are the failure
 * taxonomy's, the log's and the semantic conventions' names, user-facing, and not read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { sources } from '../helpers/source-files.ts';

const ROOT = join(import.meta.dirname, '../..');

/** Names with "response" that stay, and why. */
const RESPONSE_KEPT: Readonly<Record<string, string>> = {
  onResponseStart:
    "the upstream contract's hooks are undici's Dispatcher handler's, named as undici names them",
  onResponseData: "the upstream contract's hooks are undici's, named as undici names them",
  onResponseEnd: "the upstream contract's hooks are undici's, named as undici names them",
  onResponseError: "the upstream contract's hooks are undici's, named as undici names them",
  onResponse: "the plugin API's hook (src/index.ts exports it): plugins are written against it",
  PluginResponse: 'the plugin API (src/index.ts exports it): plugins are written against it',
  FetchedResponse:
    "the plugin API (src/index.ts exports it): fetch's Response, saying whether its body came cut",
};

/** Names with "hold", "held" or "holding": the hold feature's, each. */
const HOLD_FEATURE: ReadonlySet<string> = new Set([
  'HoldConfig',
  'HoldQueue',
  'HeldRequest',
  'HoldClosed',
  'HoldRefusal',
  'RequestHold',
  'HoldOwner',
  'HoldMeasure',
  'holdOf',
  'heldBytes',
  'heldMs',
  'holding',
  'toHold',
  'heldMayGo',
]);

/** Names with "own": what the gateway makes itself (an answer, its head, fields and body, a cut, a call, a route). */
const GATEWAY_MADE: ReadonlySet<string> = new Set([
  'OwnAnswer',
  '#ownAnswer',
  'ownAnswerHead',
  'ownAnswerOf',
  'ownFields',
  'keptOwn',
  'writeOwnBody',
  'sendOwnAnswer',
  'ownCutOf',
  'OwnCall',
  'ownCall',
  'ownRoute',
  'ownTypeWithoutError',
  'traefikOwn',
  'ownError',
]);

/** src/ file names with "hold" (the hold feature's) or "own" (the gateway's own answers). */
const FILES: ReadonlySet<string> = new Set([
  'hold-queue.ts',
  'request-hold.ts',
  'hold-elsewhere.ts',
  'own-answer.ts',
  'own-answer-head.ts',
  'own-body.ts',
  'own-cut.ts',
]);

/** A name's words: `HoldQueue` → hold, queue; `#ownAnswer` → own, answer. */
function words(name: string): string[] {
  return name
    .replace(/^[#_$]+/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
}

const DECLARATIONS = new Set([
  ts.SyntaxKind.ClassDeclaration,
  ts.SyntaxKind.InterfaceDeclaration,
  ts.SyntaxKind.TypeAliasDeclaration,
  ts.SyntaxKind.EnumDeclaration,
  ts.SyntaxKind.FunctionDeclaration,
  ts.SyntaxKind.MethodDeclaration,
  ts.SyntaxKind.MethodSignature,
  ts.SyntaxKind.GetAccessor,
  ts.SyntaxKind.SetAccessor,
]);

/** Every name src/ declares for a type, class, function, method or accessor, or a module-level constant, with where. */
function declared(): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  const add = (name: string, file: string) => {
    if (name.replace(/^[#_$]+/, '').includes('_') || name === name.toUpperCase()) return;
    names.set(name, (names.get(name) ?? new Set()).add(file));
  };
  for (const file of sources(join(ROOT, 'src'))) {
    const where = relative(ROOT, file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const visit = (node: ts.Node): void => {
      const name = (node as { name?: ts.Node }).name;
      if (DECLARATIONS.has(node.kind) && name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)))
        add(name.text, where);
      if (ts.isVariableStatement(node) && node.parent === source)
        for (const variable of node.declarationList.declarations)
          if (ts.isIdentifier(variable.name)) add(variable.name.text, where);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return names;
}

const NAMES = declared();
const FILE_NAMES = sources(join(ROOT, 'src')).map((file) => basename(file));
/** The declared names with a word `pattern` matches are the `listed` ones, exactly (a name no longer declared leaves the list). */
function onlyListed(pattern: RegExp, listed: Iterable<string>): void {
  const found = [...NAMES.keys()].filter((name) => words(name).some((word) => pattern.test(word)));
  const allowed = new Set(listed);
  const unlisted = found.filter((name) => !allowed.has(name));
  assert.deepEqual(
    unlisted.map((name) => `${name}: ${[...(NAMES.get(name) ?? [])].join(', ')}`),
    [],
  );
  assert.deepEqual(
    [...allowed].filter((name) => !found.includes(name)),
    [],
    'a name no longer declared leaves the list',
  );
}

test('"answer" is Candor\'s word: no name or src file says "response", but the ones kept for their reason', () => {
  onlyListed(/^responses?$/, Object.keys(RESPONSE_KEPT));
  assert.deepEqual(
    FILE_NAMES.filter((file) => /(^|-)responses?(-|\.)/.test(file)),
    [],
  );
});

test('"hold" is the hold feature only: a request waiting for a target to come back', () => {
  onlyListed(/^(hold|holds|held|holding)$/, HOLD_FEATURE);
});

test('"own" is what the gateway makes itself only', () => {
  onlyListed(/^own$/, GATEWAY_MADE);
});

test('src file names say "hold" for the hold feature and "own" for the gateway\'s own answers, nothing else', () => {
  const found = FILE_NAMES.filter((file) => /(^|-)(hold|held|own)(-|\.)/.test(file));
  assert.deepEqual(
    found.filter((file) => !FILES.has(file)),
    [],
  );
  assert.deepEqual(
    [...FILES].filter((file) => !found.includes(file)),
    [],
  );
});
