/**
 * The upstream client against upstreams that break the rules in the ways a parser can be
 * talked into trusting: a second answer after the first, a bad field line in a head that never
 * ends, duplicate Content-Length, transfer codings other than chunked. Real gateway, raw TCP
 * upstreams writing exact bytes, node:http clients.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, type TestContext, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { proxyStatusType } from '../../../src/core/failure/proxy-status.ts';
import type { FailureType } from '../../../src/core/failure/taxonomy.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { type RawConnection, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startTlsRecordGarbage } from '../../../src/kits/fault-kit/tls-faults.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

async function through(t: TestContext, fault: Fault, upstream = ''): Promise<TestGateway> {
  let gw: TestGateway | undefined;
  t.after(async () => {
    await fault.close();
    await gw?.close();
  });
  gw = await startTestGateway(singleUpstream(fault.url, { upstream }));
  return gw;
}

/** Answers every request on a raw connection, in order, with `respond()`. */
function answerEach(respond: (index: number) => string | Buffer) {
  return async (connection: RawConnection): Promise<void> => {
    for (;;) {
      const req = await connection.nextRequest({ body: true });
      await connection.write(respond(req.index));
    }
  };
}

/** A chunked body of `content` in pieces of at most `size` bytes (the last chunk and empty trailers after). */
function chunked(content: Buffer, size = 1000): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < content.length; at += size) {
    const piece = content.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const proxyStatus = (res: { headers: http.IncomingHttpHeaders }) => res.headers['proxy-status'] as string;

describe('a second answer to one request', () => {
  test('bytes after a complete response: the connection is closed, never handed to a queued request', async (t) => {
    const fault = await startRawFault(
      answerEach(
        () =>
          'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nPOISONED',
      ),
    );
    const gw = await through(t, fault, '    pool: { max_connections: 1, queue_timeout: 5s }');
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => request(gw.url, { path: `/q${i}` })),
    );
    assert.deepEqual(
      answers.map((a) => `${a.status} ${a.text}`),
      Array(6).fill('200 ok'),
    );
    assert.equal(fault.connections, 6, 'each poisoned connection was closed, none reused');
  });

  test('bytes after a complete response with nobody waiting: closed too, the next request opens a new connection', async (t) => {
    const fault = await startRawFault(
      answerEach((i) => `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok${i === 1 ? 'X' : ''}`),
    );
    const gw = await through(t, fault);
    assert.equal((await request(gw.url, { path: '/a' })).text, 'ok');
    const b = await request(gw.url, { path: '/b' });
    assert.equal(b.text, 'ok');
    assert.equal(fault.connections, 2);
  });
});

test('a response refused as garbage ends its connection: the next request opens a new one (each shape, the upstream keeping its side open)', async (t) => {
  // DESIGN.md: a connection whose framing is in doubt is closed, never reused.
  const GARBAGE: [string, string, RegExp][] = [
    ['SSH-2.0-OpenSSH_9.6\r\n', 'http_protocol_error', /does not start with "HTTP\/"/],
    ['HTTP/1.1 600 Nope\r\ncontent-length: 0\r\n\r\n', 'http_protocol_error', /status code 600 out of range/],
    [
      'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\ncontent-length: 0\r\n\r\n',
      'http_protocol_error',
      /invalid character/,
    ],
    ['HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\ncontent-length: 0\r\n\r\n', 'http_protocol_error', /obs-fold/],
    [
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
      'http_protocol_error',
      /unexpected 101/,
    ],
    [
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok',
      'http_response_content_length',
      /conflicting Content-Length/,
    ],
    [
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'http_response_transfer_coding',
      /together with Content-Length/,
    ],
    [
      `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(40_000)}\r\ncontent-length: 0\r\n\r\n`,
      'http_response_header_section_size',
      /larger than 32768 bytes/,
    ],
  ];
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await connection.nextRequest();
      const bad = /^\/bad\/(\d+)$/.exec(req.path);
      await connection.write(
        bad === null ? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok' : GARBAGE[Number(bad[1])][0],
      );
    }
  });
  const gw = await through(t, fault, '    retries: { attempts: 1 }');
  for (let i = 0; i < GARBAGE.length; i++) {
    const [, error, details] = GARBAGE[i];
    const res = await request(gw.url, { path: `/bad/${i}`, headers: { 'x-request-id': `bad-${i}` } });
    assert.equal(res.status, 502, `shape ${i}`);
    assert.match(
      proxyStatus(res),
      new RegExp(`^edge-1; error=${proxyStatusType(error as FailureType)}; details="`),
    );
    const line = await gw.logFor(`bad-${i}`);
    assert.equal(line.error, error);
    assert.match(String(line.details), details);
    assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
  }
  // Every connection that carried a refused answer carried nothing after it.
  for (const bad of fault.received.filter((r) => r.path.startsWith('/bad/'))) {
    const after = fault.received.filter((r) => r.connection === bad.connection && r.index > bad.index);
    assert.deepEqual(after, [], `${bad.path}: its connection was used again`);
    assert.notEqual(
      fault.connectionLog[bad.connection - 1].peerEnd,
      undefined,
      `${bad.path}: its connection was not ended`,
    );
  }
  assert.equal(fault.connections, GARBAGE.length + 1);
});

describe('a body where none may be', () => {
  // A response to HEAD, a 204 and a 304 end at their head whatever they say (RFC 9112 §6.3): what
  // follows is a second answer, never this one's body, and never the next request's answer.
  const POISON = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nPOISONED';
  for (const [label, method, answer] of [
    [
      'a HEAD answered with its body',
      'HEAD',
      `HTTP/1.1 200 OK\r\ncontent-length: ${POISON.length}\r\n\r\n${POISON}`,
    ],
    ['a 204 with a body', 'GET', `HTTP/1.1 204 No Content\r\n\r\n${POISON}`],
    [
      'a 304 with a body',
      'GET',
      `HTTP/1.1 304 Not Modified\r\ncontent-length: ${POISON.length}\r\n\r\n${POISON}`,
    ],
  ] as const) {
    test(`${label}: the head alone is relayed, and the connection closed, never handed to a queued request`, async (t) => {
      const fault = await startRawFault(answerEach(() => answer));
      const gw = await through(t, fault, '    pool: { max_connections: 1, queue_timeout: 5s }');
      const answers = await Promise.all(
        Array.from({ length: 4 }, (_, i) => request(gw.url, { method, path: `/q${i}` })),
      );
      for (const a of answers) {
        assert.equal(a.status, Number(answer.slice(9, 12)));
        assert.equal(a.text, '', 'no body');
        assert.equal(a.aborted, false);
      }
      assert.equal(fault.connections, 4, 'each connection with bytes after its answer was closed');
    });
  }
});

describe('a pooled connection closed under the request it carried', () => {
  // The upstream read the second request on its kept-alive connection and closed without a word:
  // the request may have been acted on, so only an idempotent one goes again (RFC 9112 §9.3.1).
  for (const [method, retried] of [
    ['GET', true],
    ['PUT', true],
    ['POST', false],
  ] as const) {
    test(`${method}: ${retried ? 'retried on a new connection' : '502 connection_terminated, never sent again'}`, async (t) => {
      const fault = await startRawFault(async (connection) => {
        for (;;) {
          const req = await connection.nextRequest({ body: true });
          if (req.index === 2) return void (await connection.end());
          await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
      const gw = await through(t, fault);
      assert.equal((await request(gw.url, { path: '/first' })).status, 200);
      const res = await request(gw.url, {
        method,
        path: '/second',
        body: method === 'GET' ? undefined : 'data',
        headers: { 'x-request-id': `stale-${method}` },
      });
      const line = await gw.logFor(`stale-${method}`);
      assert.deepEqual(
        fault.received.map((r) => `${r.method} ${r.path} #${r.connection}`),
        [`GET /first #1`, `${method} /second #1`, ...(retried ? [`${method} /second #2`] : [])],
      );
      if (retried) {
        assert.equal(res.status, 200);
        assert.equal(line.attempts, 2);
      } else {
        assert.equal(res.status, 502);
        assert.match(proxyStatus(res), /^edge-1; error=connection_terminated; /);
        assert.equal(line.stage, 'sent');
        assert.equal(line.retry_skipped, 'not_idempotent');
      }
    });
  }
});

describe('a bad field line in a head that has not ended', () => {
  for (const then of ['holds', 'closes'] as const) {
    test(`fails at once as http_protocol_error, not retried, when the upstream then ${then}`, async (t) => {
      const fault = await startRawFault(async (connection) => {
        await connection.nextRequest();
        await connection.write('HTTP/1.1 200 OK\r\nX-Fine: 1\r\nBad Name: x\r\n');
        if (then === 'closes') await connection.end();
      });
      const gw = await through(t, fault, '    timeouts: { response: 3s }');
      const started = performance.now();
      const res = await request(gw.url, { headers: { 'x-request-id': `bad-line-${then}` } });
      assert.equal(res.status, 502);
      assert.equal(
        proxyStatus(res),
        'edge-1; error=http_protocol_error; details="invalid header name \\"Bad Name\\""; next-hop="app"',
      );
      assert.ok(performance.now() - started < 2000, 'not the response timeout');
      assert.equal(fault.received.length, 1, 'a protocol error is not retried');
      assert.equal((await gw.logFor(`bad-line-${then}`)).status, 502);
    });
  }
});

describe('a bad byte in a line that has not ended', () => {
  // The line is not whole, but no ending could make it valid: the upstream is not speaking HTTP,
  // and waiting for the rest would blame a timeout (504) or a close (502 connection_terminated).
  for (const [label, bytes, details] of [
    [
      'a space inside a field name',
      'HTTP/1.1 200 OK\r\nX-Fine: 1\r\nBad Name',
      'invalid header name \\"Bad Name\\"',
    ],
    ['a control byte in a field name', 'HTTP/1.1 200 OK\r\nX\x01Y', 'invalid header name \\"X?Y\\"'],
    [
      'a NUL in a field value',
      'HTTP/1.1 200 OK\r\nX-A: a\x00b',
      'invalid character in the value of header \\"X-A\\"',
    ],
    ['a folded line', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b', 'whitespace folding (obs-fold) in header \\"X-A\\"'],
    [
      'a CR not before LF',
      'HTTP/1.1 200 OK\r\nX-A: a\rb',
      'invalid character in the value of header \\"X-A\\"',
    ],
    ['a letter in the status code', 'HTTP/1.1 2x0 OK', 'invalid status line \\"HTTP/1.1 2x0 OK\\"'],
    ['a NUL in the reason', 'HTTP/1.1 200 OK\x00', 'invalid character in the reason phrase'],
    // Refused whole for its version or its code: the line's end cannot change that.
    ['an HTTP version other than 1.x', 'HTTP/3.0 ', 'unsupported HTTP version \\"HTTP/3.0\\"'],
    ['a status code out of range', 'HTTP/1.1 600', 'status code 600 out of range'],
  ] as const) {
    for (const then of ['holds', 'closes'] as const) {
      test(`${label}, then the upstream ${then}: 502 http_protocol_error, not retried`, async (t) => {
        const fault = await startRawFault(async (connection) => {
          await connection.nextRequest();
          await connection.write(Buffer.from(bytes, 'latin1'));
          if (then === 'closes') await connection.end();
        });
        const gw = await through(t, fault, '    timeouts: { response: 3s }');
        const res = await request(gw.url, { headers: { 'x-request-id': 'partial' } });
        assert.equal(res.status, 502);
        assert.equal(
          proxyStatus(res),
          `edge-1; error=http_protocol_error; details="${details}"; next-hop="app"`,
        );
        assert.equal(fault.received.length, 1, 'a protocol error is not retried');
        assert.equal((await gw.logFor('partial')).shape, 'garbage');
      });
    }
  }
});

test('a bad byte in a trailer line not ended, then silence: the log says http_protocol_error, not a read timeout', async (t) => {
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write(
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: a\x00',
    );
  });
  const gw = await through(t, fault, '    timeouts: { read: 3s }');
  const res = await request(gw.url, { headers: { 'x-request-id': 'trailer-partial' } });
  assert.equal(res.status, 200, 'the head had gone out');
  assert.equal(res.aborted, true);
  const line = await gw.logFor('trailer-partial');
  assert.equal(line.error, 'http_protocol_error');
  assert.equal(line.shape, 'garbage');
  assert.equal(line.details, 'invalid character in the value of header "X-Sum"');
});

describe('Content-Length', () => {
  for (const [fields, label, id] of [
    ['content-length: 5\r\ncontent-length: 5\r\n', 'twice', 'twice'],
    ['content-length: 5, 5\r\n', 'as a list', 'list'],
    ['content-length: 005\r\n', 'with leading zeros', 'zeros'],
  ] as const) {
    test(`the same value ${label} reaches the client as one Content-Length`, async (t) => {
      const fault = await startRawFault(answerEach(() => `HTTP/1.1 200 OK\r\n${fields}\r\nhello`));
      const gw = await through(t, fault);
      const res = await request(gw.url, { headers: { 'x-request-id': `cl-${id}` } });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'hello');
      const lengths = res.rawHeaders.filter(
        (_, i) => i % 2 === 0 && /^content-length$/i.test(res.rawHeaders[i]),
      );
      assert.equal(lengths.length, 1);
      assert.equal(res.headers['content-length'], '5');
      assert.equal((await gw.logFor(`cl-${id}`)).status, 200);
    });
  }

  test('on a HEAD and a 304 a bad Content-Length is refused; agreeing duplicates become one', async (t) => {
    const fault = await startRawFault(
      answerEach((i) =>
        i === 1
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 12, 13\r\n\r\n'
          : i === 2
            ? 'HTTP/1.1 304 Not Modified\r\ncontent-length: abc\r\n\r\n'
            : 'HTTP/1.1 304 Not Modified\r\ncontent-length: 12\r\ncontent-length: 12\r\n\r\n',
      ),
    );
    const gw = await through(t, fault, '    retries: { attempts: 1 }');
    const head = await request(gw.url, { method: 'HEAD' });
    assert.equal(head.status, 502);
    // RFC 9209 has no type for a bad Content-Length: Proxy-Status says http_protocol_error.
    assert.match(proxyStatus(head), /^edge-1; error=http_protocol_error; details="conflicting/);
    const bad304 = await request(gw.url);
    assert.equal(bad304.status, 502);
    assert.match(
      proxyStatus(bad304),
      /error=http_protocol_error; details="invalid Content-Length \\"abc\\""/,
    );
    // 304 through rawRequest: node:http's client would accept what it is given either way.
    const good304 = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    assert.equal(good304.status, 304);
    assert.equal(good304.raw.match(/content-length/gi)?.length, 1, good304.raw);
  });
});

describe('transfer codings under chunked', () => {
  const content = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(500));
  for (const [coding, encode] of [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const) {
    test(`"${coding}, chunked" is decoded and relayed as the content, framed by the gateway`, async (t) => {
      const fault = await startRawFault(
        answerEach(() =>
          Buffer.concat([
            Buffer.from(
              `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: ${coding}, chunked\r\n\r\n`,
            ),
            chunked(encode(content), 100),
          ]),
        ),
      );
      const gw = await through(t, fault);
      for (let i = 0; i < 2; i++) {
        const res = await request(gw.url, { headers: { 'x-request-id': `${coding}-${i}` } });
        assert.equal(res.status, 200);
        assert.equal(res.aborted, false);
        assert.ok(res.body.equals(content), 'the decoded content');
        assert.equal(res.headers['content-length'], undefined);
        assert.equal(res.headers['transfer-encoding'], 'chunked', 'the gateway frames it itself');
        assert.equal(res.headers['content-encoding'], undefined);
        assert.equal((await gw.logFor(`${coding}-${i}`)).status, 200);
      }
      assert.equal(fault.connections, 1, 'the connection was reused after a decoded body');
    });
  }

  test('an upstream that closes right after a gzip body: the decoded content is whole, not cut', async (t) => {
    const fault = await startRawFault(async (connection) => {
      await connection.nextRequest();
      await connection.end(
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\ntransfer-encoding: gzip, chunked\r\n\r\n'),
          chunked(gzipSync(content)),
        ]),
      );
    });
    const gw = await through(t, fault);
    const res = await request(gw.url, { headers: { 'x-request-id': 'gzip-close' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false);
    assert.ok(res.body.equals(content));
    assert.equal((await gw.logFor('gzip-close')).error, undefined);
  });

  test('gzip then deflate, undone in reverse order', async (t) => {
    const fault = await startRawFault(
      answerEach(() =>
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, deflate, chunked\r\n\r\n'),
          chunked(deflateSync(gzipSync(content))),
        ]),
      ),
    );
    const gw = await through(t, fault);
    const res = await request(gw.url);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(content));
  });

  for (const coding of ['br', 'compress', 'zstd']) {
    test(`"${coding}, chunked" is refused with 502, naming the coding`, async (t) => {
      const fault = await startRawFault(
        answerEach(
          () => `HTTP/1.1 200 OK\r\ntransfer-encoding: ${coding}, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        ),
      );
      const gw = await through(t, fault);
      const res = await request(gw.url);
      assert.equal(res.status, 502);
      assert.equal(
        proxyStatus(res),
        `edge-1; error=http_response_transfer_coding; details="unsupported transfer coding \\"${coding}\\""; next-hop="app"`,
      );
    });
  }

  // obs-text is no whitespace (RFC 9110 §5.6.3): String#trim() would have read `\xa0chunked` as
  // chunked, where every hop that follows the RFC sees a coding that is not (issue 31, item 8).
  for (const value of ['\xa0chunked', 'chunked\xa0', '\xa0chunked\xa0']) {
    test(`Transfer-Encoding ${JSON.stringify(value)} from an upstream is garbage: 502 http_response_transfer_coding`, async (t) => {
      const fault = await startRawFault(
        answerEach(() =>
          Buffer.from(
            `HTTP/1.1 200 OK\r\ntransfer-encoding: ${value}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
            'latin1',
          ),
        ),
      );
      const gw = await through(t, fault);
      const res = await request(gw.url, { headers: { 'x-request-id': 'nbsp-te' } });
      assert.equal(res.status, 502);
      assert.match(
        proxyStatus(res),
        /^edge-1; error=http_response_transfer_coding; details="Transfer-Encoding \\"\?*chunked\?*\\" does not end in chunked"; next-hop="app"$/,
      );
      assert.equal((await gw.logFor('nbsp-te')).error, 'http_response_transfer_coding');
    });
  }

  test('a corrupt gzip body aborts the transfer after the head; the log names the coding', async (t) => {
    const coded = gzipSync(content);
    coded[coded.length - 6] ^= 0xff; // the CRC of the content
    const fault = await startRawFault(
      answerEach(() =>
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n'),
          chunked(coded),
        ]),
      ),
    );
    const gw = await through(t, fault);
    const res = await request(gw.url, { headers: { 'x-request-id': 'bad-gzip' } });
    assert.equal(res.status, 200, 'the head had gone out');
    assert.equal(res.aborted, true, 'never finished as if whole');
    const line = await gw.logFor('bad-gzip');
    assert.equal(line.error, 'http_response_transfer_coding');
    assert.match(String(line.details), /invalid gzip transfer coding/);
  });

  test('a gzip body cut short (the chunked body ends before the gzip stream) is not whole', async (t) => {
    const coded = gzipSync(content);
    const fault = await startRawFault(
      answerEach(() =>
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n'),
          chunked(coded.subarray(0, coded.length - 10)),
        ]),
      ),
    );
    const gw = await through(t, fault);
    const res = await request(gw.url, { headers: { 'x-request-id': 'short-gzip' } });
    assert.equal(res.aborted, true);
    assert.equal((await gw.logFor('short-gzip')).error, 'http_response_transfer_coding');
  });

  test('backpressure: 64 MiB decoded from a small gzip body reach a client that pauses, whole', async (t) => {
    const big = Buffer.alloc(64 * 1024 * 1024, 'abcdefgh');
    const fault = await startRawFault(
      answerEach(() =>
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n'),
          chunked(gzipSync(big), 16 * 1024),
        ]),
      ),
    );
    const gw = await through(t, fault);
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(gw.url, { agent: false }, (res) => {
        let bytes = 0;
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    assert.equal(received, big.length);
  });
});

describe('bytes that are no TLS record, after the handshake', () => {
  // node:tls reports such an error without closing the socket: the exchange waited for the
  // response timeout (504 http_response_timeout, "no response head"), or the read timeout.
  const slow = (caPath: string) =>
    `    tls: { ca: ${caPath} }\n    timeouts: { response: 30s, read: 30s, total: 60s }\n    retries: { attempts: 1 }`;

  test('before the head: 502 connection_terminated naming the TLS error, at once', async (t) => {
    const fault = await startTlsRecordGarbage();
    const gw = await through(t, fault, slow(fault.caPath));
    const res = await request(gw.url, {
      path: '/x',
      headers: { 'x-request-id': 'tls-garbage' },
      timeoutMs: 10_000,
    });
    assert.equal(res.status, 502);
    assert.match(
      proxyStatus(res),
      /^edge-1; error=connection_terminated; details="connection lost \(ERR_SSL_[A-Z_]+\) before the response head after /,
    );
    const line = await gw.logFor('tls-garbage');
    assert.equal(line.stage, 'sent');
    assert.equal(fault.received.length, 1);
  });

  test('inside the body: the transfer is cut, logged http_response_incomplete naming the TLS error', async (t) => {
    const fault = await startTlsRecordGarbage({ before: 'body' });
    const gw = await through(t, fault, slow(fault.caPath));
    const res = await request(gw.url, {
      path: '/x',
      headers: { 'x-request-id': 'tls-garbage-body' },
      timeoutMs: 10_000,
    });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    const line = await gw.logFor('tls-garbage-body');
    assert.equal(line.error, 'http_response_incomplete');
    assert.match(
      String(line.details),
      /^response body cut short: connection lost \(ERR_SSL_[A-Z_]+\) after /,
    );
  });
});

test('an SSH banner whose "S" came in a read of its own is not named PostgreSQL (a lone "S" answers its SSL request)', async (t) => {
  const fault = await startRawFault(async (connection) => {
    await connection.nextRequest();
    await connection.write('S');
    // Another read for the rest; the gateway has refused the answer by then, at its first byte.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await connection.write('SH-2.0-OpenSSH_9.6\r\n').catch(() => {});
  });
  const gw = await through(t, fault, '    retries: { attempts: 1 }');
  const res = await request(gw.url, { path: '/a', headers: { 'x-request-id': 'split-ssh' } });
  assert.equal(res.status, 502);
  assert.equal(
    proxyStatus(res),
    'edge-1; error=http_protocol_error; details="invalid status line: the response does not start with \\"HTTP/\\""; next-hop="app"',
  );
  assert.doesNotMatch(String((await gw.logFor('split-ssh')).details), /PostgreSQL/);
});
