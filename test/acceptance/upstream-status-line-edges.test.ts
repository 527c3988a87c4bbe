/**
 * Answers of an HTTP/1.1 upstream that the response parser's own tests read, checked here through
 * a real gateway as a client meets them: a 101 to a request that offered no upgrade (a 502, not a
 * tunnel), a 204 framed as chunked (a 204 has no body whatever its fields say, RFC 9112 §6.3, so
 * its last chunk is bytes after the answer) and a status line without its reason phrase (optional,
 * RFC 9112 §4). Each checks what the client got, the one log line, and whether that upstream
 * connection is used again: only where its framing is not in doubt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertGatewayError, onlyLogLine } from '../helpers/gateway-error.ts';
import { rawRequest, request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type Script, type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const GOOD = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood';

const SCRIPTS: Record<string, Script> = {
  '/unasked-101': (s) =>
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\nraw!'),
  '/chunked-204': (s) => s.write('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
  '/no-reason': (s) => s.write('HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok'),
  '/empty-reason': (s) => s.write('HTTP/1.1 404 \r\nContent-Length: 2\r\n\r\nno'),
};

let upstream: ScriptedUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await scriptedUpstream((socket, req) => {
    const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
    (SCRIPTS[path] ?? ((s) => s.write(GOOD)))(socket, req);
  });
  gw = await startTestGateway(`name: edge-1
errors: { expose_upstream_address: true }
routes:
  - { match: { path: / }, upstream: app }
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
`);
});

after(() => closeAll(gw, upstream));

/** The upstream connection the last request for `path` came on. */
const connectionOf = (path: string) =>
  upstream.requests.filter((r) => r.head.split(' ')[1] === path).at(-1)?.connection;

/** Whether the next request goes on the upstream connection that carried `path`. */
async function reused(path: string): Promise<boolean> {
  const next = await request(gw.url, { path: `/after${path}` });
  assert.equal(next.text, 'good');
  return connectionOf(`/after${path}`) === connectionOf(path);
}

describe('an answer whose framing is in doubt: the connection is not used again', () => {
  test('a 101 to a request that offered no upgrade: 502 http_protocol_error, no tunnel, nothing after it relayed', async () => {
    const res = await request(gw.url, { path: '/unasked-101', headers: { accept: 'application/json' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'http_protocol_error',
      details: /^unexpected 101 Switching Protocols \(no upgrade was requested\)$/,
      nextHop: upstream.url,
      retryAfter: null,
      format: 'problem+json',
    });
    assert.ok(!res.text.includes('raw!'), 'the bytes after the 101 never reach the client');
    const line = await onlyLogLine(gw, id);
    assert.deepEqual(
      [line.status, line.error, line.shape, line.stage, line.upstream, line.target],
      [502, 'http_protocol_error', 'garbage', 'sent', 'app', upstream.url],
    );
    assert.equal(await reused('/unasked-101'), false);
  });

  test('a 204 framed as chunked: the 204 reaches the client with no body and no framing, its last chunk is left behind', async () => {
    const exchange = await rawRequest(
      gw.port,
      'GET /chunked-204 HTTP/1.1\r\nHost: a\r\n\r\nGET /after-204 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const [first, second] = exchange.raw.split(/(?=HTTP\/1\.1 )/);
    assert.match(first, /^HTTP\/1\.1 204 No Content\r\n/);
    assert.doesNotMatch(first, /transfer-encoding|content-length/i);
    assert.ok(first.endsWith('\r\n\r\n'), `nothing after the 204's head: ${JSON.stringify(first)}`);
    // The client's connection stays in step: its next request is answered on it.
    assert.match(second ?? '', /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\ngood$/);
    const id = /x-request-id: (\S+)/i.exec(first)?.[1] as string;
    const line = await onlyLogLine(gw, id);
    assert.equal(line.status, 204);
    assert.equal(line.error, undefined);
    assert.notEqual(
      connectionOf('/after-204'),
      connectionOf('/chunked-204'),
      'the connection was used again',
    );
  });
});

describe('a status line without its reason phrase (RFC 9112 §4: optional)', () => {
  for (const [path, status, text, reason] of [
    ['/no-reason', 200, 'ok', 'OK'],
    ['/empty-reason', 404, 'no', 'Not Found'],
  ] as const) {
    test(`${path}: the ${status} passes with its standard reason, and the connection is used again`, async () => {
      const exchange = await rawRequest(
        gw.port,
        `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      );
      assert.match(exchange.raw, new RegExp(`^HTTP/1\\.1 ${status} ${reason}\\r\\n`));
      assert.ok(exchange.raw.endsWith(`\r\n\r\n${text}`));
      assert.doesNotMatch(exchange.raw, /proxy-status/i, 'nothing went wrong');
      const id = /x-request-id: (\S+)/i.exec(exchange.raw)?.[1] as string;
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, status);
      assert.equal(line.error, undefined);
      assert.equal(await reused(path), true);
    });
  }
});
