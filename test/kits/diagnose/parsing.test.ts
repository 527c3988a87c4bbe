/**
 * The pieces that read raw bytes: the gateway's parser as diagnose drives it (the head's bytes,
 * the body's count), what is shown of a refused head, how an early end is named, and what the
 * identifier names. No sockets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyConnectError } from '../../../src/core/failure/classify.ts';
import { identify } from '../../../src/core/http1/impostors.ts';
import { adviseFix } from '../../../src/kits/diagnose/advice.ts';
import { AnswerReader, fieldValues, headerPairs } from '../../../src/kits/diagnose/answer-reader.ts';
import { portalHint } from '../../../src/kits/diagnose/identify.ts';
import type { ProbePlan } from '../../../src/kits/diagnose/plan.ts';
import { largestField, offendingLine, readAsBodiless } from '../../../src/kits/diagnose/refused-head.ts';
import { connectionEnded } from '../../../src/upstream/connections/http1/connection-ended.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** A reader fed `text` in pieces of `size` bytes. */
function read(text: string, size = text.length, method = 'GET'): AnswerReader {
  const reader = new AnswerReader(method);
  const wire = bytes(text);
  for (let i = 0; i < wire.length && reader.failure === undefined; i += size)
    reader.feed(wire.subarray(i, i + size));
  return reader;
}

describe('AnswerReader', () => {
  test('a head: status, fields in order and case, the status line and size as received', () => {
    const text = 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A:  b \r\n\r\nabc';
    const reader = read(text);
    assert.equal(reader.failure, undefined);
    assert.equal(reader.head?.status, 404);
    assert.equal(reader.head?.reason, 'Not Found');
    assert.equal(reader.statusLine, 'HTTP/1.1 404 Not Found');
    assert.equal(reader.headBytes, text.length - 3);
    assert.ok(reader.head);
    assert.deepEqual(headerPairs(reader.head), [
      ['Content-Length', '3'],
      ['X-A', 'b'],
    ]);
    assert.deepEqual(fieldValues(reader.head, 'x-a'), ['b']);
    assert.equal(reader.complete, true);
    assert.equal(reader.bodyBytes, 3);
  });

  test('interim heads are counted, not taken for the final one, however the bytes are split', () => {
    const final = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n';
    const text = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${final}ok`;
    for (const size of [1, 5, text.length]) {
      const reader = read(text, size);
      assert.deepEqual(reader.informational, [100, 103], `split ${size}`);
      assert.equal(reader.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(reader.headBytes, final.length);
      assert.equal(reader.complete, true);
    }
    const pending = read('HTTP/1.0 200\r\nA: b\r\n');
    assert.equal(pending.head, undefined);
    assert.equal(pending.started, true);
    assert.equal(read('HTTP/1.0 200\r\n\r\n').head?.reason, '');
  });

  test('a chunked body is counted across arbitrary splits, with extensions and trailers', () => {
    const body = `5;ext=1\r\nhello\r\n1a\r\n${'x'.repeat(26)}\r\n0\r\nX-Sum: 1\r\n\r\n`;
    const text = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
    for (const size of [1, 3, 7, text.length]) {
      const reader = read(text, size);
      assert.equal(reader.complete, true, `split ${size}`);
      assert.equal(reader.bodyBytes, 31);
      assert.equal(reader.sniff.toString(), `hello${'x'.repeat(26)}`);
    }
    const cut = read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n12345');
    assert.equal(cut.failure, undefined);
    assert.equal(cut.complete, false);
    assert.equal(cut.bodyBytes, 5);
    assert.equal(cut.end(), 'body');
  });

  test('a FIN ends a close-delimited body; no body for HEAD, 204 and 304', () => {
    const closed = read('HTTP/1.0 200 OK\r\n\r\nhello');
    assert.equal(closed.head?.framing, 'close');
    assert.equal(closed.complete, false);
    assert.equal(closed.end(), 'complete');
    assert.equal(closed.complete, true);
    assert.equal(read('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', undefined, 'HEAD').complete, true);
    assert.equal(read('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n').complete, true);
    assert.equal(read('HTTP/1.1 204 No Content\r\n\r\n').complete, true);
    assert.equal(new AnswerReader('GET').end(), 'idle');
    assert.equal(read('HTTP/1.1 200').end(), 'head');
  });

  test("the gateway's refusals, with its failure types", () => {
    const cases: Array<[string, string]> = [
      ['Content-Length: 5\r\nTransfer-Encoding: chunked', 'http_response_transfer_coding'],
      ['Content-Length: 5\r\nContent-Length: 6', 'http_response_content_length'],
      ['Content-Length: 5, 6', 'http_response_content_length'],
      ['Content-Length: five', 'http_response_content_length'],
      ['Transfer-Encoding: gzip', 'http_response_transfer_coding'],
      ['Transfer-Encoding: br, chunked', 'http_response_transfer_coding'],
      ['Bad Name: x', 'http_protocol_error'],
      ['A: first\r\n  folded', 'http_protocol_error'],
      ['A: a\0b', 'http_protocol_error'],
    ];
    for (const [fields, type] of cases)
      assert.equal(read(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\n`).failure?.type, type, fields);
    const http10 = read('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(http10.failure?.type, 'http_response_transfer_coding');
    const huge = read(`HTTP/1.1 200 OK\r\nX: ${'x'.repeat(40_000)}`, 4096);
    assert.equal(huge.failure?.type, 'http_response_header_section_size');
  });
});

describe('a refused head', () => {
  test('refused only for its framing, it is still read whole, as the answer to a HEAD', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!';
    assert.equal(read(text).failure?.type, 'http_response_content_length');
    const shown = readAsBodiless(bytes(text));
    assert.equal(shown?.statusLine, 'HTTP/1.1 200 OK');
    assert.ok(shown?.head);
    assert.deepEqual(fieldValues(shown.head, 'content-length'), ['5', '6']);
    assert.equal(readAsBodiless(bytes('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n')), undefined);
  });

  test('the offending line is the one the parser stops at', () => {
    const cases: Array<[string, string]> = [
      ['HTTP/1.1 200 OK\nA: b\n\n', 'HTTP/1.1 200 OK'],
      ['HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n', 'A: b'],
      ['HTTP/1.1 2OO OK\r\n\r\n', 'HTTP/1.1 2OO OK'],
      ['HTTP/1.1 2000 OK\r\n\r\n', 'HTTP/1.1 2000 OK'],
      ['HTTP/7.3 200 OK\r\n\r\n', 'HTTP/7.3 200 OK'],
      ['HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HTTP/1.1 101 Switching Protocols'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nBad Name: x\r\n\r\n', 'Bad Name: x'],
      ['HTTP/1.1 200 OK\r\nNoColon\r\nA: b\r\n\r\n', 'NoColon'],
      ['HTTP/1.1 200 OK\r\nA: first\r\n  folded\r\n\r\n', '  folded'],
      ['HTTP/1.1 200 OK\r\nA: a\rb\r\n\r\n', 'A: a\rb'],
      ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nA: a\0b\r\n\r\n', 'A: a\0b'],
    ];
    for (const [text, line] of cases) {
      const failure = read(text).failure;
      assert.equal(failure?.type, 'http_protocol_error', JSON.stringify(text));
      assert.ok(failure);
      assert.equal(offendingLine(bytes(text), failure, 'GET'), line, JSON.stringify(text));
    }
  });

  test('over the size limit, its longest field is named', () => {
    const text = `HTTP/1.1 200 OK\r\nA: b\r\nX-Huge: ${'h'.repeat(500)}\r\nC: d\r\n`;
    assert.deepEqual(largestField(bytes(text)), { name: 'X-Huge', bytes: 509 });
  });

  test('a longest field the read stopped inside is said to be cut: its size is only what came', () => {
    const text = `HTTP/1.1 200 OK\r\nA: b\r\nX-Huge: ${'h'.repeat(500)}`;
    assert.deepEqual(largestField(bytes(text)), { name: 'X-Huge', bytes: 508, cut: true });
  });
});

describe('connectionEnded', () => {
  test('named as the gateway names it, by where the response was cut', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const idle = connectionEnded('idle', undefined, 12.3);
    assert.equal(idle.type, 'connection_terminated');
    assert.equal(idle.stage, 'sent');
    assert.equal(idle.details, 'connection closed by the upstream before the response head after 12 ms');
    assert.equal(
      connectionEnded('head', reset, 3).details,
      'connection reset (ECONNRESET) in the middle of the response head after 3.0 ms',
    );
    const short = connectionEnded('body', undefined, 40, 'length');
    assert.equal(short.type, 'http_response_incomplete');
    assert.equal(short.stage, 'body_streaming');
    assert.equal(short.details, 'response body cut short: body shorter than Content-Length after 40 ms');
    assert.equal(
      connectionEnded('body', reset, 40, 'close').details,
      'response body cut short: connection reset (ECONNRESET) after 40 ms',
    );
  });
});

describe('adviseFix', () => {
  // A reset the moment the connection opens cannot be had on cue from a real server (it races
  // the client's own connect), so the failure the connect step classifies is given here.
  test('a connection cut while it opened: nothing of the request was sent, and the fix does not say it was', () => {
    const plan = { protocol: 'http:', httpVersion: 'http1', hostname: '127.0.0.1', port: 8080 } as ProbePlan;
    const reset = classifyConnectError({ code: 'ECONNRESET' }, 'tcp', 2);
    assert.equal(reset.reachedUpstream, false);
    assert.equal(
      adviseFix({ plan, address: '127.0.0.1' }, reset),
      'the upstream at 127.0.0.1:8080 accepted the TCP connection, then reset it before the request was sent: its accept queue overflowed, or what listens there takes connections and drops them (a proxy or balancer with nothing behind it, a connection limit). Check what listens on that port and its connection limits.',
    );
    const closed = connectionEnded('idle', undefined, 12.3);
    assert.match(
      adviseFix({ plan, requestId: 'r1' }, closed),
      /^the upstream closed the connection after taking the request/,
    );
  });
});

describe('identify', () => {
  const what = (data: Buffer | string) => identify(typeof data === 'string' ? bytes(data) : data).what;

  test('names the services that end up on the wrong port', () => {
    assert.equal(what('SSH-2.0-OpenSSH_9.2p1\r\n'), 'an SSH server');
    assert.equal(what('220 mail.example.com ESMTP Postfix\r\n'), 'an SMTP server');
    assert.equal(what('220 ProFTPD Server ready.\r\n'), 'an FTP server');
    assert.equal(what('220-smtp.example.org SMTP ready\r\n'), 'an SMTP server');
    // A 220 that names neither is not called SMTP (or FTP): it is just a greeting.
    assert.equal(
      what('220 hello this is a custom banner\r\n'),
      'a server that greets with "220" (neither SMTP nor FTP by its banner)',
    );
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
