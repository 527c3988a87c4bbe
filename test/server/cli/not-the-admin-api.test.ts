/**
 * `candor reload` and `candor purge` against an address where something else than Candor's
 * admin API answers (another server on the port the file names): the command says so and fails,
 * naming the address — not "answered 200: " with nothing after it, nor "purged undefined", nor
 * "cannot reach" an address it reached.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-not-admin-');
const path = join(dir, 'candor.yaml');
let other: Awaited<ReturnType<typeof listenOnLoopback>>;
let answer = { type: 'text/plain', body: 'OK\n' };

before(async () => {
  other = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'content-type': answer.type });
    res.end(answer.body);
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${'t'.repeat(32)}\n`, { mode: 0o600 });
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${new URL(other.url).port}", token_file: ${tokenFile} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
  );
});
after(() => closeAll(other));

const candor = (...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

for (const [what, type, body] of [
  ['a text answer', 'text/plain', 'OK\n'],
  ['JSON of its own', 'application/json', '{"ok":true}'],
] as const)
  test(`reload and purge told of ${what} at the admin address: not Candor's admin API, exit 69`, async () => {
    answer = { type, body };
    const address = `127.0.0.1:${new URL(other.url).port}`;
    for (const args of [
      ['reload', '--config', path],
      ['purge', '--config', path],
    ]) {
      const run = await candor(...args);
      assert.equal(run.code, 69, `${args[0]}: ${run.stdout}${run.stderr}`);
      assert.equal(run.stdout, '', args[0]);
      assert.equal(
        run.stderr,
        `candor: ${address} answered 200, not as Candor's admin API answers (no JSON with a detail): is it the admin listener of the gateway this file runs?\n`,
        args[0],
      );
    }
  });

// What answers there may be anything: a `detail` it sends is printed to the operator's terminal,
// where its ESC cleared the screen or set the window's title, and its CR or LF forged a line.
test('a detail holding ESC, OSC, CR, LF and a bidi override is printed with each escaped, on one line', async () => {
  answer = {
    type: 'application/json',
    body: JSON.stringify({ detail: 'x\x1b[2J\x1b]0;pwned\x07\rreloaded: all fine\n\u202eok' }),
  };
  for (const args of [
    ['reload', '--config', path],
    ['purge', '--config', path],
  ]) {
    const run = await candor(...args);
    assert.equal(run.code, 69, `${args[0]}: ${run.stdout}${run.stderr}`);
    assert.equal(
      run.stderr,
      'candor: the admin API answered 200: x\\x1b[2J\\x1b]0;pwned\\x07\\x0dreloaded: all fine\\x0a\\u202eok\n',
      args[0],
    );
  }
});
