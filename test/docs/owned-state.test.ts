/**
 * State lives on the object it belongs to (DESIGN.md, lesson 17), and we use only what our
 * dependencies publish (lesson 19): no module-level map or set keyed by a socket (a
 * connection's facts belong to the object that owns the connection, or on the socket itself),
 * and no private field of a dependency (`_parent`, `_handle`, `_readableState`: node:tls or
 * node:stream may move them in any release). Every src/ module is read with the TypeScript
 * parser; a failure names each offence by file:line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** What a connection is, to node:net, node:tls, node:stream and node:http2. */
const CONNECTION_TYPES = /\b(Socket|TLSSocket|Duplex|Http2Session|ServerHttp2Session|ClientHttp2Session)\b/;

/**
 * Private fields still read, "file: field", each with why and what would take it away. An
 * entry that is no longer read fails the test, so that the list only shrinks.
 */
const KNOWN_PRIVATE_READS: ReadonlyMap<string, string> = new Map<string, string>([
  [
    'src/observe/log/log-destination.ts: _handle',
    'stdout or stderr on a pipe made non-blocking: Node publishes no switch for it (uv_stream_set_blocking is only on the handle)',
  ],
  [
    'src/upstream/connections/h2/h2-reset-before-end.ts: _readableState',
    "whether an HTTP/2 stream's readable side ended before it closed (END_STREAM, then a reset): `readableEnded` waits for a paused body to be read",
  ],
  ['src/kits/fault-kit/h2-faults.ts: _readableState', 'as h2-reset-before-end.ts, in the fault kit'],
  [
    'src/upstream/connections/http1/request-out.ts: _readableState',
    "an upstream socket kept open past a refused write while a client's body streams, so the answer the upstream sent before its reset is read (an early 413): Node closes a socket at its first write error unless neither side has `autoDestroy`, which no option sets after the socket is made",
  ],
  ['src/upstream/connections/http1/request-out.ts: _writableState', 'as its _readableState, the other side'],
  [
    'src/core/net/direct-reads.ts: _handle',
    "a socket a server accepted read into the process's one buffer, as `net.connect`'s `onread` reads one it connects: Node gives `onread` to no server (the native stream's `useUserBuffer` is on the handle); an `onread` for net.Server would take it away",
  ],
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

interface Offence {
  readonly where: string;
  readonly what: string;
}

/** Module-level `new Map<Socket, …>()` (WeakMap, Set, WeakSet alike), each by file:line. */
function socketKeyedModuleState(file: string, text: string): Offence[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Offence[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      const init = declaration.initializer;
      if (init === undefined || !ts.isNewExpression(init)) continue;
      if (!/^(Weak)?(Map|Set)$/.test(init.expression.getText(source))) continue;
      const key = init.typeArguments?.[0]?.getText(source) ?? declaration.type?.getText(source) ?? '';
      if (!CONNECTION_TYPES.test(key)) continue;
      const line = source.getLineAndCharacterOfPosition(declaration.getStart(source)).line + 1;
      found.push({ where: `${file}:${line}`, what: declaration.getText(source).split('\n')[0] });
    }
  }
  return found;
}

/** A field written `_name`, read (`x._name`) or declared to be read (`{ _name?: T }`), each by file:line. */
function privateFields(file: string, text: string): (Offence & { readonly field: string })[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: (Offence & { field: string })[] = [];
  const visit = (node: ts.Node): void => {
    const name = ts.isPropertyAccessExpression(node) || ts.isPropertySignature(node) ? node.name : undefined;
    if (name !== undefined && ts.isIdentifier(name) && /^_[A-Za-z]/.test(name.text)) {
      const line = source.getLineAndCharacterOfPosition(name.getStart(source)).line + 1;
      found.push({ where: `${file}:${line}`, what: node.getText(source).split('\n')[0], field: name.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const files = sourceFiles(SRC).map((path) => ({
  file: relative(ROOT, path).split('\\').join('/'),
  text: readFileSync(path, 'utf8'),
}));

test('the readers find a module-level socket-keyed map and a private field, and nothing else', () => {
  const text = [
    "import type { Socket } from 'node:net';",
    'const deadlines = new WeakMap<Socket, NodeJS.Timeout>();',
    'const owners: WeakSet<TLSSocket> = new WeakSet();',
    'const routes = new WeakMap<RouteConfig, string>();',
    'function f(socket: TLSSocket) {',
    '  const inside = new Map<Socket, number>();',
    '  const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;',
    '  return socket.remoteAddress;',
    '}',
  ].join('\n');
  assert.deepEqual(
    socketKeyedModuleState('x.ts', text).map((o) => o.where),
    ['x.ts:2', 'x.ts:3'],
  );
  assert.deepEqual(
    privateFields('x.ts', text).map((o) => `${o.where} ${o.field}`),
    ['x.ts:7 _parent', 'x.ts:7 _parent'],
  );
});

test('no module-level map or set keyed by a socket: a connection’s state lives with what owns it', () => {
  const found = files.flatMap(({ file, text }) => socketKeyedModuleState(file, text));
  assert.deepEqual(
    found.map((o) => `${o.where}  ${o.what}`),
    [],
  );
});

test('no private field of a dependency is read, but the known ones listed (a list that only shrinks)', () => {
  const found = files.flatMap(({ file, text }) => privateFields(file, text));
  const unknown = found.filter((o) => !KNOWN_PRIVATE_READS.has(`${o.where.split(':')[0]}: ${o.field}`));
  assert.deepEqual(
    unknown.map((o) => `${o.where}  ${o.what}`),
    [],
  );
  const stale = [...KNOWN_PRIVATE_READS.keys()].filter(
    (known) => !found.some((o) => `${o.where.split(':')[0]}: ${o.field}` === known),
  );
  assert.deepEqual(stale, [], 'known private reads no longer there: take them off the list');
});
