/**
 * The next hop a forward-auth failure names to clients (DESIGN: `next-hop` is the upstream's
 * name, its internal address only where the config allows exposing it). A hop given by `url` has
 * no name but its address: by default it is `auth:forward`, its `HOST:PORT` shown only with
 * `errors.expose_upstream_address`; the log line's `auth_hop` and the status page (the
 * operator's) keep it by its address.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { forwardAuthConfig, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

const DETAILS = 'the auth service: connection refused \\(ECONNREFUSED\\) after [\\d.]+ ms';

test('a url hop that fails is next-hop="auth:forward" by default: its address is in no header nor body', async () => {
  const refusing = await startRefusing();
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${refusing.url}/check" }`),
  );
  try {
    for (const accept of ['application/json', 'text/html', 'text/plain']) {
      const res = await request(gw.url, { path: '/app', headers: { accept, 'x-request-id': accept } });
      assert.equal(res.status, 502);
      assert.match(
        String(res.headers['proxy-status']),
        new RegExp(`^edge-1; error=connection_refused; details="${DETAILS}"; next-hop="auth:forward"$`),
      );
      assert.ok(!res.text.includes(`127.0.0.1:${refusing.port}`), `${accept}: ${res.text}`);
      assert.ok(res.text.includes('auth:forward'), `${accept}: ${res.text}`);
    }
    assert.equal(echo.received.length, 0);
    // The operator's view keeps the hop by its address: the log line, the status page.
    const line = await gw.logFor('text/plain');
    assert.equal(line.auth, 'failed: connection_refused');
    assert.equal(line.auth_hop, `auth:127.0.0.1:${refusing.port}`);
    assert.equal(gw.gateway.status().auth_hops[`auth:127.0.0.1:${refusing.port}`].counts.failed, 3);
  } finally {
    await close(refusing);
  }
});

test('with expose_upstream_address, a url hop that fails shows its address: next-hop="auth:HOST:PORT"', async () => {
  const refusing = await startRefusing();
  const { gw, close } = await startAuthStage(
    (app) =>
      `errors: { expose_upstream_address: true }\n${forwardAuthConfig(app, `{ url: "${refusing.url}/check" }`)}`,
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      new RegExp(
        `^edge-1; error=connection_refused; details="${DETAILS}"; next-hop="auth:127\\.0\\.0\\.1:${refusing.port}"$`,
      ),
    );
    assert.equal(JSON.parse(res.text).next_hop, `auth:127.0.0.1:${refusing.port}`);
  } finally {
    await close(refusing);
  }
});
