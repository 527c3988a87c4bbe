/**
 * The pieces that read raw bytes: the head scanner, the framing decision, the chunked
 * decoder, what the identifier names, and the Proxy-Status reader. Pure functions, no sockets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkedDecoder } from '../../src/diagnose/chunked.ts';
import { decideFraming } from '../../src/diagnose/framing.ts';
import { type ResponseHead, scanHead } from '../../src/diagnose/http-head.ts';
import { identify, portalHint } from '../../src/diagnose/identify.ts';
import { readProxyStatus } from '../../src/diagnose/proxy-status-reader.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

function head(text: string): ResponseHead {
  const scan = scanHead(bytes(text));
  assert.equal(scan.kind, 'head', `${JSON.stringify(text)} scans as ${JSON.stringify(scan)}`);
  return (scan as { head: ResponseHead }).head;
}

describe('scanHead', () => {
  test('a complete head: status, reason, headers in order and case, its size', () => {
    const text = 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A:  b \r\n\r\nabc';
    const scan = scanHead(bytes(text));
    assert.equal(scan.kind, 'head');
    assert.ok(scan.kind === 'head');
    assert.equal(scan.size, text.length - 3);
    assert.equal(scan.head.status, 404);
    assert.equal(scan.head.reason, 'Not Found');
    assert.equal(scan.head.httpVersion, '1.1');
    assert.deepEqual(scan.head.headers, [
      ['Content-Length', '3'],
      ['X-A', 'b'],
    ]);
  });

  test('a head arriving in pieces is incomplete until its blank line; a missing reason is fine', () => {
    assert.equal(scanHead(bytes('HT')).kind, 'incomplete');
    assert.equal(scanHead(bytes('HTTP/1.0 200\r\nA: b\r\n')).kind, 'incomplete');
    assert.equal(head('HTTP/1.0 200\r\n\r\n').reason, '');
  });

  test('bytes that cannot start "HTTP/" are not HTTP at once', () => {
    for (const start of ['SSH-2.0', '{', '<html>', '\x16\x03\x01', 'H2', 'http/1.1 200 OK']) {
      assert.equal(scanHead(bytes(start)).kind, 'not-http', start);
    }
  });

  test('what the gateway rejects is invalid, with the reason and the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['HTTP/1.1 200 OK\nA: b\n\n', /LF without CR/],
      ['HTTP/1.1 2OO OK\r\n\r\n', /status line/],
      ['HTTP/1.1 2000 OK\r\n\r\n', /status line/],
      ['HTTP/7.3 200 OK\r\n\r\n', /unsupported HTTP version 7\.3/],
      ['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', /invalid header name "Bad Name"/],
      ['HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', /without a colon/],
      ['HTTP/1.1 200 OK\r\nA: first\r\n  folded\r\n\r\n', /obsolete line folding/],
      ['HTTP/1.1 200 OK\r\nA: a\rb\r\n\r\n', /control character/],
      ['HTTP/1.1 200 OK\r\nA: a\0b\r\n\r\n', /control character/],
    ];
    for (const [text, reason] of cases) {
      const scan = scanHead(bytes(text));
      assert.equal(scan.kind, 'invalid', JSON.stringify(text));
      assert.ok(scan.kind === 'invalid');
      assert.match(scan.reason, reason, JSON.stringify(text));
    }
  });

  test('a head over the limit is too large, with or without its end in sight', () => {
    const big = `HTTP/1.1 200 OK\r\nX: ${'x'.repeat(200)}\r\n\r\n`;
    assert.equal(scanHead(bytes(big), 100).kind, 'too-large');
    assert.equal(scanHead(bytes(big.slice(0, 150)), 100).kind, 'too-large');
    assert.equal(scanHead(bytes(big), 1000).kind, 'head');
  });
});

describe('decideFraming', () => {
  const framing = (text: string, method = 'GET') => decideFraming(head(text), method);

  test('content-length, chunked, close-delimited, or no body at all', () => {
    assert.deepEqual(framing('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), {
      kind: 'content-length',
      length: 5,
    });
    assert.deepEqual(framing('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n'), {
      kind: 'content-length',
      length: 5,
    });
    assert.deepEqual(framing('HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n'), { kind: 'chunked' });
    assert.deepEqual(framing('HTTP/1.0 200 OK\r\n\r\n'), { kind: 'close-delimited' });
    assert.deepEqual(framing('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n'), { kind: 'none' });
    assert.deepEqual(framing('HTTP/1.1 204 No Content\r\n\r\n'), { kind: 'none' });
    assert.deepEqual(framing('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', 'HEAD'), { kind: 'none' });
  });

  test('conflicts and codings other than chunked are the failures the gateway records', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['Content-Length: 5\r\nTransfer-Encoding: chunked', 'http_response_transfer_coding', /together/],
      ['Content-Length: 5\r\nContent-Length: 6', 'http_response_transfer_coding', /\(5, 6\)/],
      ['Content-Length: five', 'http_response_content_length', /"five"/],
      ['Transfer-Encoding: gzip', 'http_response_transfer_coding', /"gzip"/],
      ['Transfer-Encoding: gzip, chunked', 'http_response_transfer_coding', /"gzip, chunked"/],
    ];
    for (const [fields, type, details] of cases) {
      const result = framing(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\n`);
      assert.equal(result.failure?.type, type, fields);
      assert.match(result.failure?.details ?? '', details);
    }
  });
});

describe('ChunkedDecoder', () => {
  test('counts the body across arbitrary splits, with extensions and trailers', () => {
    const wire = bytes('5;ext=1\r\nhello\r\n1a\r\n' + 'x'.repeat(26) + '\r\n0\r\nX-Sum: 1\r\n\r\n');
    for (const size of [1, 3, 7, wire.length]) {
      const decoder = new ChunkedDecoder();
      const body: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) body.push(...decoder.push(wire.subarray(i, i + size)));
      assert.equal(decoder.state, 'done', `split ${size}`);
      assert.equal(decoder.bytes, 31);
      assert.equal(Buffer.concat(body).toString(), `hello${'x'.repeat(26)}`);
    }
  });

  test('a bad size, data longer than its size, or a bare LF is an error; a cut is just not done', () => {
    for (const [wire, error] of [
      ['zz\r\nhello\r\n', /invalid chunk size "zz"/],
      ['2\r\nhello\r\n', /longer than its size/],
      ['5\nhello\n', /LF without CR/],
    ] as const) {
      const decoder = new ChunkedDecoder();
      decoder.push(bytes(wire));
      assert.match(decoder.error ?? '', error);
    }
    const cut = new ChunkedDecoder();
    cut.push(bytes('a\r\n12345'));
    assert.equal(cut.error, undefined);
    assert.equal(cut.state, 'data');
    assert.equal(cut.bytes, 5);
  });
});

describe('identify', () => {
  const what = (data: Buffer | string) => identify(typeof data === 'string' ? bytes(data) : data).what;

  test('names the services that end up on the wrong port', () => {
    assert.equal(what('SSH-2.0-OpenSSH_9.2p1\r\n'), 'an SSH server');
    assert.equal(what('220 mail.example.com ESMTP Postfix\r\n'), 'an SMTP server');
    assert.equal(what('220 ProFTPD Server ready.\r\n'), 'an FTP server');
    assert.equal(what('-ERR unknown command\r\n'), 'a Redis server');
    assert.equal(what('+OK\r\n'), 'a Redis server');
    assert.equal(what('$5\r\nhello\r\n'), 'a Redis server');
    assert.equal(what(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])), 'a TLS server');
    assert.equal(what(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2a])), 'a TLS server');
    const fields = Buffer.from('SFATAL\0C0A000\0Munsupported frontend protocol\0\0');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(fields.length + 4);
    assert.equal(what(Buffer.concat([Buffer.from('E'), length, fields])), 'a PostgreSQL server');
    assert.match(
      identify(Buffer.concat([Buffer.from('E'), length, fields])).evidence,
      /unsupported frontend protocol/,
    );
    assert.equal(what('N'), 'a PostgreSQL server');
    const greeting = Buffer.concat([
      Buffer.from([0x4a, 0, 0, 0, 0x0a]),
      Buffer.from('8.0.36\0'),
      Buffer.alloc(66),
    ]);
    assert.equal(what(greeting), 'a MySQL server');
    assert.equal(what(Buffer.from([0, 0, 0x12, 0x04, 0, 0, 0, 0, 0])), 'an HTTP/2-only server (h2c)');
  });

  test('names what a broken app writes to the socket', () => {
    assert.equal(
      what('<!DOCTYPE html><html><body>Login</body></html>'),
      'an HTML page without a status line',
    );
    assert.equal(what('{"error": "boom"}\n'), 'a bare JSON document');
    assert.equal(
      what('Traceback (most recent call last):\n  File "x.py"\nValueError: bad\n'),
      'a raw stack trace',
    );
    assert.equal(
      identify(bytes('Traceback (most recent call last):\n  File "x.py"\nValueError: bad\n')).evidence,
      'ValueError: bad',
    );
    assert.equal(what('TypeError: x is undefined\n    at handler (/srv/app.js:10:5)\n'), 'a raw stack trace');
    assert.equal(what('hello there\r\n'), 'something that does not speak HTTP');
  });

  test('a valid page from a portal is recognised, an ordinary one is not', () => {
    const html = (body: string) => bytes(`<html><head>${body}</head></html>`);
    assert.match(
      portalHint(
        200,
        'text/html',
        html('<meta http-equiv="refresh" content="0; url=http://login.portal/">'),
      ) ?? '',
      /redirects at once to http:\/\/login\.portal\//,
    );
    assert.match(portalHint(511, 'text/plain', bytes('')) ?? '', /captive portal/);
    assert.equal(portalHint(200, 'text/html', html('<title>Orders</title>')), undefined);
    assert.equal(portalHint(200, 'application/json', bytes('{}')), undefined);
  });
});

describe('readProxyStatus', () => {
  test("reads the last member: the gateway's error, details and next hop", () => {
    const member = readProxyStatus(
      'upstream-lb; received-status=200, edge-1; error=connection_refused; details="refused, \\"really\\" (ECONNREFUSED)"; next-hop="app"',
    );
    assert.equal(member?.proxy, 'edge-1');
    assert.equal(member?.error, 'connection_refused');
    assert.equal(member?.details, 'refused, "really" (ECONNREFUSED)');
    assert.equal(member?.nextHop, 'app');
    assert.equal(readProxyStatus('edge-1; received-status=503; next-hop="app"')?.receivedStatus, 503);
    assert.equal(readProxyStatus('edge-1; error=brand_new_error')?.unknownError, 'brand_new_error');
    assert.equal(readProxyStatus(undefined), undefined);
  });
});
