/**
 * A HEAD's Range means nothing (RFC 9110 §14.2: GET is the only method range handling is defined
 * for, and a server MUST ignore Range on any other): on a cached route a HEAD gets the head of
 * the whole answer, a 200 without Content-Range, on a hit (from the stored GET) and on a miss
 * alike. On a miss it goes upstream without Range and If-Range: nginx and Apache answer a HEAD's
 * Range with a 206, which the client would have got on a miss and not on a hit.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

const BODY = 'the whole page, twenty-nine b';

/** An origin that honours Range on HEAD too (as nginx's range filter does), recording what each request sent. */
async function rangingOrigin(t: import('node:test').TestContext) {
  const seen: { method: string; range?: string; ifRange?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      method: String(req.method),
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
    });
    const fields = { 'cache-control': 'max-age=600', etag: '"v1"', 'content-type': 'text/plain' };
    const asked = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (asked === null) {
      res.writeHead(200, { ...fields, 'content-length': BODY.length });
      return res.end(req.method === 'HEAD' ? undefined : BODY);
    }
    const [start, end] = [Number(asked[1]), Number(asked[2])];
    res.writeHead(206, {
      ...fields,
      'content-range': `bytes ${start}-${end}/${BODY.length}`,
      'content-length': end - start + 1,
    });
    res.end(req.method === 'HEAD' ? undefined : BODY.slice(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

test('a HEAD with Range on a miss goes upstream without Range and If-Range: the 200 head of the whole answer', async (t) => {
  const origin = await rangingOrigin(t);
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  const res = await request(gw.url, {
    method: 'HEAD',
    path: '/pages/video',
    headers: { range: 'bytes=0-3', 'if-range': '"v1"' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-range'], undefined);
  assert.equal(res.headers['content-length'], String(BODY.length));
  assert.equal(res.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.deepEqual(origin.seen, [{ method: 'HEAD', range: undefined, ifRange: undefined }]);
});

test("a HEAD with Range on a hit is the stored GET's 200 head, never a 206", async (t) => {
  const origin = await rangingOrigin(t);
  const gw = await startTestGateway(cachedPages(origin.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/video' })).text, BODY);
  const res = await request(gw.url, {
    method: 'HEAD',
    path: '/pages/video',
    headers: { range: 'bytes=0-3' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-range'], undefined);
  assert.equal(res.headers['content-length'], String(BODY.length));
  assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(origin.seen.length, 1);
  // A GET's Range on the same stored answer is still its part.
  const part = await request(gw.url, { path: '/pages/video', headers: { range: 'bytes=0-3' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, BODY.slice(0, 4));
});
