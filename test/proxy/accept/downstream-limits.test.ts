/**
 * DESIGN.md "Downstream limits", sizes: header section → 431, URI → 414, body over the
 * route's limit → 413 before anything is forwarded (and no 100 Continue for a body that
 * would be refused). Real sockets, raw bytes, a real echo upstream that must see nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClientError,
  assertStillServes,
  assertUpstreamSawNothing,
  exchange,
  hasFinalResponse,
  LIMITS,
  parseRaw,
  RawClient,
  settle,
  startFixture,
} from './downstream-fixture.ts';

const pad = (n: number) => 'a'.repeat(n);

/** A target refused before it ended: named with the limit, as one read whole is (`request target of N bytes, …`). */
const TARGET_OVER_LIMIT = /^request target over the limit of 1024 bytes \(limits\.uri_length\)$/;

test('a header section over limits.header_size is a 431, closed', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    `GET / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nX-Request-Id: big-head\r\nX-Big: ${pad(LIMITS.headerSize)}\r\n\r\n`,
  );
  await assertClientError(f, answer, {
    status: 431,
    details: /^request header section too large: over the limit of 4096 bytes \(limits\.header_size\)$/,
    requestId: 'big-head',
    json: true,
  });
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

// The fault that came first is named: a head past the limit in one write was a 431 whatever
// was wrong before its end (a NUL, a bad name), and a 400 when the same bytes came in two.
for (const [label, bad, details] of [
  ['a NUL in a field value', 'X-Nul: a\x00b', /invalid character in the value of header "X-Nul"/],
  ['a field name with a space', 'Bad Name: x', /invalid header field name/],
] as const) {
  test(`${label} before the end of a head past header_size is a 400 for it, in one write as in two`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const head = `GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: first-fault\r\n${bad}\r\n`;
    const rest = `X-Big: ${pad(LIMITS.headerSize)}\r\n\r\n`;
    const whole = await exchange(f.gw.port, head + rest);
    await assertClientError(f, whole, { status: 400, details, requestId: 'first-fault' });
    const client = await RawClient.connect(f.gw.port);
    t.after(() => client.destroy());
    client.write(head);
    await client.until(hasFinalResponse);
    client.write(rest);
    await client.untilClosed();
    await assertClientError(f, { raw: client.received, closed: client.closed }, { status: 400, details });
    assertUpstreamSawNothing(f);
  });
}

test('a flood of tiny headers is a 431, never a silently truncated header list', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  // Node's maxHeaderSize counts names and values, not the raw bytes: this head is well over 4 KiB.
  const answer = await exchange(
    f.gw.port,
    `GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: flood\r\n${'X:1\r\n'.repeat(2100)}Host: b\r\n\r\n`,
  );
  await assertClientError(f, answer, {
    status: 431,
    details: /header section too large/,
    requestId: 'flood',
  });
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('a URI over limits.uri_length but within the header size is a 414', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    `GET /${pad(LIMITS.uriLength + 100)} HTTP/1.1\r\nHost: a\r\nX-Request-Id: long-uri\r\n\r\n`,
  );
  // Closed after it, as every refused head is (docs/data-path.md): what came behind the
  // request line was never read as a request's, so nothing after it can be trusted as one.
  await assertClientError(f, answer, {
    status: 414,
    details: /^request target of \d+ bytes, over the limit of 1024 bytes \(limits\.uri_length\)$/,
    requestId: 'long-uri',
  });
  // The log keeps what the parser's own 414 keeps of the target (below): its first 256 characters.
  const [line] = f.gw.logs.filter((l) => l.msg === 'request' && l.client_req_id === 'long-uri');
  assert.equal(line.path, `/${pad(255)}`);
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('a URI that overflows the header size too is still a 414 (the request line never ended)', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  // Sent in one write, so the parser's raw packet starts with the request line. When such a
  // head arrives in several reads Node only hands over the last one: see client-error.ts.
  const answer = await exchange(
    f.gw.port,
    `GET /${pad(LIMITS.headerSize + 100)} HTTP/1.1\r\nHost: a\r\nX-Request-Id: huge-uri\r\n\r\n`,
  );
  await assertClientError(f, answer, { status: 414, details: TARGET_OVER_LIMIT });
  const [line] = f.gw.logs.filter((l) => l.msg === 'request' && l.status === 414);
  assert.equal(line.path, `/${pad(255)}`);
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

// A request line that has not ended yet but can no longer be valid is refused as it stands:
// it was held to the header timeout (a 408 calling the client slow), or past header_size
// called a 414 whatever its fault.
for (const [label, line, status, details] of [
  [
    'a method longer than any the gateway knows',
    'G'.repeat(100),
    501,
    /^method "G{40}\.\.\." is not implemented$/,
  ],
  ['a target past uri_length', `GET /${pad(LIMITS.uriLength + 1)}`, 414, TARGET_OVER_LIMIT],
  [
    'a target past uri_length, its version begun',
    `GET /${pad(LIMITS.uriLength + 1)} HTTP/1.1`,
    414,
    TARGET_OVER_LIMIT,
  ],
  ['a version that is no version', 'GET / HTTP/1.11', 400, /invalid HTTP version/],
  [
    'a version that runs past header_size',
    `GET / HTTP/1.1${'1'.repeat(LIMITS.headerSize)}`,
    400,
    /invalid HTTP version/,
  ],
] as const) {
  test(`${label}, its line not ended, then nothing: a ${status} now, not a 408 at header_timeout`, async (t) => {
    const f = await startFixture();
    t.after(() => f.close());
    const client = await RawClient.connect(f.gw.port);
    t.after(() => client.destroy());
    client.write(line);
    await client.until(hasFinalResponse);
    await client.untilClosed();
    await assertClientError(f, { raw: client.received, closed: client.closed }, { status, details });
    assertUpstreamSawNothing(f);
    await assertStillServes(f);
  });
}

test("a Content-Length over the route's body limit is a 413 without reading the body", async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    `POST / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nContent-Length: ${LIMITS.body + 1}\r\n\r\n${pad(100)}`,
  );
  await assertClientError(f, answer, {
    status: 413,
    details: /request body of 1025 bytes is over the route's limit of 1024/,
    json: true,
  });
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('with Expect: 100-continue a body over the limit gets the 413 and never a 100 Continue', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await exchange(
    f.gw.port,
    `PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${10 * LIMITS.body}\r\nExpect: 100-continue\r\n\r\n`,
  );
  assert.doesNotMatch(answer.raw, /^HTTP\/1\.1 100/);
  const res = await assertClientError(f, answer, { status: 413, details: /over the route's limit/ });
  assert.deepEqual(res.interim, []);
  assertUpstreamSawNothing(f);
  await assertStillServes(f);
});

test('Expect: 100-continue from an HTTP/1.0 client is ignored: no 1xx, only the final answer (RFC 9110 §10.1.1, §15.2)', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  // An HTTP/1.0 client knows no 1xx: a 100 would be read as its final answer, and the real one as garbage.
  client.write('POST /ok HTTP/1.0\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
  await settle(100);
  client.write('0123456789');
  await client.until(hasFinalResponse);
  const res = parseRaw(client.received);
  assert.deepEqual(res.interim, []);
  assert.match(client.received, /^HTTP\/1\.1 200 /);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.toString(), '0123456789');
});

test('Expect: 100-continue in two fields (one expectation, a list written twice): a 100 Continue, then the answer; a list naming another expectation is a 417', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\nExpect: 100-Continue\r\n\r\n',
  );
  await client.until((text) => text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
  client.write('0123456789');
  await client.until(hasFinalResponse);
  assert.match(client.received, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.toString(), '0123456789');
  const other = await exchange(
    f.gw.port,
    'POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\nExpect: something-else\r\n\r\n',
  );
  await assertClientError(f, other, {
    status: 417,
    details: /expectation "100-continue, something-else" cannot be met/,
  });
});

/** Sends a chunked body of 0x200 + 0x400 bytes (terminator included) against the 1 KiB limit. */
async function sendChunkedOverLimit(
  port: number,
  requestId: string,
): Promise<{ raw: string; closed: boolean }> {
  const client = await RawClient.connect(port);
  client.write(
    `POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: ${requestId}\r\n\r\n`,
  );
  // Under the limit first: this part may already be on its way upstream.
  client.write(`200\r\n${pad(0x200)}\r\n`);
  await settle(100);
  // The rest, terminator included: only the gateway cutting the stream keeps it from being whole.
  client.write(`400\r\n${pad(0x400)}\r\n0\r\n\r\n`);
  await client.until(hasFinalResponse);
  await client.untilClosed().catch(() => {});
  client.destroy();
  return { raw: client.received, closed: client.closed };
}

test('a chunked body that grows over the limit is a 413; the upstream never sees a whole body', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const answer = await sendChunkedOverLimit(f.gw.port, 'chunky');
  await assertClientError(f, answer, {
    status: 413,
    details: /request body larger than the route's limit of 1024 bytes/,
    requestId: 'chunky',
  });
  // Streaming had started: what the upstream saw must not pass for a complete body.
  for (const seen of f.echo.received) assert.equal(seen.bodyComplete, false);
  await assertStillServes(f);
});

test('a chunked body over the limit: the bytes past the limit are not forwarded', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  await sendChunkedOverLimit(f.gw.port, 'chunky-bytes');
  for (const seen of f.echo.received)
    assert.ok(seen.bodyLength <= LIMITS.body, `upstream saw ${seen.bodyLength} bytes`);
});

test('Expect: 100-continue within the limit gets a 100 Continue, then the upstream answer', async (t) => {
  const f = await startFixture();
  t.after(() => f.close());
  const client = await RawClient.connect(f.gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
  );
  await client.until((r) => r.includes('\r\n\r\n'));
  assert.match(client.received, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  assert.equal(f.echo.received.length, 0, 'no body promised upstream before the client sends it');
  client.write('0123456789');
  await client.until(hasFinalResponse);
  const res = parseRaw(client.received);
  assert.deepEqual(res.interim, ['HTTP/1.1 100 Continue']);
  assert.equal(res.status, 200);
  const seen = await f.echo.waitForRequest(1, { body: true });
  assert.equal(seen.body.toString(), '0123456789');
  // The gateway answered the expectation itself: it is not passed on.
  assert.equal(seen.headers.expect, undefined);
});

test('each bound is exact: a head of header_size bytes, a URI of uri_length, 256 fields pass; one more is refused (whole and in 7-byte writes)', async (t) => {
  // A 4 KiB head in 7-byte writes is some 600 turns of this process: 10 s to send it, not 500 ms.
  const f = await startFixture('10s');
  t.after(() => f.close());
  /** A whole head (request line to the blank line) of exactly `size` bytes. */
  const head = (size: number) => {
    const bare = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n';
    return bare.replace('X-Pad: ', `X-Pad: ${pad(size - bare.length)}`);
  };
  const uri = (length: number) => `GET /${pad(length - 1)} HTTP/1.1\r\nHost: a\r\n\r\n`;
  const fields = (count: number) => `GET / HTTP/1.1\r\nHost: a\r\n${'x: v\r\n'.repeat(count - 1)}\r\n`;
  const cases: [string, string, number][] = [
    ['head at header_size', head(LIMITS.headerSize), 200],
    ['head one byte over', head(LIMITS.headerSize + 1), 431],
    ['URI at uri_length', uri(LIMITS.uriLength), 200],
    ['URI one byte over', uri(LIMITS.uriLength + 1), 414],
    // The fields are at fault, not the target (it was a 414: the request line, method and
    // version included, was measured against uri_length).
    [
      'URI at uri_length, fields over header_size',
      uri(LIMITS.uriLength).replace('Host: a\r\n', `Host: a\r\nX-Pad: ${pad(LIMITS.headerSize)}\r\n`),
      431,
    ],
    ['256 fields', fields(256), 200],
    ['257 fields', fields(257), 431],
  ];
  for (const split of [false, true]) {
    for (const [what, bytes, status] of cases) {
      const client = await RawClient.connect(f.gw.port);
      if (!split) client.write(bytes);
      else {
        client.socket.setNoDelay(true);
        for (let at = 0; at < bytes.length; at += 7) {
          client.write(bytes.slice(at, at + 7));
          await new Promise((r) => setImmediate(r));
        }
      }
      await client.until(hasFinalResponse);
      client.destroy();
      assert.equal(parseRaw(client.received).status, status, `${what}${split ? ', in 7-byte writes' : ''}`);
    }
  }
});
