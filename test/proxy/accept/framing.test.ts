/**
 * DESIGN.md "Downstream limits", framing and request-line rules (RFC 9112 §2–§7, RFC 9110
 * §9.3.8, §10.1.1): malformed or ambiguous input is answered by the gateway and nothing
 * reaches the upstream. Some of these Node's parser refuses (the clientError path), some it
 * lets through to the handler (Node calls it for a non-chunked Transfer-Encoding, duplicate
 * Host, GET *, HTTP/0.9, TRACE): both paths must give the same kind of answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  exchange,
  parseRaw,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

interface Case {
  readonly name: string;
  readonly bytes: string;
  readonly status: number;
  readonly details: RegExp;
  /** Whether the connection must close after the answer (default true). */
  readonly closes?: boolean;
  /** Whether the client asks for JSON (default true: every answer's body is negotiated). */
  readonly json?: boolean;
  readonly check?: (headers: Record<string, string>) => void;
}

const HEAD = 'Host: a\r\nX-Request-Id: framing';

const CASES: Case[] = [
  {
    name: 'Content-Length with Transfer-Encoding: chunked is a 400',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    details: /Content-Length and Transfer-Encoding/,
    json: true,
  },
  {
    // Node calls the handler for this one: the gateway must refuse it before forwarding.
    name: 'Transfer-Encoding: gzip without chunked is a 400 (the length cannot be known)',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nTransfer-Encoding: gzip\r\n\r\nabcdef`,
    status: 400,
    details: /Transfer-Encoding must end in chunked/,
  },
  {
    name: 'Transfer-Encoding: gzip, chunked is a 501 (a coding the gateway does not implement)',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: 501,
    details: /transfer coding "gzip" is not supported/,
    // The chunked framing itself was read whole, so the connection is still in step.
    closes: false,
  },
  {
    name: 'two Host headers are a 400',
    bytes: `GET / HTTP/1.1\r\n${HEAD}\r\nHost: b\r\n\r\n`,
    status: 400,
    details: /more than one Host header/,
  },
  {
    name: 'an HTTP/1.1 request without Host is a 400',
    bytes: 'GET / HTTP/1.1\r\nX-Request-Id: framing\r\n\r\n',
    status: 400,
    details: /without a Host header/,
  },
  {
    name: 'an invalid Host value is a 400',
    bytes: 'GET / HTTP/1.1\r\nHost: a b@c/d\r\nX-Request-Id: framing\r\n\r\n',
    status: 400,
    details: /invalid Host header/,
  },
  {
    name: 'two different Content-Lengths are a 400',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
    status: 400,
    details: /Content-Length/,
  },
  {
    name: 'an invalid Content-Length is a 400',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nContent-Length: 3x\r\n\r\nabc`,
    status: 400,
    details: /invalid Content-Length/,
  },
  {
    name: 'an invalid chunk size is a 400',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    status: 400,
    details: /invalid chunked framing/,
  },
  {
    name: 'a bare LF in the request line is a 400',
    bytes: `GET / HTTP/1.1\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'a bare LF ending a header line is a 400',
    bytes: `GET / HTTP/1.1\r\nHost: a\nX-Request-Id: framing\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'a control character in the request target is a 400',
    bytes: `GET /a\x01b HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'a space in the request target is a 400',
    bytes: `GET /a b HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    // Node reads this as HTTP/0.9 followed by an (empty) header section: the handler refuses it.
    name: 'an HTTP/0.9 request line is a 400',
    bytes: 'GET /\r\n\r\n',
    status: 400,
    details: /HTTP\/0\.9|malformed request/,
  },
  {
    name: 'GET * is a 400 (the asterisk form is for OPTIONS only)',
    bytes: `GET * HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /asterisk request target is only valid with OPTIONS/,
    closes: false,
  },
  {
    name: 'obs-fold in a header is a 400',
    bytes: `GET / HTTP/1.1\r\n${HEAD}\r\nX-Folded: one\r\n two\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'a NUL in a header value is a 400',
    bytes: `GET / HTTP/1.1\r\n${HEAD}\r\nX-Nul: a\x00b\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'whitespace between a header name and its colon is a 400',
    bytes: `GET / HTTP/1.1\r\n${HEAD}\r\nX-Space : a\r\n\r\n`,
    status: 400,
    details: /malformed request/,
  },
  {
    name: 'TRACE is a 405 with Allow (it would echo credentials)',
    bytes: `TRACE / HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 405,
    details: /TRACE is not forwarded/,
    closes: false,
    check: (headers) => assert.equal(headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'),
  },
  {
    // Node routes CONNECT to its 'connect' event, never to the request handler.
    name: 'CONNECT is a 405 with Allow',
    bytes: `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-Id: framing\r\nAccept: application/json\r\n\r\n`,
    status: 405,
    details: /CONNECT is not supported/,
    json: true,
    check: (headers) => assert.equal(headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'),
  },
  {
    name: 'an expectation other than 100-continue is a 417',
    bytes: `GET / HTTP/1.1\r\n${HEAD}\r\nExpect: something-else\r\n\r\n`,
    status: 417,
    details: /expectation "something-else" cannot be met/,
    closes: false,
  },
  {
    name: 'an HTTP/2.0 request line is a 505',
    bytes: `GET / HTTP/2.0\r\n${HEAD}\r\n\r\n`,
    status: 505,
    details: /HTTP\/2\.0 is not supported/,
  },
  {
    name: 'the HTTP/2 connection preface (prior knowledge) is a 505',
    bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    status: 505,
    details: /HTTP\/2 is not supported on this listener/,
    json: false, // the preface is fixed bytes: nothing can be added to it
  },
  {
    name: 'an unknown method is a 501 (RFC 9110 §9.1)',
    bytes: `FOO / HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 501,
    details: /method FOO is not implemented/,
  },
  {
    // Methods are case-sensitive: "get" is a well-formed, unknown method.
    name: 'a lower-case method is a 501, not GET',
    bytes: `get / HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 501,
    details: /method get is not implemented/,
  },
  {
    // Named in Proxy-Status, the error body and the log's details: all of it was echoed in each.
    name: 'an unknown method of 2000 characters is a 501 that names its first 40 only',
    bytes: `${'A'.repeat(2000)} / HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 501,
    details: /method "A{40}\.\.\." is not implemented/,
  },
  {
    name: 'a method that is not a token is a 400',
    bytes: `G(E)T / HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /malformed request \(HPE_INVALID_METHOD/,
  },
  {
    // String#trim() strips U+00A0 (latin1 0xa0, obs-text): read so, this was chunked (a 200), while
    // llhttp, nginx and HAProxy see a coding that is not chunked. Only SP and HTAB are OWS.
    name: 'Transfer-Encoding: \\xa0chunked\\xa0 is not chunked: a 400, closed (issue 31, item 8)',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nTransfer-Encoding: \xa0chunked\xa0\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    details: /Transfer-Encoding must end in chunked/,
  },
  {
    name: 'Transfer-Encoding: chunked\\xa0 (obs-text after it) is not chunked either: a 400',
    bytes: `POST / HTTP/1.1\r\n${HEAD}\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n`,
    status: 400,
    details: /Transfer-Encoding must end in chunked/,
  },
  {
    // Its authority replaces Host upstream (RFC 9112 §3.2.2), so it gets the Host checks: no credentials sent as Host.
    name: 'an absolute-form target with userinfo is a 400 (issue 31, item 8)',
    bytes: `GET http://user:secret@internal.example/ HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /malformed request \(HPE_INVALID_URL: absolute-form target: userinfo/,
  },
  {
    name: 'an absolute-form target whose port is past 65535 is a 400',
    bytes: `GET http://h.example:99999999/ HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /absolute-form target: port out of range/,
  },
  {
    // RFC 9110 §4.2.1: an http URI with an empty host MUST be rejected (it became an empty Host).
    name: 'an absolute-form target with an empty host is a 400',
    bytes: `GET http:///nohost HTTP/1.1\r\n${HEAD}\r\n\r\n`,
    status: 400,
    details: /absolute-form target: empty host/,
  },
  {
    name: 'a Host whose port is past 65535 is a 400',
    bytes: 'GET / HTTP/1.1\r\nHost: h.example:99999\r\nX-Request-Id: framing\r\n\r\n',
    status: 400,
    details: /invalid Host header \(port out of range\)/,
  },
  {
    name: 'a Host with userinfo is a 400',
    bytes: 'GET / HTTP/1.1\r\nHost: user:secret@h.example\r\nX-Request-Id: framing\r\n\r\n',
    status: 400,
    details: /invalid Host header \(userinfo/,
  },
  {
    // HTTP/1.7 is read as HTTP/1.1 (RFC 9112 §2.3: http-version.test.ts); another major is not.
    name: 'an HTTP version of another major (HTTP/3.0) is a 505',
    bytes: `GET / HTTP/3.0\r\n${HEAD}\r\n\r\n`,
    status: 505,
    details: /not supported/,
  },
];

for (const c of CASES) {
  test(c.name, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const json = c.json ?? true;
    const bytes =
      json && !c.bytes.includes('Accept:')
        ? c.bytes.replace('\r\n', '\r\nAccept: application/json\r\n')
        : c.bytes;
    // latin1: a case's obs-text bytes go out as the single bytes they are.
    const answer = await exchange(f.gw.port, Buffer.from(bytes, 'latin1'));
    const res = await assertClientError(f, answer, {
      status: c.status,
      details: c.details,
      closes: c.closes,
      json,
    });
    c.check?.(res.headers);
    assertUpstreamSawNothing(f);
    await assertStillServes(f);
  });
}

test('a password a refused target or Host carried is not in the log line: user:***@', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  await exchange(
    f.gw.port,
    'GET http://user:s3cret@internal.example/x HTTP/1.1\r\nHost: a\r\nX-Request-Id: pw-target\r\n\r\n',
  );
  await exchange(
    f.gw.port,
    'GET /y HTTP/1.1\r\nHost: user:s3cret@h.example\r\nX-Request-Id: pw-host\r\n\r\n',
  );
  const target = await f.gw.logFor('pw-target');
  assert.equal(target.status, 400);
  assert.equal(target.path, 'http://user:***@internal.example/x');
  const host = await f.gw.logFor('pw-host');
  assert.equal(host.status, 400);
  assert.equal(host.host, 'user:***@h.example');
  // A target that is no credential keeps its @ (a path may hold one).
  await exchange(
    f.gw.port,
    'GET /a@b:c HTTP/1.1\r\nHost: a\r\nX-Request-Id: pw-none\r\nConnection: close\r\n\r\n',
  );
  assert.equal((await f.gw.logFor('pw-none')).path, '/a@b:c');
});

test('the absolute form is routed by its own authority, and that authority is the Host sent upstream', async (t) => {
  const [api, other] = [await startEcho(), await startEcho()];
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { host: api.example.com }
    upstream: api
  - match: { host: other.example }
    upstream: other
upstreams:
  api:
    targets:
      - url: ${api.url}
  other:
    targets:
      - url: ${other.url}
`);
  t.after(async () => {
    await gw.close();
    await api.close();
    await other.close();
  });
  const answer = await exchange(
    gw.port,
    'GET http://api.example.com/abs?x=1 HTTP/1.1\r\nHost: other.example\r\nX-Request-Id: abs\r\nConnection: close\r\n\r\n',
  );
  // RFC 9112 §3.2.2: the target's authority wins over Host; not a 400, not the Host's route.
  assert.equal(parseRaw(answer.raw).status, 200);
  assert.equal(other.received.length, 0);
  const seen = await api.waitForRequest(1);
  assert.equal(seen.path, '/abs?x=1');
  assert.equal(seen.headers.host, 'api.example.com');
  const line = await gw.logFor('abs');
  assert.equal(line.upstream, 'api');
  assert.equal(line.host, 'api.example.com');
});

test('OPTIONS * is answered by the gateway itself (a question about the server, not a resource)', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    'OPTIONS * HTTP/1.1\r\nHost: a\r\nX-Request-Id: asterisk\r\nConnection: close\r\n\r\n',
  );
  const res = parseRaw(answer.raw);
  assert.equal(res.status, 200);
  assert.equal(res.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  const line = await f.gw.logFor('asterisk');
  assert.equal(res.headers['x-request-id'], line.req_id);
  assert.equal(line.status, 200);
  assert.equal(line.method, 'OPTIONS');
  assertUpstreamSawNothing(f);
});

// A request the gateway answers itself may still carry a body (RFC 9110 §9.3.7 lets OPTIONS have
// one): that body is read past as the request's, never parsed as the next request, whatever it
// looks like. Pins what a raw-socket audit found sound (2026-11-30): the body here is a request.
for (const [label, head, body] of [
  [
    'OPTIONS * with Content-Length',
    'OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 35\r\n',
    'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
  ],
  [
    'a spent OPTIONS, chunked',
    'OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nTransfer-Encoding: chunked\r\n',
    '23\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\n',
  ],
] as const) {
  test(`${label}: the gateway's own answer reads past a body that looks like a request, and the connection serves on`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const client = await RawClient.connect(f.gw.port);
    t.after(() => client.destroy());
    client.write(`${head}\r\n${body}GET /after HTTP/1.1\r\nHost: a\r\n\r\n`);
    await client.until((text) => (text.match(/^HTTP\/1\.1 200 /gm) ?? []).length === 2);
    assert.match(
      client.received,
      /^HTTP\/1\.1 200 OK\r\n(?:[^\r]+\r\n)*allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/,
    );
    const seen = await f.echo.waitForRequest(1);
    assert.equal(seen.path, '/after');
    assert.deepEqual(
      f.echo.received.map((r) => r.path),
      ['/after'],
      'the body never reached the upstream as a request',
    );
  });
}

test('a bare HTTP/0.9 request (no header section) is a 400 at once, then closed', async (t) => {
  // `GET /\r\n` is an HTTP/0.9 request line: no answer to it could be framed, so the server
  // refuses it as soon as the line ends (node:http's parser waited for headers that would never
  // come, and answered 408 at header_timeout).
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write('GET /\r\n');
  await client.untilClosed(3000);
  await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    { status: 400, details: /HTTP\/0\.9 requests are not accepted/ },
  );
  assertUpstreamSawNothing(f);
});

test('a bad field line in a head that has not ended is a 400 at once, not a 408 at header_timeout', async (t) => {
  // A client that sends garbage and then nothing is not a slow client: it gets its 400 when the
  // line is whole, and the log says what was wrong with it (issue 11, hostile clients).
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: framing\r\nBad Name: x\r\n');
  await client.untilClosed(3000);
  await assertClientError(
    f,
    { raw: client.received, closed: client.closed },
    { status: 400, details: /invalid header field name/ },
  );
  assertUpstreamSawNothing(f);
});

// The second form split the offer over two fields: only the last one was looked at, so the
// request went up as an upgrade offering "h2c, websocket" and a 101 to h2c opened a blind tunnel.
for (const [label, upgrade] of [
  ['Upgrade: h2c', 'Upgrade: h2c\r\n'],
  ['h2c in the first of two Upgrade fields', 'Upgrade: h2c\r\nUpgrade: websocket\r\n'],
  // h2 is only ever negotiated by TLS's ALPN (RFC 9113 §3.2): over cleartext it is h2c by another name.
  ['Upgrade: h2', 'Upgrade: h2\r\n'],
  ['H2 after websocket', 'Upgrade: websocket, H2\r\n'],
  ['HTTP/2.0, as RFC 9110 names a version of HTTP', 'Upgrade: HTTP/2.0\r\n'],
] as const) {
  test(`${label} is not tunnelled: it is answered as the plain HTTP/1.1 request it also is`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const answer = await exchange(
      f.gw.port,
      `GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n${upgrade}` +
        'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n',
    );
    const res = parseRaw(answer.raw);
    assert.equal(res.status, 200);
    assert.deepEqual(res.interim, [], 'no 101 Switching Protocols');
    const seen = await f.echo.waitForRequest(1);
    assert.equal(seen.path, '/h2c');
    assert.equal(seen.headers.upgrade, undefined);
    assert.equal(seen.headers['http2-settings'], undefined);
  });
}
