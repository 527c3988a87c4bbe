/**
 * A credential in a request's query (`?api_key=…`, `?access_token=…`, `?token=…`, an OAuth
 * `code`, S3's `X-Amz-Signature`) lands in every access line that quotes the target: RFC 6750
 * §2.3 warns that a bearer token in the URI is logged, and §5.3 tells servers not to. The line's
 * `path` and `upstream_path` write such a value `***` (the names the client's reports judge:
 * core/credential-names.ts), the parameters' names and order kept, and what goes upstream is the
 * query as the client sent it. A target without `?` is the very string the request came with.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { withCredentialsMasked } from '../../../src/core/credential-names.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test("the access line's path and upstream_path write a credential's value as ***, names and order kept; the upstream gets the query whole", async () => {
  const seen: (string | undefined)[] = [];
  const app = http.createServer((req, res) => {
    seen.push(req.url);
    res.end('ok');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /v1 }
    upstream: app
    rewrite: { prefix: /api }
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as AddressInfo).port}
`);
  try {
    const sent = '/orders?id=7&api_key=k3y-S3CRET&access_token=tok.en&page=2&token=&X-Amz-Signature=abc&sig';
    const res = await request(gw.url, { path: sent, headers: { 'x-request-id': 'q-1' } });
    assert.equal(res.status, 200);
    assert.deepEqual(seen, [sent]);
    const line = await gw.logFor('q-1');
    assert.equal(
      line.path,
      '/orders?id=7&api_key=***&access_token=***&page=2&token=&X-Amz-Signature=***&sig',
    );
    assert.equal(JSON.stringify(line).includes('S3CRET'), false, JSON.stringify(line));
    // A name spelled with escapes is judged as it reads (`%6Bey` is `key`), and so is `+`.
    const rewritten = await request(gw.url, {
      path: '/v1/x?q=a+b&client%5Fsecret=s1&my+session=s2&code=c0de',
      headers: { 'x-request-id': 'q-2' },
    });
    assert.equal(rewritten.status, 200);
    assert.equal(seen[1], '/api/x?q=a+b&client%5Fsecret=s1&my+session=s2&code=c0de');
    const second = await gw.logFor('q-2');
    assert.equal(second.path, '/v1/x?q=a+b&client%5Fsecret=***&my+session=***&code=***');
    assert.equal(second.upstream_path, '/api/x?q=a+b&client%5Fsecret=***&my+session=***&code=***');
    // A target the gateway refused (a space in it) is quoted masked too.
    await rawRequest(gw.port, 'GET /x?password=hunter2 y HTTP/1.1\r\nhost: a\r\nx-request-id: q-3\r\n\r\n');
    const refused = await gw.accessLine(3);
    assert.equal(refused.status, 400);
    assert.equal(refused.path, '/x?password=***');
  } finally {
    await closeAll(gw, app);
  }
});

test('withCredentialsMasked: the same string when there is no ? or no credential, each credential value *** otherwise', () => {
  const plain = '/a/b/c';
  assert.equal(withCredentialsMasked(plain), plain);
  const query = '/a?page=2&sort=name';
  assert.equal(withCredentialsMasked(query), query);
  assert.equal(withCredentialsMasked('/a?token=x'), '/a?token=***');
  assert.equal(withCredentialsMasked('/a?token=x&'), '/a?token=***&');
  assert.equal(withCredentialsMasked('/a?=x&token'), '/a?=x&token');
  assert.equal(withCredentialsMasked('/a?apikey=x=y&b=1'), '/a?apikey=***&b=1');
  assert.equal(withCredentialsMasked('/a?%ZZkey=x'), '/a?%ZZkey=***');
  assert.equal(withCredentialsMasked('?Secret=1&secret=2'), '?Secret=***&secret=***');
  // Named by its words: a search's keyword, an author, a signup are none.
  assert.equal(
    withCredentialsMasked('/s?keyword=a&author=b&signup=1&accessToken=t'),
    '/s?keyword=a&author=b&signup=1&accessToken=***',
  );
});
