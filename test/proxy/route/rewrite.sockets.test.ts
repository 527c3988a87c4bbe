/**
 * What path reaches the upstream: a prefix replaced, or a path rewritten by an RE2 pattern,
 * the query kept as the client sent it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

describe('rewrites', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(`routes:
  - match: { path: /v1 }
    upstream: app
    rewrite: { prefix: /api/v1 }
  - match: { path: /strip }
    upstream: app
    rewrite: { prefix: / }
  - match: { path: /old }
    upstream: app
    rewrite: { regex: "^/old/([a-z]+)/(?P<id>[0-9]+)$", replace: "/new/$<id>/$1" }
  - match: { path: /s }
    upstream: app
    rewrite: { regex: "^/s(.*)$", replace: "/$1" }
  - match: { path: / }
    upstream: app
    rewrite: { prefix: /root }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
  });
  after(async () => {
    await gw.close();
    await app.close();
  });

  const pathSeen = async (path: string) => {
    await request(gw.url, { path });
    return app.received.at(-1)?.path;
  };

  test('a prefix is replaced on segment boundaries, the query kept', async () => {
    assert.equal(await pathSeen('/v1/users?id=7'), '/api/v1/users?id=7');
    assert.equal(await pathSeen('/v1'), '/api/v1');
    assert.equal(await pathSeen('/v1?q'), '/api/v1?q');
    assert.equal(await pathSeen('/strip/a?b'), '/a?b', 'prefix: / strips');
    assert.equal(await pathSeen('/x/y'), '/root/x/y', 'from the / route');
  });

  test('a pattern rewrites the path with its groups, and leaves a path it does not match alone', async () => {
    assert.equal(await pathSeen('/old/users/42?full=1'), '/new/42/users?full=1');
    assert.equal(await pathSeen('/old/users/x42'), '/old/users/x42');
  });

  test('a replacement that joins slashes into a run sends one, as paths.merge_slashes makes every path', async () => {
    // "//evil.example/x" was sent: a network-path reference to an app that resolves its target as a URL.
    assert.equal(await pathSeen('/s/evil.example/x?next=//y'), '/evil.example/x?next=//y');
  });

  // An origin-form path begun with "//" is a network-path reference to an app that resolves its
  // target as a URL (new URL(req.url, base), Go's url.Parse): "//evil.example/x" names the host
  // evil.example. With merge_slashes off, an empty segment after the prefix, or a replacement's
  // slash before its capture, put one at the start of a path the client began with "/api/".
  test('with merge_slashes off, a rewrite never makes a path begun with "//": its leading run is one "/"', async () => {
    const local = await startTestGateway(`paths: { merge_slashes: false }
routes:
  - match: { path: /api }
    upstream: app
    strip_prefix: true
  - match: { path: /p }
    upstream: app
    rewrite: { prefix: / }
  - match: { path: /s }
    upstream: app
    rewrite: { regex: "^/s(.*)$", replace: "/$1" }
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
    try {
      const seen = async (path: string) => {
        assert.equal((await request(local.url, { path })).status, 200, path);
        return app.received.at(-1)?.path;
      };
      assert.equal(await seen('/api//evil.example/x?y'), '/evil.example/x?y', 'strip_prefix');
      assert.equal(await seen('/api///evil.example'), '/evil.example', 'a longer run');
      assert.equal(await seen('/p//evil.example/x'), '/evil.example/x', 'rewrite.prefix: /');
      assert.equal(await seen('/s/evil.example/x'), '/evil.example/x', 'a replacement joining two');
      assert.equal(await seen('/api/a//b'), '/a//b', 'an empty segment past the first goes on');
      // (Sent raw: node:http's client, as new URL does, reads "//kept/x" as the host kept.)
      const unrewritten = await rawRequest(
        local.port,
        'GET //kept/x HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n',
      );
      assert.equal(unrewritten.status, 200);
      assert.equal(app.received.at(-1)?.path, '//kept/x', 'a path no route rewrote goes on as sent');
    } finally {
      await local.close();
    }
  });

  test('a pattern that would backtrack without bound in a backtracking engine runs in linear time here', async () => {
    // (a+)+$ is the textbook catastrophic pattern: RE2 runs it like any other.
    const local = await startTestGateway(`routes:
  - match: { path: /, headers: { X-Probe: { regex: "^(a+)+$" } } }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
    try {
      const res = await request(local.url, { headers: { 'x-probe': `${'a'.repeat(4000)}!` } });
      assert.equal(res.status, 404, 'no route: the pattern did not match, and answered');
      assert.match(String(res.headers['proxy-status']), /error=destination_not_found/);
    } finally {
      await local.close();
    }
  });
});
