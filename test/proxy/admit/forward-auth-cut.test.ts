/**
 * An auth service's answer cut short is no verdict (issue 34, qa6 item 1): a 2xx head followed by
 * a reset or a close before its body is whole lets nothing in, and a 401 or 403 cut the same way
 * is not passed on as if whole. Each is the auth hop's 502 `http_response_incomplete`, naming
 * `next-hop="auth:NAME"`, and the app is never asked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startHeadThenStall } from '../../../src/kits/fault-kit/slow-faults.ts';
import { forwardAuthConfig, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

/** An auth service that sends `head`, 10 of the body's announced bytes (or a chunk and no last one), then hangs up as `end` says. */
function startCutService(status: string, framing: 'length' | 'chunked', end: 'reset' | 'close') {
  const body = 'x'.repeat(10);
  const framed =
    framing === 'length'
      ? `Content-Length: 100\r\n\r\n${body}`
      : `Transfer-Encoding: chunked\r\n\r\na\r\n${body}\r\n`;
  return startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write(
      `HTTP/1.1 ${status}\r\nWWW-Authenticate: Bearer\r\nX-User-Id: u-1\r\nContent-Type: text/plain\r\n${framed}`,
    );
    if (end === 'reset') await connection.reset();
    else await connection.end();
  });
}

const cases = [
  { status: '200 OK', framing: 'length', end: 'reset' },
  { status: '200 OK', framing: 'length', end: 'close' },
  { status: '200 OK', framing: 'chunked', end: 'close' },
  { status: '200 OK', framing: 'chunked', end: 'reset' },
  { status: '401 Unauthorized', framing: 'length', end: 'reset' },
  { status: '401 Unauthorized', framing: 'chunked', end: 'close' },
  { status: '403 Forbidden', framing: 'length', end: 'close' },
] as const;

for (const { status, framing, end } of cases)
  test(`an auth service's ${status} whose ${framing} body is cut by a ${end} is the hop's 502 http_response_incomplete, and nothing reaches the app`, async () => {
    const service = await startCutService(status, framing, end);
    const { gw, echo, close } = await startAuthStage((app) =>
      forwardAuthConfig(app, `{ url: "${service.url}/check", timeout: 2s, copy_headers: [X-User-Id] }`),
    );
    try {
      const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'cut-1' } });
      assert.equal(res.status, 502);
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=http_response_incomplete; details="the auth service: response body cut short: [^"]*"; next-hop="auth:forward"$/,
      );
      assert.equal(res.headers['www-authenticate'], undefined, 'never a 401 for an answer cut short');
      assert.equal(echo.received.length, 0, 'a cut answer lets nothing in');
      const line = await gw.logFor('cut-1');
      assert.equal(line.status, 502);
      assert.equal(line.auth, 'failed: http_response_incomplete');
    } finally {
      await close(service);
    }
  });

test("an auth service's 200 whose body stalls lets nothing in: the call's timeout ends it as the hop's failure", async () => {
  const service = await startHeadThenStall();
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}/check", timeout: 300ms }`),
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'stall-1' } });
    assert.equal(res.status, 504);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_read_timeout; details="the auth service: [^"]*"; next-hop="auth:forward"$/,
    );
    assert.equal(echo.received.length, 0);
    assert.equal((await gw.logFor('stall-1')).auth, 'failed: connection_read_timeout');
  } finally {
    await close(service);
  }
});
