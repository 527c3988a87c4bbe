/**
 * What a misbehaving upstream sends around the final answer's head, and what of it reaches the
 * client: interim (1xx) answers nobody asked for, too many or too large; trailer sections that
 * are malformed, oversized or carry fields no trailer may; and bodiless answers (a HEAD's, a 204,
 * a 304) framed as if they had a body. Each request is followed on its client connection by a
 * plain one, and the upstream connection each came on is checked: bytes an answer had no right
 * to carry are never read as the next answer (RFC 9112 §6.3: the connection is closed instead).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const FINAL = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
const NEXT = 'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nsecond-body';

/** What the upstream writes for each path (anything else: NEXT). */
const ANSWERS: Record<string, string> = {
  '/unasked-100': `HTTP/1.1 100 Continue\r\n\r\n${FINAL}`,
  '/status-199': `HTTP/1.1 199 Odd\r\nx-hint: 1\r\n\r\n${FINAL}`,
  '/hint-flood': `${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(10_000)}${FINAL}`,
  '/large-hint': `HTTP/1.1 103 Early Hints\r\nlink: <${'a'.repeat(40_000)}>\r\n\r\n${FINAL}`,
  '/hint-with-body': `HTTP/1.1 103 Early Hints\r\ncontent-length: 5\r\n\r\nhello${FINAL}`,
  '/bad-trailer':
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nno colon here\r\n\r\n',
  '/large-trailer': `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-big: ${'b'.repeat(40_000)}\r\n\r\n`,
  '/framing-trailers':
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n' +
    'content-length: 99\r\ntransfer-encoding: chunked\r\nhost: elsewhere\r\nx-checksum: abc\r\n\r\n',
  '/head-gzip': 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n',
  '/head-chunked-gzip': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n',
  '/head-chunked': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n',
  '/204-chunked': 'HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
  '/204-length-and-body': 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello',
  // Bytes after a 304 that read as an answer: a smuggled one, if the connection were reused.
  '/304-then-forged': `HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged`,
};

let upstream: Fault;
let gw: TestGateway;

before(async () => {
  upstream = await startRawFault(async (c) => {
    for (;;) {
      const { path } = await c.nextRequest();
      await c.write(ANSWERS[path] ?? NEXT);
    }
  });
  gw = await startTestGateway(
    singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }),
    {},
    'http2: true',
  );
});

after(() => closeAll(gw, upstream));

/**
 * `method path` and then `GET /next-…` on one client connection: everything the client read
 * (until the second answer came or the gateway closed), the first one's log line, and the upstream
 * connections the two requests came on.
 */
async function twoRequests(method: string, path: string) {
  const id = `around${path}`;
  const next = `/next-after${path}`;
  const raw = await rawUntil(
    gw.port,
    `${method} ${path} HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nX-Request-Id: ${id}\r\n\r\n` +
      `GET ${next} HTTP/1.1\r\nHost: a\r\n\r\n`,
    (text) => text.includes('second-body'),
  );
  const line = await gw.logFor(id);
  const on = (p: string) => upstream.received.find((r) => r.path === p)?.connection;
  return { raw, line, connection: on(path), nextConnection: on(next) };
}

/** The answers in what a client read, each from its status line. */
const answersIn = (raw: string) => raw.split(/(?=HTTP\/1\.1 \d{3} )/);

describe('interim (1xx) answers', () => {
  test('a 100 Continue the client never asked for (no Expect) is not relayed; the final answer is', async () => {
    const { raw, line, connection, nextConnection } = await twoRequests('GET', '/unasked-100');
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\nokHTTP\/1\.1 200 OK\r\n[\s\S]*second-body$/);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
    assert.equal(nextConnection, connection, 'the upstream connection stayed in step');
  });

  test('a 199 (an unknown 1xx) is relayed as any 1xx (RFC 9110 §15.2: a proxy forwards them), its reason kept', async () => {
    const { raw } = await twoRequests('GET', '/status-199');
    assert.match(
      raw,
      /^HTTP\/1\.1 199 Odd\r\nx-hint: 1\r\nvia: 1\.1 edge-1\r\nx-request-id: \S+\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
    );
  });

  test('10,000 103s: 16 relayed, then held to the response head limit: a 502 naming the flood, and that connection closed', async () => {
    const { raw, line, connection, nextConnection } = await twoRequests('GET', '/hint-flood');
    assert.equal(raw.match(/HTTP\/1\.1 103 /g)?.length, 16);
    assert.match(answersIn(raw)[16], /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.equal(line.status, 502);
    assert.equal(line.error, 'http_protocol_error');
    assert.match(
      String(line.details),
      /^\d+ interim \(1xx\) responses and no final one: their \d+ bytes are past the response head limit of 32768$/,
    );
    assert.ok(Number(line.interim_dropped) > 0);
    assert.match(raw, /second-body$/);
    assert.notEqual(nextConnection, connection);
  });

  test('a 103 whose header section is too large: 502 http_response_header_section_size, no hint relayed', async () => {
    const { raw, line, connection, nextConnection } = await twoRequests('GET', '/large-hint');
    assert.match(raw, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(raw, /\r\nproxy-status: edge-1; error=http_response_header_section_size; /);
    assert.equal(line.error, 'http_response_header_section_size');
    assert.notEqual(nextConnection, connection);
  });

  test('a 103 with a Content-Length and bytes after it: a 1xx has no body (RFC 9112 §6.3), so they are garbage: 502, connection closed', async () => {
    const { raw, line, connection, nextConnection } = await twoRequests('GET', '/hint-with-body');
    const [hint, final] = answersIn(raw);
    assert.match(hint, /^HTTP\/1\.1 103 Early Hints\r\n/);
    assert.doesNotMatch(hint, /content-length/i);
    assert.match(final, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.equal(line.error, 'http_protocol_error');
    assert.match(String(line.details), /does not start with "HTTP\/"/);
    assert.notEqual(nextConnection, connection);
  });
});

describe('trailer sections', () => {
  for (const [path, error] of [
    ['/bad-trailer', 'http_protocol_error'],
    ['/large-trailer', 'http_response_trailer_section_size'],
  ] as const) {
    test(`${path}: the head was sent, so the transfer is aborted (never ended as whole), logged ${error}`, async () => {
      const { raw, line, connection, nextConnection } = await twoRequests('GET', path);
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*transfer-encoding: chunked\r\n/);
      assert.doesNotMatch(raw, /\r\n0\r\n/, 'no last chunk');
      assert.doesNotMatch(raw, /second-body/, 'the client connection closed, not reused');
      assert.equal(line.status, 200);
      assert.equal(line.error, error);
      assert.equal(nextConnection, undefined, 'the request after it was never read');
      assert.ok(connection !== undefined);
    });
  }

  test('/bad-trailer to an HTTP/2 client: its stream is reset, never ended with trailers', async () => {
    const session = http2.connect(gw.url);
    try {
      const ending = await new Promise<string>((resolve) => {
        const stream = session.request({ ':path': '/bad-trailer', te: 'trailers' });
        stream.on('trailers', () => resolve('trailers'));
        stream.on('error', () => resolve(`reset ${stream.rstCode}`));
        stream.on('end', () => resolve('ended'));
        stream.resume();
      });
      assert.equal(ending, `reset ${http2.constants.NGHTTP2_INTERNAL_ERROR}`);
    } finally {
      session.close();
    }
  });

  test('Content-Length, Transfer-Encoding and Host in trailers are not relayed; an extension field is', async () => {
    const { raw, line, connection, nextConnection } = await twoRequests('GET', '/framing-trailers');
    const [first] = answersIn(raw);
    assert.match(first, /\r\n\r\n2\r\nok\r\n0\r\nx-checksum: abc\r\n\r\n$/);
    assert.equal(line.error, undefined);
    assert.equal(nextConnection, connection);
  });
});

describe("a bodiless answer's framing (RFC 9112 §6.3: it ends at its head, whatever it says)", () => {
  for (const path of ['/head-gzip', '/head-chunked-gzip', '/head-chunked']) {
    test(`HEAD ${path}: 200 with no Transfer-Encoding relayed (no framing to mislead), and the connection stays in step`, async () => {
      const { raw, line, connection, nextConnection } = await twoRequests('HEAD', path);
      const [head, next] = answersIn(raw);
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
      assert.doesNotMatch(head, /transfer-encoding|content-length/i);
      assert.match(next, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecond-body$/);
      assert.equal(line.error, undefined);
      assert.equal(nextConnection, connection);
    });
  }

  for (const [path, status] of [
    ['/204-chunked', 204],
    ['/204-length-and-body', 204],
    ['/304-then-forged', 304],
  ] as const) {
    test(`GET ${path}: ${status} relayed without its bytes after; that upstream connection is closed, never read for the next answer`, async () => {
      const { raw, line, connection, nextConnection } = await twoRequests('GET', path);
      const [head, next, ...rest] = answersIn(raw);
      assert.deepEqual(rest, []);
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} [^\\r]*\\r\\n[\\s\\S]*\\r\\n\\r\\n$`));
      assert.doesNotMatch(head, /transfer-encoding/i);
      if (status === 204) assert.doesNotMatch(head, /content-length/i);
      assert.match(next, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecond-body$/);
      assert.doesNotMatch(raw, /forged|hello/);
      assert.equal(line.status, status);
      assert.notEqual(nextConnection, connection);
    });
  }
});
