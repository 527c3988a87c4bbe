/**
 * No test file can hang the suite: a file whose setup failed still ends, with its failure, and
 * closes what it opened. `npm test` hung for ever once split-limits.test.ts's setup failed: its
 * after() threw on the gateway that was never made, the upstream before it stayed listening,
 * and node:test waited for the file's process, which nothing would end (`--test-timeout` bounds
 * a test, not a process kept alive after its tests). Two holds: every npm script that runs
 * node:test (and test/suite.ts, `npm test`'s) ends a file's process once its tests are over
 * (`--test-force-exit`) and bounds each test; and an after() hook closes through closeAll
 * (test/helpers/keep.ts), which passes over what was never made, instead of reaching into a `let`
 * its setup may not have filled. Files that `npm test` runs several to a process end the same
 * way, the others' tests run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import ts from 'typescript';
import { tempDir } from '../helpers/temp-dir.ts';
import { NODE_TEST_FLAGS } from '../suite.ts';

const ROOT = join(import.meta.dirname, '../..');
const scripts: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
const testScripts = Object.entries(scripts).filter(([, command]) => /\bnode --test\b/.test(command));

test('every npm script that runs node:test ends each file once its tests are over, and bounds each test', () => {
  assert.ok(testScripts.length >= 2);
  for (const [name, command] of testScripts) {
    assert.match(command, / --test-force-exit\b/, `npm run ${name}`);
    assert.match(command, / --test-timeout=\d+\b/, `npm run ${name}`);
  }
  assert.equal(scripts.test, 'node test/suite.ts');
  assert.ok(NODE_TEST_FLAGS.includes('--test-force-exit'));
  assert.ok(NODE_TEST_FLAGS.some((flag) => /^--test-timeout=\d+$/.test(flag)));
});

const work = tempDir('candor-cleanup-');
after(() => rmSync(work, { recursive: true, force: true }));

/** split-limits.test.ts as it was: the upstream listens, the gateway fails to start, after() throws on it. */
const SETUP_FAILS = `import http from 'node:http';
import { after, before, test } from 'node:test';
let serve;
let upstream;
before(async () => {
  upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  throw new Error('the gateway did not start');
});
after(async () => {
  await serve.stop();
  await new Promise((resolve) => upstream.close(resolve));
});
test('never runs', () => {});
`;

/**
 * Runs one file with `npm test`'s flags, or (`grouped`) the files through test/suite.ts, which
 * puts files of one folder in one process; resolves with the exit code and time, or null if
 * killed at `bound`.
 */
function runWithTestFlags(
  files: readonly string[],
  bound: number,
  grouped = false,
): Promise<{ code: number | null; ms: number; out: string }> {
  const args = grouped ? [join(ROOT, 'test/suite.ts'), ...files] : ['--test', ...NODE_TEST_FLAGS, ...files];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: work,
      // Not told it runs inside a test file (node:test would run no file then).
      env: { ...process.env, NODE_TEST_CONTEXT: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: bound,
      killSignal: 'SIGKILL',
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.on('close', (code, signal) =>
      resolve({ code: signal === null ? code : null, ms: performance.now() - started, out }),
    );
  });
}

test('a file whose setup failed, leaving a server open and an after() that throws, ends with its failure under npm test’s flags', async () => {
  const file = join(work, 'setup-fails.test.mjs');
  writeFileSync(file, SETUP_FAILS);
  const { code, ms, out } = await runWithTestFlags([file], 20_000);
  assert.notEqual(code, null, `still running after 20 s, killed:\n${out}`);
  assert.equal(code, 1, out);
  assert.match(out, /the gateway did not start/);
  assert.ok(ms < 20_000, `${Math.round(ms)} ms`);
});

test('sharing a process with another file, that file ends with its failure and the other’s tests run', async () => {
  const failing = join(work, 'a-setup-fails.test.mjs');
  const beside = join(work, 'b-beside.test.mjs');
  writeFileSync(failing, SETUP_FAILS);
  writeFileSync(
    beside,
    `import { before, test } from 'node:test';\nlet ready = false;\nbefore(() => { ready = true; });\ntest('runs beside it', () => { if (!ready) throw new Error('its own before() did not run'); });\n`,
  );
  const { code, out } = await runWithTestFlags([failing, beside], 20_000, true);
  assert.notEqual(code, null, `still running after 20 s, killed:\n${out}`);
  assert.equal(code, 1, out);
  assert.match(out, /the gateway did not start/);
  assert.match(out, /✔ runs beside it/);
  assert.match(out, /ℹ suites 2\n/, 'each file its own suite');
});

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Top-level after() hooks that read a member of a top-level `let` (filled by the setup, maybe
 * not at all) without `?.`, each as file:line and the binding.
 */
function unsafeCleanups(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lets = new Set<string>();
  for (const statement of source.statements)
    if (ts.isVariableStatement(statement) && !(statement.declarationList.flags & ts.NodeFlags.Const))
      for (const declaration of statement.declarationList.declarations)
        if (ts.isIdentifier(declaration.name)) lets.add(declaration.name.text);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isExpressionStatement(statement) || !ts.isCallExpression(statement.expression)) continue;
    const call = statement.expression;
    if (!ts.isIdentifier(call.expression) || call.expression.text !== 'after') continue;
    const visit = (node: ts.Node): void => {
      if (
        (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) &&
        node.questionDotToken === undefined &&
        ts.isIdentifier(node.expression) &&
        lets.has(node.expression.text)
      ) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        found.push(`${file}:${line} ${node.getText(source)}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(call);
  }
  return found;
}

test('the cleanup reader finds a member of a `let` read in after(), and passes over `?.`, consts and closeAll', () => {
  const text = [
    'let gw: Gateway;',
    'let up: Server | undefined;',
    'const dir = "x";',
    'after(async () => { await gw.close(); up?.close(); rmSync(dir); });',
    'after(() => closeAll(gw, up));',
  ].join('\n');
  assert.deepEqual(unsafeCleanups('x.ts', text), ['x.ts:4 gw.close']);
});

test('no after() hook in test/ reaches into what its setup may not have made: closeAll, or `?.`', () => {
  const found = testFiles(join(ROOT, 'test')).flatMap((path) =>
    unsafeCleanups(relative(ROOT, path).split('\\').join('/'), readFileSync(path, 'utf8')),
  );
  assert.deepEqual(found, []);
});
