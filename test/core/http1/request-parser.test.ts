/**
 * The request parser's own rules, beyond what the differential test compares with llhttp:
 * the statuses it answers with, its bounds, and one message at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_REQUEST_FIELDS,
  type RequestHead,
  type RequestParseError,
  type RequestParserLimits,
} from '../../../src/core/http1/parsed-request.ts';
import { RequestParser } from '../../../src/core/http1/request-parser.ts';

interface Parsed {
  heads: RequestHead[];
  body: string;
  completions: number;
  trailers: (string[] | undefined)[];
  error: RequestParseError | undefined;
  parser: RequestParser;
}

function parse(
  input: string | string[],
  limits: RequestParserLimits = { headerSize: 1024, uriLength: 256 },
): Parsed {
  const out: Parsed = {
    heads: [],
    body: '',
    completions: 0,
    trailers: [],
    error: undefined,
    parser: undefined!,
  };
  out.parser = new RequestParser(
    {
      onHead: (head) => out.heads.push(head),
      onBody: (chunk) => {
        out.body += chunk.toString('latin1');
      },
      onComplete: (trailers) => {
        out.completions++;
        out.trailers.push(trailers);
      },
    },
    limits,
  );
  for (const piece of typeof input === 'string' ? [input] : input) {
    out.error = out.parser.execute(Buffer.from(piece, 'latin1'));
    if (out.error !== undefined) break;
  }
  return out;
}

const refusal = (input: string | string[], limits?: RequestParserLimits) => {
  const { error } = parse(input, limits);
  assert.ok(error, `refused: ${JSON.stringify(input)}`);
  return error;
};

test('a request line that never ends within the head limit is a 414; a large header section a 431', () => {
  assert.equal(refusal(`GET /${'a'.repeat(2000)}`).status, 414);
  assert.equal(
    refusal(`GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(800)}\r\n\r\n`).status,
    414,
  );
  assert.equal(refusal(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(1100)}\r\n\r\n`).status, 431);
  // Byte by byte, the same verdicts.
  assert.equal(refusal(Array.from(`GET / HTTP/1.1\r\nX: ${'b'.repeat(1100)}`)).status, 431);
  assert.equal(refusal(Array.from(`GET /${'a'.repeat(2000)}`)).status, 414);
});

test(`more than ${MAX_REQUEST_FIELDS} header fields are a 431`, () => {
  const fields = Array.from({ length: MAX_REQUEST_FIELDS + 1 }, (_, i) => `x${i}: v\r\n`).join('');
  const error = refusal(`GET / HTTP/1.1\r\n${fields}\r\n`, { headerSize: 64 * 1024, uriLength: 256 });
  assert.equal(error.status, 431);
});

test('HTTP/1.2 to HTTP/1.9 are read as HTTP/1.1 (RFC 9112 §2.3); another major is a 505, a version off the grammar a 400', () => {
  for (const minor of ['2', '9']) {
    const { heads, error } = parse(`GET / HTTP/1.${minor}\r\nHost: a\r\n\r\n`);
    assert.equal(error, undefined);
    assert.equal(heads[0].versionMinor, 1);
    assert.equal(heads[0].keepAlive, true, 'persistent, as HTTP/1.1 is');
  }
  assert.deepEqual(
    { ...refusal('GET / HTTP/3.0\r\nHost: a\r\n\r\n') },
    {
      status: 505,
      code: 'HPE_INVALID_VERSION',
      details: 'HTTP/3.0 is not supported on this listener',
      inBody: false,
    },
  );
  // HTTP-version = HTTP-name "/" DIGIT "." DIGIT: one digit each.
  assert.equal(refusal('GET / HTTP/1.10\r\nHost: a\r\n\r\n').status, 400);
});

// A listener that serves HTTP/2 meets the preface's request line only when the preface broke
// (prior knowledge: a whole one never reaches HTTP/1.1) or ALPN chose HTTP/1.1 (TLS): it was
// told HTTP/2 is not supported there.
test('the HTTP/2 preface on a listener that serves HTTP/2: a broken preface (400), or ALPN that chose HTTP/1.1 (505), never "not supported"', () => {
  const limits = { headerSize: 1024, uriLength: 256 };
  const broken = 'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n';
  assert.deepEqual(
    { ...refusal(broken, { ...limits, http2: 'prior-knowledge' }) },
    {
      status: 400,
      code: 'HPE_PAUSED_H2_UPGRADE',
      details: 'malformed HTTP/2 connection preface',
      inBody: false,
    },
  );
  assert.deepEqual(
    [refusal(broken, { ...limits, http2: 'alpn' })].map((e) => [e.status, e.details]),
    [[505, 'HTTP/2 on this listener is chosen by TLS ALPN (h2): this connection chose HTTP/1.1']],
  );
});

test('the statuses RFC 9110 and 9112 give: 501 unknown method, 505 version, 400 framing', () => {
  assert.equal(refusal('FOO / HTTP/1.1\r\n\r\n').status, 501);
  assert.equal(refusal('GET / HTTP/2.0\r\n\r\n').status, 505);
  assert.deepEqual(
    { ...refusal('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') },
    {
      status: 505,
      code: 'HPE_PAUSED_H2_UPGRADE',
      details: 'HTTP/2 is not supported on this listener',
      inBody: false,
    },
  );
  assert.equal(refusal('GET /\r\n\r\n').details, 'HTTP/0.9 requests are not accepted');
  assert.match(
    refusal('POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n').details,
    /both Content-Length and Transfer-Encoding/,
  );
  assert.match(
    refusal('POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n').details,
    /more than one/,
  );
  assert.match(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n').details, /must end in chunked/);
  assert.match(refusal('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n').details, /HTTP\/1\.0/);
  assert.equal(refusal('GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n').code, 'HPE_INVALID_HEADER_TOKEN');
  assert.equal(refusal('GET / HTTP/1.1\r\nX : a\r\n\r\n').code, 'HPE_INVALID_HEADER_TOKEN');
  assert.equal(refusal('GET / HTTP/1.1\r\nX: a\rb\r\n\r\n').status, 400);
});

test('a bad method or bare LF fails as it arrives, not when the head ends', () => {
  assert.equal(refusal('\x16\x03\x01').code, 'HPE_INVALID_METHOD');
  assert.equal(refusal('GET / HTTP/1.1\nHost').code, 'HPE_LF_EXPECTED');
  assert.equal(refusal(['GET / HTTP/1.1\r\n', 'Host: a\n']).code, 'HPE_LF_EXPECTED');
});

test('a bad field line fails as soon as it is whole, not at the header timeout (issue 11: hostile clients)', () => {
  for (const [line, details] of [
    ['Bad Name: x', /invalid header field name/],
    ['X-A: a\x00b', /invalid character in the value of header "X-A"/],
    ['X-A : a', /invalid header field name/],
    ['X-A: 1\r\n folded', /obs-fold/],
    ['No colon here', /invalid header field name/],
  ] as const) {
    // The head has not ended (no blank line): the parser cannot wait for it to judge the line.
    const error = refusal(['GET / HTTP/1.1\r\nHost: a\r\n', `${line}\r\n`]);
    assert.equal(error.status, 400, line);
    assert.match(error.details, details);
  }
  // Good lines of an unfinished head are no failure.
  assert.equal(parse(['GET / HTTP/1.1\r\nHost: a\r\n', 'X-A: 1\r\nX-B: 2\r\n']).error, undefined);
});

test('one request at a time: the parser stops after a request and leaves the rest', () => {
  const p = parse('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(p.heads.length, 1);
  assert.equal(p.completions, 1);
  assert.equal(p.parser.leftover, 'GET /b HTTP/1.1\r\nHost: a\r\n\r\n'.length);
  assert.equal(p.parser.complete, true);
  // Nothing more is read until next().
  assert.equal(p.parser.execute(Buffer.from('GET /c HTTP/1.1\r\n\r\n')), undefined);
  assert.equal(p.heads.length, 1);
  p.parser.next();
  assert.equal(p.parser.execute(Buffer.from('\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n')), undefined);
  assert.deepEqual(
    p.heads.map((h) => h.target),
    ['/a', '/c'],
  );
});

test('chunked bodies with trailers, byte by byte as whole', () => {
  const bytes =
    'POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 9\r\n\r\n';
  for (const input of [bytes, Array.from(bytes)]) {
    const p = parse(input);
    assert.equal(p.error, undefined);
    assert.equal(p.heads[0].framing, 'chunked');
    assert.equal(p.body, 'abcde');
    assert.deepEqual(p.trailers, [['X-Sum', '9']]);
  }
});

test('keep-alive, upgrade and length as the head says', () => {
  const [h10] = parse('GET / HTTP/1.0\r\n\r\n').heads;
  assert.equal(h10.keepAlive, false);
  assert.equal(parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').heads[0].keepAlive, true);
  assert.equal(parse('GET / HTTP/1.1\r\nConnection: close\r\n\r\n').heads[0].keepAlive, false);
  const up = parse('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').heads[0];
  assert.equal(up.upgrade, true);
  assert.equal(parse('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n').heads[0].upgrade, false);
  const post = parse('POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
  assert.deepEqual(
    [post.heads[0].framing, post.heads[0].contentLength, post.body, post.completions],
    ['length', 3, 'abc', 1],
  );
});

test('a broken chunk after the head is a body error, named as llhttp named it', () => {
  const error = refusal('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n');
  assert.deepEqual([error.status, error.code, error.inBody], [400, 'HPE_INVALID_CHUNK_SIZE', true]);
});

test('a refused head is kept as far as it came, for the answer and the log line', () => {
  const whole = parse('GET / HTTP/1.1\r\nX-Request-Id: abc\r\nX: a\x00b\r\n\r\n');
  assert.ok(whole.error);
  assert.match(whole.parser.refusedHead, /\r\nX-Request-Id: abc\r\n/);
  const split = parse(['GET / HTTP/1.1\r\nX-Request-Id: abc\r\n', 'Host: a\n']);
  assert.ok(split.error);
  assert.match(split.parser.refusedHead, /^GET \/ HTTP\/1\.1\r\nX-Request-Id: abc\r\nHost: a\n$/);
});
