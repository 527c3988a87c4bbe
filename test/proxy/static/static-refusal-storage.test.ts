/**
 * A static route's 412 and 416 keep `Cache-Control: no-store` whatever the route's
 * response_headers say of caching: an operator's `Cache-Control: public, max-age=31536000,
 * immutable` for the route's assets (nginx's `add_header`, which nginx puts on no 4xx) made the
 * 416 of one client's `Range: bytes=99999-` and the 412 of its `If-Match: "x"` answers a shared
 * cache in front may keep for a year under the file's URL, and give every later client in its
 * place. The rule still reaches the file's 200, 206 and 304, and its other fields the refusals.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const root = tempDir('candor-static-refusal-');
const RULE = 'public, max-age=31536000, immutable';
let gw: TestGateway;

before(async () => {
  writeFileSync(join(root, 'app.js'), 'console.log("candor");\n');
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root} }
    response_headers:
      set:
        Cache-Control: "${RULE}"
        Expires: "Thu, 01 Jan 2099 00:00:00 GMT"
        CDN-Cache-Control: max-age=31536000
        Surrogate-Control: max-age=31536000
        X-Frame-Options: DENY
`);
});

after(async () => {
  await gw?.close();
  rmSync(root, { recursive: true, force: true });
});

test("a static route's 412 and 416 keep no-store whatever its response_headers say of caching; its 200, 206 and 304 take the rule", async () => {
  const whole = await request(gw.url, { path: '/app.js' });
  assert.equal(whole.status, 200);
  const refusals: [string, Record<string, string>, number][] = [
    ['If-Match', { 'if-match': '"not-this-one"' }, 412],
    ['If-Unmodified-Since', { 'if-unmodified-since': 'Fri, 01 Jan 2000 00:00:00 GMT' }, 412],
    ['Range past the end', { range: 'bytes=99999-' }, 416],
  ];
  for (const [label, headers, status] of refusals) {
    const res = await request(gw.url, { path: '/app.js', headers });
    assert.equal(res.status, status, label);
    assert.equal(res.headers['cache-control'], 'no-store', label);
    assert.equal(res.headers.expires, undefined, label);
    assert.equal(res.headers['cdn-cache-control'], undefined, label);
    assert.equal(res.headers['surrogate-control'], undefined, label);
    // The rule's other fields reach them; the answer's own fields stay.
    assert.equal(res.headers['x-frame-options'], 'DENY', label);
    assert.equal(res.headers.etag, whole.headers.etag, label);
    if (status === 416) assert.equal(res.headers['content-range'], `bytes */${whole.body.length}`);
  }
  const answers: [string, Record<string, string>, number][] = [
    ['the file', {}, 200],
    ['a range', { range: 'bytes=0-3' }, 206],
    ['its tag', { 'if-none-match': String(whole.headers.etag) }, 304],
  ];
  for (const [label, headers, status] of answers) {
    const res = await request(gw.url, { path: '/app.js', headers });
    assert.equal(res.status, status, label);
    assert.equal(res.headers['cache-control'], RULE, label);
    assert.equal(res.headers['cdn-cache-control'], 'max-age=31536000', label);
  }
});
