/**
 * A request the gateway decided with no attempt made (no route claims it, an access rule refuses
 * it) is logged with `stage: not_sent`, as every other failure's line says how far it got, and as
 * its trace's candor.stage does: nothing of it reached an upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('a 404 and an access rule’s 403 are logged not_sent, with no attempt', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /api }
    upstream: app
  - match: { path: /closed }
    upstream: app
    deny: [127.0.0.0/8]
upstreams:
  app:
    targets: [{ url: "${echo.url}" }]
`);
  t.after(() => gw.close());
  for (const [path, status, error] of [
    ['/nowhere', 404, 'destination_not_found'],
    ['/closed', 403, 'http_request_denied'],
  ] as const) {
    const id = path.slice(1);
    assert.equal((await request(gw.url, { path, headers: { 'x-request-id': id } })).status, status);
    const line = await gw.logFor(id);
    assert.equal(line.error, error);
    assert.equal(line.stage, 'not_sent', path);
    assert.equal(line.attempts, 0);
  }
  assert.equal(echo.received.length, 0);
});
