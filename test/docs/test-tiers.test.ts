/**
 * Test tiers that say what they are: `npm run test:unit`, the inner loop, starts no gateway and
 * no server (no listening socket, no `candor serve`); a test that does is named
 * `*.sockets.test.ts`, which the unit globs leave out. `npm test` still runs every test file.
 * Each file the unit globs match is read with the TypeScript parser, with the test helpers it
 * imports (however deep): no call of what opens a listening socket or starts a gateway.
 */
import assert from 'node:assert/strict';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ownProcess, plan, TEST_FILES } from '../suite.ts';

const ROOT = join(import.meta.dirname, '../..');
const scripts: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;

/** The quoted globs of an npm script, as node:test expands them from the repository root. */
function filesOf(script: string): string[] {
  const globs = [...script.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(globs.length > 0, script);
  return [...new Set(globs.flatMap((glob) => globSync(glob, { cwd: ROOT })))].sort();
}

/** Calls that open a listening socket or start a gateway, in a test or a test helper. */
const STARTERS =
  /^(createServer|createSecureServer|createSocket|listen|startGateway|startGatewayFromText|startTestGateway|startServe|startPebble|startRedis|startDnsServer)$/;

/** A module read: its top-level functions by name, and the names it imports from test helpers. */
interface Module {
  readonly file: string;
  readonly source: ts.SourceFile;
  readonly faultKit: boolean;
  readonly functions: Map<string, ts.Node>;
  readonly imported: Map<string, { readonly file: string; readonly name: string }>;
}

const modules = new Map<string, Module>();

function moduleOf(file: string): Module {
  const known = modules.get(file);
  if (known !== undefined) return known;
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const functions = new Map<string, ts.Node>();
  const imported = new Map<string, { file: string; name: string }>();
  for (const statement of source.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name) functions.set(statement.name.text, statement);
    if (ts.isVariableStatement(statement))
      for (const declaration of statement.declarationList.declarations)
        if (ts.isIdentifier(declaration.name) && declaration.initializer)
          functions.set(declaration.name.text, declaration.initializer);
    if (
      ts.isImportDeclaration(statement) &&
      ts.isStringLiteral(statement.moduleSpecifier) &&
      !statement.importClause?.isTypeOnly
    ) {
      const target = resolve(dirname(file), statement.moduleSpecifier.text);
      const bindings = statement.importClause?.namedBindings;
      if (!target.startsWith(join(ROOT, 'test')) || !existsSync(target) || !bindings) continue;
      if (ts.isNamedImports(bindings))
        for (const element of bindings.elements)
          imported.set(element.name.text, {
            file: target,
            name: (element.propertyName ?? element.name).text,
          });
    }
  }
  const module = { file, source, faultKit: /kits\/fault-kit\//.test(text), functions, imported };
  modules.set(file, module);
  return module;
}

/**
 * What `node` (a whole test file, or one function of a helper) starts, by the name of what it
 * calls: a starter itself, or a function of its own module or of a test helper that starts one
 * (followed however deep, each once).
 */
function startsIn(module: Module, node: ts.Node, seen: Set<string>): string[] {
  const starts: string[] = [];
  const visit = (child: ts.Node): void => {
    if (ts.isCallExpression(child)) {
      const callee = child.expression;
      const name = ts.isIdentifier(callee)
        ? callee.text
        : ts.isPropertyAccessExpression(callee)
          ? callee.name.text
          : '';
      // A fault-kit starter (startRefusing, startEcho…) opens a misbehaving upstream.
      if (STARTERS.test(name) || (module.faultKit && /^start[A-Z]/.test(name))) {
        const line = module.source.getLineAndCharacterOfPosition(child.getStart(module.source)).line + 1;
        starts.push(`${relative(ROOT, module.file)}:${line} ${name}()`);
      } else if (ts.isIdentifier(callee)) {
        const local = module.functions.get(name);
        const from = module.imported.get(name);
        const key = from ? `${from.file}#${from.name}` : `${module.file}#${name}`;
        if (!seen.has(key) && (local !== undefined || from !== undefined)) {
          seen.add(key);
          const helper = from ? moduleOf(from.file) : module;
          const body = helper.functions.get(from ? from.name : name);
          if (body !== undefined && body !== node) starts.push(...startsIn(helper, body, seen));
        }
      }
    }
    ts.forEachChild(child, visit);
  };
  visit(node);
  return starts;
}

/** Every start a test file makes, itself or through the helpers it calls. */
function startsOf(file: string): string[] {
  const module = moduleOf(file);
  return startsIn(module, module.source, new Set());
}

test('the reader sees a gateway and a fault-kit upstream started, a server through a helper, and no start where none is', () => {
  const starts = (file: string) => startsOf(join(ROOT, file));
  assert.match(
    starts('test/proxy/route/matching.sockets.test.ts').join('\n'),
    /matching\.sockets\.test\.ts:\d+ startEcho\(\)/,
  );
  assert.match(
    starts('test/proxy/route/split.sockets.test.ts').join('\n'),
    /split\.sockets\.test\.ts:\d+ startTestGateway\(\)/,
  );
  // freePort() listens on the port it gives (test/helpers/wait.ts); waitUntil(), from the same helper, starts nothing.
  assert.match(
    starts('test/package/kit-pack.test.ts').join('\n'),
    /test\/helpers\/wait\.ts:\d+ createServer\(\)/,
  );
  assert.deepEqual(starts('test/upstream/targets/hold-queue.test.ts'), []);
});

test('test:unit starts no gateway and no server: every file its globs match, and the helpers they import', () => {
  const unit = filesOf(scripts['test:unit']);
  assert.ok(unit.length > 50, `${unit.length} files`);
  const starting = unit.flatMap((file) => {
    const starts = startsOf(join(ROOT, file));
    return starts.length === 0 ? [] : [`${file}: ${starts[0]}`];
  });
  assert.deepEqual(starting, []);
});

test('npm test runs every test file once, test:unit’s among them; several share a process only within a folder', () => {
  assert.equal(scripts.test, 'node test/suite.ts');
  const everyFile = globSync(TEST_FILES, { cwd: ROOT }).sort();
  assert.equal(TEST_FILES, 'test/**/*.test.ts');
  const runs = plan(everyFile, (file) => readFileSync(join(ROOT, file), 'utf8'));
  const all = runs.flat().sort();
  assert.deepEqual(all, everyFile);
  for (const file of filesOf(scripts['test:unit'])) assert.ok(all.includes(file), file);
  for (const run of runs) {
    assert.ok(run.length <= 6, run.join(' '));
    assert.equal(new Set(run.map((file) => dirname(file))).size, 1, run.join(' '));
    // A file that starts processes or changes the process's own state has it to itself.
    if (run.length > 1)
      for (const file of run) assert.equal(ownProcess(readFileSync(join(ROOT, file), 'utf8')), false, file);
  }
  assert.ok(runs.length < everyFile.length * 0.5, `${runs.length} processes for ${everyFile.length} files`);
});
