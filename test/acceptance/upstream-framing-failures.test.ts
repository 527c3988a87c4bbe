/**
 * Acceptance cases written from DESIGN.md's failure table and RFC 9112 (framing), each against a
 * real upstream that misbehaves on a raw socket, through a gateway started from a config text as
 * a user would start it: the exact status, Proxy-Status, the headers every gateway-made error
 * carries, the negotiated body, the one log line, and what became of the upstream connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertGatewayError, onlyLogLine } from '../helpers/gateway-error.ts';
import { rawRequest, request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type Script, type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const GOOD = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood';

/**
 * The misbehaviour for a path, so one gateway and one upstream serve every case: each case's
 * path is answered by its script, any other path with GOOD.
 */
const SCRIPTS: Record<string, Script> = {
  '/http10-no-length': (s) =>
    s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body'),
  '/two-lengths': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'),
  '/length-and-chunked': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ),
  '/length-and-chunked-304': (s) =>
    s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'),
  '/chunked-in-http10': (s) =>
    s.write('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ngood\r\n0\r\n\r\n'),
  // No body follows (a HEAD's answer, a 304), and the connection is offered for another request.
  '/chunked-in-http10-bodyless': (s, req) =>
    s.write(
      `HTTP/1.0 ${req.head.startsWith('HEAD ') ? '200 OK' : '304 Not Modified'}\r\n` +
        'Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n',
    ),
  '/close-mid-chunk': (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'),
  '/reset-mid-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf');
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  '/huge-head': (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`),
  '/unasked-101': (s) =>
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
  '/hints-then-close': (s) => s.end('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n'),
  '/hints-then-answer': (s) => {
    s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
    setTimeout(() => s.write(GOOD), 20);
  },
  '/bytes-after-body': (s) =>
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n'),
  '/space-before-colon': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length : 2\r\nX-Kept : yes\r\n\r\nokXYZ'),
  '/no-status-line': (s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'),
  // RFC 9110 §15.3.6: a 205 has no content, yet an upstream may frame some.
  '/reset-content-length': (s) => s.write('HTTP/1.1 205 Reset Content\r\nContent-Length: 3\r\n\r\nabc'),
  '/reset-content-chunked': (s) =>
    s.write('HTTP/1.1 205 Reset Content\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
  '/own-503': (s) =>
    s.write('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy'),
};

let upstream: ScriptedUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await scriptedUpstream((socket, req) => {
    const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
    const script = SCRIPTS[path.replace(/\?.*/, '')];
    if (script) script(socket, req);
    else socket.write(GOOD);
  });
  // One attempt: each case is about what one answer becomes, not about retries.
  gw = await startTestGateway(singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }));
});

after(() => closeAll(gw, upstream));

/** The connection numbers the upstream saw requests for `path` on. */
const connectionsFor = (path: string) =>
  upstream.requests.filter((r) => r.head.split(' ')[1] === path).map((r) => r.connection);

describe('an upstream answering HTTP/1.0 without a length', () => {
  test('reaches an HTTP/1.1 client whole (re-framed), and the connection is not pooled', async () => {
    const res = await request(gw.url, { path: '/http10-no-length' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false);
    assert.equal(res.text, 'close-delimited body');
    assert.equal(res.headers['proxy-status'], undefined);
    assert.equal(res.headers.via, '1.0 edge-1', 'Via names the protocol the upstream spoke');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
    assert.equal(line.upstream, 'app');
    assert.equal(line.attempts, 1);
    assert.equal(line.bytes_out, 20);
  });

  test('reaches an HTTP/1.0 client close-delimited, never chunked', async () => {
    const res = await rawRequest(gw.port, 'GET /http10-no-length?c=10 HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.equal(res.status, 200);
    assert.ok(res.closed);
    const [head, body] = res.raw.split('\r\n\r\n');
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.equal(body, 'close-delimited body');
  });
});

describe('conflicting framing from the upstream (RFC 9112 §6.3)', () => {
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: two different Content-Lengths are a 502, and that connection is never reused`, async () => {
      const res = await request(gw.url, {
        method,
        path: '/two-lengths',
        headers: { accept: 'application/json' },
      });
      const id = assertGatewayError(res, {
        status: 502,
        // RFC 9209 registers no type for a bad Content-Length: the header says the registered
        // one it is a case of, the body and the log the finer one (README's table).
        error: 'http_protocol_error',
        details: /conflicting Content-Length/,
        nextHop: 'app',
        retryAfter: null,
        format: 'problem+json',
        head: method === 'HEAD',
      });
      if (method === 'GET') assert.equal(JSON.parse(res.text).error, 'http_response_content_length');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 502);
      assert.equal(line.error, 'http_response_content_length');
      assert.equal(line.shape, 'garbage');
      assert.equal(line.upstream, 'app');
      assert.equal(line.stage, 'sent');
      // The next request goes on a new upstream connection: the old one's framing is in doubt.
      const next = await request(gw.url, { path: `/after-two-lengths-${method}` });
      assert.equal(next.text, 'good');
      const doubtful = upstream.requests.filter((r) => r.head.startsWith(`${method} /two-lengths `)).at(-1);
      assert.notEqual(connectionsFor(`/after-two-lengths-${method}`)[0], doubtful?.connection);
    });
  }

  for (const [method, path] of [
    ['GET', '/length-and-chunked'],
    ['HEAD', '/length-and-chunked'],
    ['GET', '/length-and-chunked-304'],
  ]) {
    test(`${method} ${path}: Content-Length with Transfer-Encoding is a 502 http_response_transfer_coding`, async () => {
      // On a HEAD's answer and a 304 too: no body follows, but the head is the smuggling
      // signature (RFC 9112 §6.3), refused by llhttp whatever the method; the same upstream head
      // must get the same verdict for a HEAD as for a GET.
      const res = await request(gw.url, { method, path, headers: { accept: 'text/html' } });
      const id = assertGatewayError(res, {
        status: 502,
        error: 'http_response_transfer_coding',
        details: /Transfer-Encoding together with Content-Length/,
        nextHop: 'app',
        retryAfter: null,
        format: 'html',
        head: method === 'HEAD',
      });
      assert.equal(res.headers['content-length'] === '5', false, "the upstream's length is not relayed");
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'http_response_transfer_coding');
      assert.equal(line.shape, 'garbage');
      assert.equal(line.method, method);
    });
  }

  test('Transfer-Encoding in an HTTP/1.0 response is faulty framing (RFC 9112 §6.1): 502', async () => {
    const res = await request(gw.url, { path: '/chunked-in-http10' });
    assertGatewayError(res, {
      status: 502,
      error: 'http_response_transfer_coding',
      details: /HTTP\/1\.0/,
      nextHop: 'app',
      retryAfter: null,
      format: 'text',
    });
  });

  for (const [method, status] of [
    ['HEAD', 200],
    ['GET', 304],
  ] as const) {
    test(`Transfer-Encoding in an HTTP/1.0 ${status} to ${method} (no body): relayed, and that connection closed after it (RFC 9112 §6.1)`, async () => {
      const path = `/chunked-in-http10-bodyless?${method}`;
      const res = await request(gw.url, { method, path });
      assert.equal(res.status, status);
      assert.equal(res.headers['proxy-status'], undefined);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.text, '');
      // "…MUST treat the message as if the framing is faulty … and close the connection after
      // processing the message": the upstream's keep-alive is not taken.
      const next = await request(gw.url, { path: `/after-chunked-in-http10-bodyless-${method}` });
      assert.equal(next.text, 'good');
      assert.notEqual(
        connectionsFor(`/after-chunked-in-http10-bodyless-${method}`)[0],
        connectionsFor(path)[0],
      );
    });
  }

  test('whitespace before a colon is removed before relaying (RFC 9112 §5.1), the length read as sent', async () => {
    const res = await request(gw.url, { path: '/space-before-colon' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    assert.equal(res.headers['x-kept'], 'yes');
    assert.ok(!res.rawHeaders.some((name) => / $/.test(name)), 'no field name ends in a space');
    // The three bytes after the body are not taken for the next answer on that connection.
    const next = await request(gw.url, { path: '/after-space-before-colon' });
    assert.equal(next.text, 'good');
    assert.deepEqual(
      connectionsFor('/after-space-before-colon').filter((c) =>
        connectionsFor('/space-before-colon').includes(c),
      ),
      [],
    );
  });

  test('bytes after a whole response close that upstream connection; nothing reaches a client from them', async () => {
    const res = await request(gw.url, { path: '/bytes-after-body' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    const next = await request(gw.url, { path: '/after-bytes-after-body' });
    assert.equal(next.status, 200);
    assert.equal(next.text, 'good');
    assert.notEqual(connectionsFor('/after-bytes-after-body')[0], connectionsFor('/bytes-after-body')[0]);
  });
});

describe('failures after the head: the status stands, the transfer is aborted', () => {
  test('an upstream closing mid-chunk: a 200 cut short, logged http_response_incomplete', async () => {
    const res = await request(gw.url, { path: '/close-mid-chunk' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true, 'the transfer was not finished as if whole');
    assert.equal(res.text, 'hel');
    assert.equal(res.headers['proxy-status'], undefined, 'the head had gone before the failure');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.shape, 'reset');
    assert.equal(line.stage, 'body_streaming');
    assert.equal(line.bytes_out, 3);
  });

  test('an upstream resetting after part of a Content-Length body: aborted, upstream_reset', async () => {
    const res = await rawRequest(
      gw.port,
      'GET /reset-mid-body HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.equal(res.status, 200);
    assert.ok(res.closed, 'the client connection closes: its response can never be whole');
    assert.ok(res.raw.endsWith('\r\n\r\nhalf'), 'the four bytes that came, nothing after');
    assert.deepEqual(connectionsFor('/never'), [], 'the pipelined request behind it never went upstream');
    const id = /x-request-id: (\S+)/.exec(res.raw)?.[1] ?? '';
    const line = await onlyLogLine(gw, id);
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.upstream_reset, true);
  });
});

describe('an upstream head the gateway cannot pass on', () => {
  test('a header section over the limit: 502 http_response_header_section_size, plain text', async () => {
    const res = await request(gw.url, { path: '/huge-head', headers: { accept: 'text/plain' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'http_response_header_section_size',
      details: /larger than 32768 bytes/,
      nextHop: 'app',
      retryAfter: null,
      format: 'text',
    });
    assert.match(res.text, /^502 Bad Gateway/);
    const line = await onlyLogLine(gw, id);
    assert.equal(line.error, 'http_response_header_section_size');
    assert.equal(line.shape, 'garbage');
  });

  for (const method of ['GET', 'HEAD']) {
    test(`${method}: a 101 nobody asked for is a 502 http_protocol_error, and no tunnel opens`, async () => {
      const res = await request(gw.url, { method, path: '/unasked-101', headers: { accept: 'text/html' } });
      const id = assertGatewayError(res, {
        status: 502,
        error: 'http_protocol_error',
        details: /101/,
        nextHop: 'app',
        retryAfter: null,
        format: 'html',
        head: method === 'HEAD',
      });
      assert.equal(res.headers.upgrade, undefined);
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.shape, 'garbage');
    });
  }

  test('something that is not HTTP at all: 502 http_protocol_error naming it', async () => {
    const res = await request(gw.url, {
      path: '/no-status-line',
      headers: { accept: 'application/problem+json' },
    });
    assertGatewayError(res, {
      status: 502,
      error: 'http_protocol_error',
      details: /does not start with "HTTP\/"/,
      nextHop: 'app',
      retryAfter: null,
      format: 'problem+json',
    });
    assert.equal(JSON.parse(res.text).shape, 'garbage');
  });

  test('a 103 then a close: the hint is relayed, then 502 connection_terminated', async () => {
    const res = await rawRequest(
      gw.port,
      'GET /hints-then-close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.match(res.raw, /^HTTP\/1\.1 103 Early Hints\r\n/);
    const final = res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4);
    assert.match(final, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(
      final,
      /\r\nproxy-status: edge-1; error=connection_terminated; details="[^"]*"; next-hop="app"\r\n/i,
    );
    assert.match(final, /\r\ncache-control: no-store\r\n/i);
    assert.doesNotMatch(final, /retry-after/i);
  });

  test('an HTTP/1.0 client gets no 1xx (RFC 9110 §15.2), only the final answer', async () => {
    const res = await rawRequest(gw.port, 'GET /hints-then-answer HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(res.raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(res.raw, / 103 /);
    assert.ok(res.raw.endsWith('\r\n\r\ngood'));
  });
});

describe("the upstream's own failure status", () => {
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: its 503 and Retry-After pass through unchanged, with received-status`, async () => {
      const res = await request(gw.url, {
        method,
        path: '/own-503',
        headers: { accept: 'application/json' },
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '7');
      assert.equal(res.headers['proxy-status'], 'edge-1; received-status=503; next-hop="app"');
      assert.equal(res.text, method === 'HEAD' ? '' : 'busy');
      assert.equal(res.headers['cache-control'], undefined, 'the upstream said nothing of caching');
      const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
      assert.equal(line.status, 503);
      assert.equal(line.upstream, 'app');
    });
  }
});

describe('a 205 the upstream gave content (RFC 9110 §15.3.6: a 205 has none)', () => {
  for (const [path, minor] of [
    ['/reset-content-length', 1],
    ['/reset-content-chunked', 1],
    ['/reset-content-length', 0],
    ['/reset-content-chunked', 0],
  ] as const) {
    test(`${path} to an HTTP/1.${minor} client: a 205 saying Content-Length: 0 and none of the content`, async () => {
      const tag = `${path.slice(15)}-1${minor}`;
      const next = `/after-205-${tag}`;
      // The next request is pipelined behind it: any byte of the content would be read as the start of its answer.
      const res = await rawRequest(
        gw.port,
        minor === 1
          ? `GET ${path}?${tag} HTTP/1.1\r\nHost: x\r\n\r\nGET ${next} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
          : `GET ${path}?${tag} HTTP/1.0\r\nHost: x\r\n\r\n`,
      );
      assert.ok(res.closed);
      const end = res.raw.indexOf('\r\n\r\n') + 4;
      const head = res.raw.slice(0, end);
      assert.match(head, /^HTTP\/1\.1 205 Reset Content\r\n/);
      assert.deepEqual(
        head.match(/\r\ncontent-length:[^\r]*/gi)?.map((line) => line.toLowerCase()),
        ['\r\ncontent-length: 0'],
        head,
      );
      assert.doesNotMatch(head, /\r\ntransfer-encoding:/i);
      const rest = res.raw.slice(end);
      if (minor === 1) {
        assert.match(
          rest,
          /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\ngood$/,
          'the next answer right after the head',
        );
        // The content was read as its framing said: that upstream connection took the next request.
        assert.equal(
          connectionsFor(next)[0],
          upstream.requests.find((r) => r.head.includes(`?${tag} `))?.connection,
        );
      } else assert.equal(rest, '', 'nothing after the head, not even the content up to the close');
    });
  }
});
