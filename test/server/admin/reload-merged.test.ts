/**
 * Reloads asked for while one is under way are merged into one that runs after it (nginx
 * merges its reloads so): ten SIGHUPs made ten reloads one after the other, each reading the
 * file and swapping every worker. Each admin caller is answered by the reload that read the
 * file after it asked, never by the one under way when it asked.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { adminCall, startServe, stopConfigReader } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const TOKEN = 'merged-reload-token-0123456789abcd';
const CALLS = 4;

test('SIGHUPs and admin reloads asked while a reload reads the file make one reload after it, which answers each admin caller', async (t) => {
  const echo = await startEcho();
  const dir = tempDir('candor-merged-reload-');
  t.after(async () => {
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const config = (extraRoute: string) =>
    `listen:\n  - address: 127.0.0.1:0\n` +
    `admin: { listen: "127.0.0.1:0", token_file: ${join(dir, 'token')} }\n` +
    `routes:\n${extraRoute}  - match: { path: / }\n    upstream: app\n` +
    `upstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, config(''));
  const serve = await startServe(path, 1, { admin: true });
  t.after(() => serve.stop());
  const admin = serve.adminPort as number;
  const reload = () => adminCall(admin, 'POST', '/reload', { token: TOKEN });

  const first = reload();
  // The first reload is under way: its reader stopped while it reads the file.
  const reader = await stopConfigReader(serve);
  writeFileSync(path, config('  - name: added\n    match: { path: /added }\n    upstream: app\n'));
  serve.child.kill('SIGHUP');
  const later = Array.from({ length: CALLS }, reload);
  // The first of these asks queues a reload (the signal, or a call that came before it); the others are merged into it.
  await serve.waitForLines('reload asked while one waits to begin: that one answers it', CALLS);
  process.kill(reader, 'SIGCONT');

  assert.equal((await first).status, 200);
  const answers = await Promise.all(later);
  for (const answer of answers) {
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body, answers[0].body, 'one reload answered every call');
  }
  const report = answers[0].body as { result: string; config_hash: string };
  assert.equal(report.result, 'ok');
  const status = await adminCall(admin, 'GET', '/status', { token: TOKEN });
  const running = status.body.config as { hash: string; version: number };
  assert.equal(report.config_hash, running.hash, 'the file as written after the callers asked');
  assert.equal(running.version, 3, 'two reloads swapped the workers');
  assert.equal(
    serve.lines.filter((l) => l.msg === 'config reloaded').length,
    2,
    'the reload under way and one after it',
  );
  const added = await fetch(`http://127.0.0.1:${serve.port}/added`);
  await added.text();
  assert.equal(added.status, 200);
});
