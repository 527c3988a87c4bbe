/**
 * What a reload changes in a real `candor serve` that a gateway in the test's process cannot
 * show (docs/operations.md, "Reload": every field a reload does not refuse takes effect):
 * `log.level`, in the cluster primary's lines and the worker's, and the admin token rotated in
 * its `token_file` (the old token refused from the reload on, the new one taken).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const OLD = 'reload-matrix-old-token-0123456789';
const NEW = 'reload-matrix-new-token-9876543210';

test('log.level and the admin token rotated in its file: after a reload the primary and the worker log at the new level, the old token is refused and the new one taken', async (t) => {
  const echo = await startEcho();
  const dir = tempDir('candor-reload-serve-');
  t.after(async () => {
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, OLD, { mode: 0o600 });
  const config = (level: string) => `name: edge-1
listen: [{ address: 127.0.0.1:0 }]
log: { level: ${level} }
admin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, config('info'));
  const serve = await startServe(path, 1, { admin: true });
  t.after(() => serve.stop());
  const admin = serve.adminPort as number;
  const base = `http://127.0.0.1:${serve.port}`;
  const lines = (msg: string) => serve.lines.filter((l) => l.msg === msg);
  const accessLine = (id: string) => serve.lines.find((l) => l.msg === 'request' && l.client_req_id === id);

  assert.equal((await request(base, { path: '/', headers: { 'x-request-id': 'info-1' } })).status, 200);
  await waitUntil('the access line at info', () => accessLine('info-1') !== undefined);

  // Rotated: the new token in the file, the level raised to warn; a SIGHUP reads both.
  writeFileSync(tokenFile, NEW, { mode: 0o600 });
  writeFileSync(path, config('warn'));
  serve.child.kill('SIGHUP');
  // (Polled with the old token, good until the reload: tries of the new one before it would be
  // wrong guesses, and enough of them are refused 429 for a while, the new token too.)
  let status = 200;
  await waitUntil(
    'the old token refused',
    async () => {
      status = (await adminCall(admin, 'GET', '/status', { token: OLD })).status;
      return status !== 200;
    },
    10_000,
  );
  assert.equal(status, 401, 'the old token is refused once the reload read the new one');
  assert.equal(
    (await adminCall(admin, 'GET', '/status', { token: NEW })).status,
    200,
    'the new one is taken',
  );
  // At warn, neither the worker's `config swapped` nor the primary's `config reloaded` (info).
  assert.equal(lines('config swapped').length, 0);
  assert.equal(lines('config reloaded').length, 0);
  assert.equal((await request(base, { path: '/', headers: { 'x-request-id': 'warn-1' } })).status, 200);

  // Back to info, by the admin API with the new token (its answer waits for the worker).
  writeFileSync(path, config('info'));
  const reloaded = await adminCall(admin, 'POST', '/reload', { token: NEW });
  assert.equal(reloaded.status, 200, reloaded.text);
  assert.equal((await request(base, { path: '/', headers: { 'x-request-id': 'info-2' } })).status, 200);
  await waitUntil('the access line at info again', () => accessLine('info-2') !== undefined);
  // The worker writes its lines in order: the one at warn would have come before this one.
  assert.equal(accessLine('warn-1'), undefined, 'no access line under warn');
  await serve.waitForLines('config reloaded', 1);
  assert.equal(lines('config swapped').length, 1, "the worker's line under info again");
  assert.equal(lines('config reloaded')[0]?.via, 'admin');
});
