/**
 * A stale answer standing in for a failed upstream meets the client's preconditions and range as
 * the origin would (RFC 9110 §13.2.2, §14.2): a failed If-Match or If-Unmodified-Since is a 412,
 * not the stored 200 (a client's lost update would take the old page for the current one);
 * If-None-Match a 304; one byte range a 206 of it (If-Range permitting), one past the end a 416.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';

/** A gateway whose stored answer of /pages/a ("v1", MODIFIED) is stale, its origin stopped since. */
async function standingIn(t: TestContext) {
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
  return { gw, origin };
}

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
  const { gw, origin } = await standingIn(t);
  for (const [headers, status] of CASES) {
    const what = JSON.stringify(headers);
    const res = await request(gw.url, { path: '/pages/a', headers });
    assert.equal(res.status, status, what);
    assert.equal(res.text, status === 200 ? 'stored page' : '', what);
    assert.equal(res.headers.etag, '"v1"', what);
    // Refused, then no target left once the refusals eject it: a stale answer either way.
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; fwd=stale; fwd-status=50[23]; /, what);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=(connection_refused|destination_unavailable); /,
      what,
    );
    if (status !== 412) continue;
    assert.equal(res.headers['content-length'], '0', what);
    assert.equal(res.headers['last-modified'], MODIFIED, what);
    // Nothing a cache after this one could keep the 412 by.
    assert.equal(res.headers['cache-control'], undefined, what);
  }
  assert.equal(origin.heads.length, 1);
});

const RANGES: ReadonlyArray<[Record<string, string>, number, string, string | undefined]> = [
  [{ range: 'bytes=0-5' }, 206, 'stored', 'bytes 0-5/11'],
  [{ range: 'bytes=7-' }, 206, 'page', 'bytes 7-10/11'],
  [{ range: 'bytes=-4' }, 206, 'page', 'bytes 7-10/11'],
  [{ range: 'bytes=7-100' }, 206, 'page', 'bytes 7-10/11'],
  [{ range: 'bytes=11-' }, 416, '', 'bytes */11'],
  // Several ranges, another unit, one that does not read: the whole answer (§14.2 allows it).
  [{ range: 'bytes=0-1,3-4' }, 200, 'stored page', undefined],
  [{ range: 'items=0-1' }, 200, 'stored page', undefined],
  [{ range: 'bytes=5-2' }, 200, 'stored page', undefined],
  // If-Range: the stored strong ETag or Last-Modified holds; anything else, the whole answer.
  [{ range: 'bytes=0-5', 'if-range': '"v1"' }, 206, 'stored', 'bytes 0-5/11'],
  [{ range: 'bytes=0-5', 'if-range': MODIFIED }, 206, 'stored', 'bytes 0-5/11'],
  [{ range: 'bytes=0-5', 'if-range': '"v0"' }, 200, 'stored page', undefined],
  [{ range: 'bytes=0-5', 'if-range': 'W/"v1"' }, 200, 'stored page', undefined],
  // Dates that are no HTTP-date (§5.6.7), though JavaScript reads them as the Last-Modified's.
  [{ range: 'bytes=0-5', 'if-range': '2026-11-03T10:00:00Z' }, 200, 'stored page', undefined],
  [{ range: 'bytes=0-5', 'if-range': 'Tue, 03 Nov 2026 10:00:00 +0000' }, 200, 'stored page', undefined],
  // A precondition first: a 412 whatever the range.
  [{ range: 'bytes=0-5', 'if-match': '"v0"' }, 412, '', undefined],
];

test('a stale answer standing in for a refused upstream gives the byte range a Range asks for: a 206, or a 416 past its end', async (t) => {
  const { gw, origin } = await standingIn(t);
  for (const [headers, status, text, range] of RANGES) {
    const what = JSON.stringify(headers);
    const res = await request(gw.url, { path: '/pages/a', headers });
    assert.equal(res.status, status, what);
    assert.equal(res.text, text, what);
    assert.equal(res.headers['content-range'], range, what);
    assert.equal(res.headers['content-length'], String(text.length), what);
    // Refused, then no target left once the refusals eject it: a stale answer either way.
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; fwd=stale; fwd-status=50[23]; /, what);
  }
  const head = await request(gw.url, { path: '/pages/a', method: 'HEAD', headers: { range: 'bytes=0-5' } });
  assert.equal(head.status, 200, 'a HEAD ignores Range (§14.2: defined for GET)');
  assert.equal(origin.heads.length, 1);
});

test("If-Range naming a stored Last-Modified that is no strong validator (within a second of the answer's Date) gets the whole answer", async (t) => {
  // Modified in the second it was sent: it may change again within that second (RFC 9110 §8.8.2.2).
  // Sent now: a Date long past makes the answer that old (RFC 9111 §4.2.3), past its stale-if-error.
  const sent = new Date().toUTCString();
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'Date', sent, 'Last-Modified', sent],
    body: 'stored page',
  });
  t.after(() => origin.stop());
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/a' })).status, 200);
  await origin.stop();
  const res = await request(gw.url, {
    path: '/pages/a',
    headers: { range: 'bytes=0-5', 'if-range': sent },
  });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'stored page');
  assert.equal(res.headers['content-range'], undefined);
  // Without If-Range the range is served.
  const part = await request(gw.url, { path: '/pages/a', headers: { range: 'bytes=0-5' } });
  assert.equal(part.status, 206);
});
