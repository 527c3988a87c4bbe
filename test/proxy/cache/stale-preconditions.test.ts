/**
 * A stale answer standing in for a failed upstream meets the client's preconditions as the origin
 * would (RFC 9110 §13.2.2): a failed If-Match or If-Unmodified-Since is a 412, not the stored
 * 200 (a client's lost update would take the old page for the current one); If-None-Match a 304.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';

const CASES: ReadonlyArray<[Record<string, string>, number]> = [
  [{ 'if-match': '"v0"' }, 412],
  [{ 'if-match': 'W/"v1"' }, 412],
  [{ 'if-match': '"v0", "v1"' }, 200],
  [{ 'if-match': '*' }, 200],
  [{ 'if-unmodified-since': 'Mon, 02 Nov 2026 10:00:00 GMT' }, 412],
  [{ 'if-unmodified-since': MODIFIED }, 200],
  [{ 'if-unmodified-since': 'not a date' }, 200],
  // If-Match passes: If-Unmodified-Since is not read (§13.2.2 step 2), If-None-Match is.
  [{ 'if-match': '"v1"', 'if-unmodified-since': 'Mon, 02 Nov 2026 10:00:00 GMT' }, 200],
  [{ 'if-match': '"v1"', 'if-none-match': '"v1"' }, 304],
];

test("a stale answer standing in for a refused upstream evaluates the client's If-Match and If-Unmodified-Since: a 412 when one fails", async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'ETag', '"v1"', 'Last-Modified', MODIFIED],
    body: 'stored page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/a' })).status, 200);
  await origin.stop();
  for (const [headers, status] of CASES) {
    const what = JSON.stringify(headers);
    const res = await request(gw.url, { path: '/pages/a', headers });
    assert.equal(res.status, status, what);
    assert.equal(res.text, status === 200 ? 'stored page' : '', what);
    assert.equal(res.headers.etag, '"v1"', what);
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; fwd=stale; fwd-status=502; /, what);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /, what);
    if (status !== 412) continue;
    assert.equal(res.headers['content-length'], '0', what);
    assert.equal(res.headers['last-modified'], MODIFIED, what);
    // Nothing a cache after this one could keep the 412 by.
    assert.equal(res.headers['cache-control'], undefined, what);
  }
  assert.equal(origin.heads.length, 1);
});
