/**
 * The upstream response parser on its own: every framing rule, every strictness rule, and
 * that a response split anywhere across reads parses exactly like one read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Failure } from '../../../src/core/failure/failure.ts';
import type { FailureType } from '../../../src/core/failure/taxonomy.ts';
import { AnswerParser } from '../../../src/core/http1/answer-parser.ts';
import type { AnswerHead } from '../../../src/core/http1/parsed-answer.ts';

type Event =
  | { readonly type: 'head'; readonly head: AnswerHead }
  | { readonly type: 'body'; readonly chunk: Buffer }
  | { readonly type: 'complete'; readonly trailers: string[] | undefined };

/** A parser with a handler that records what it is told. */
class Recorder {
  readonly events: Event[] = [];
  readonly parser: AnswerParser;
  /** Called from inside the handler's callbacks, to test re-entrancy. */
  onEvent: ((event: Event) => void) | undefined;

  constructor(maxHeaderSize = 8192) {
    this.parser = new AnswerParser(
      {
        onHead: (head) => this.record({ type: 'head', head }),
        onBody: (chunk) => this.record({ type: 'body', chunk }),
        onComplete: (trailers) => this.record({ type: 'complete', trailers }),
      },
      maxHeaderSize,
    );
  }

  private record(event: Event): void {
    this.events.push(event);
    this.onEvent?.(event);
  }

  /** Feeds the pieces in order; stops at the first failure. */
  feed(...pieces: (string | Buffer)[]): Failure | undefined {
    for (const piece of pieces) {
      const failure = this.parser.execute(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece);
      if (failure !== undefined) return failure;
    }
    return undefined;
  }

  get heads(): AnswerHead[] {
    return this.events.flatMap((e) => (e.type === 'head' ? [e.head] : []));
  }

  get head(): AnswerHead {
    const heads = this.heads;
    assert.ok(heads.length > 0, 'no head');
    return heads[heads.length - 1];
  }

  get body(): string {
    return Buffer.concat(this.events.flatMap((e) => (e.type === 'body' ? [e.chunk] : []))).toString('latin1');
  }

  get completions(): (string[] | undefined)[] {
    return this.events.flatMap((e) => (e.type === 'complete' ? [e.trailers] : []));
  }
}

function parse(pieces: string | (string | Buffer)[], options: { head?: boolean; max?: number } = {}) {
  const r = new Recorder(options.max);
  r.parser.expect(options.head ?? false);
  const failure = r.feed(...(Array.isArray(pieces) ? pieces : [pieces]));
  return { r, failure };
}

/** Parses and expects a failure of this type; returns its details. */
function fails(
  type: FailureType,
  pieces: string | (string | Buffer)[],
  options?: { head?: boolean; max?: number },
) {
  const { r, failure } = parse(pieces, options);
  assert.ok(failure, `expected ${type}, got no failure (events: ${r.events.map((e) => e.type).join(',')})`);
  assert.equal(failure.type, type, failure.details);
  assert.equal(failure.stage, 'not_sent');
  return failure.details;
}

const ok = (pieces: string | (string | Buffer)[], options?: { head?: boolean; max?: number }) => {
  const { r, failure } = parse(pieces, options);
  assert.equal(failure, undefined, failure?.details);
  return r;
};

const resp = (fields: string, body = '', status = 'HTTP/1.1 200 OK') => `${status}\r\n${fields}\r\n${body}`;

describe('the response head', () => {
  test('a whole response in one buffer', () => {
    const r = ok('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['head', 'body', 'complete'],
    );
    assert.deepEqual(r.head, {
      status: 200,
      reason: 'OK',
      versionMinor: 1,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '5'],
      framing: 'length',
      decode: [],
      contentLength: 5,
      keepAlive: true,
      keepAliveTimeout: -1,
    });
    assert.equal(r.body, 'hello');
    assert.deepEqual(r.completions, [undefined]);
    assert.equal(r.parser.leftover, 0);
    assert.equal(r.parser.started, true);
  });

  test('names keep their case; values lose surrounding OWS but keep inner whitespace and obs-text', () => {
    const r = ok(
      resp(
        'X-UPPER:  a  b \t\r\nx-empty:\r\nX-Tabs:\t\tv\t\r\nX-Latin: caf\xe9 \xa0\r\nX-Only-Ws:   \r\nContent-Length: 0\r\n',
      ),
    );
    assert.deepEqual(r.head.headers, [
      'X-UPPER',
      'a  b',
      'x-empty',
      '',
      'X-Tabs',
      'v',
      'X-Latin',
      'caf\xe9 \xa0',
      'X-Only-Ws',
      '',
      'Content-Length',
      '0',
    ]);
  });

  test('whitespace between a field name and the colon is removed (RFC 9112 §5.1)', () => {
    const r = ok(resp('Content-Length : 3\r\nX-Tab\t: v\r\n', 'abc'));
    assert.deepEqual(r.head.headers, ['Content-Length', '3', 'X-Tab', 'v']);
    assert.equal(r.head.framing, 'length');
    assert.equal(r.body, 'abc');
  });

  test('reason phrase: present, absent, empty, with spaces and obs-text', () => {
    assert.equal(ok('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').head.reason, '');
    assert.equal(ok('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').head.reason, '');
    assert.equal(ok('HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n').head.reason, 'Not  Found ');
    assert.equal(ok('HTTP/1.1 200 Tr\xe8s\tbien\r\nContent-Length: 0\r\n\r\n').head.reason, 'Tr\xe8s\tbien');
    assert.equal(ok('HTTP/1.1 200 OK\r\n\r\n').head.headers.length, 0);
  });

  test('version: 1.0 is minor 0, 1.1 and above are minor 1', () => {
    assert.equal(ok('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').head.versionMinor, 0);
    assert.equal(ok('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').head.versionMinor, 1);
    assert.equal(ok('HTTP/1.9 200 OK\r\nContent-Length: 0\r\n\r\n').head.versionMinor, 1);
  });

  test('interim heads are held together to the head limit, per response, however the bytes are split', () => {
    const interim = 'HTTP/1.1 102 Processing\r\n\r\n'; // 27 bytes
    const final = 'HTTP/1.1 204 No Content\r\n\r\n';
    // 303 of them (8181 bytes) fit the 8192 of the Recorder, and the count starts again with
    // each response on the connection.
    const r = new Recorder();
    for (let i = 0; i < 2; i++) {
      r.parser.expect(false);
      assert.equal(r.feed(interim.repeat(303) + final), undefined);
    }
    assert.equal(r.heads.length, 2 * 304);
    const expected =
      '304 interim (1xx) responses and no final one: their 8208 bytes are past the response head limit of 8192';
    assert.equal(fails('http_protocol_error', interim.repeat(304) + final), expected);
    assert.equal(fails('http_protocol_error', interim.repeat(304).split(/(?<=\n)/)), expected);
  });

  test('every status from 100 to 599 parses (101 excepted)', () => {
    for (const status of [100, 102, 103, 199, 200, 299, 301, 404, 500, 599]) {
      const r = ok(`HTTP/1.1 ${status} X\r\nContent-Length: 0\r\n\r\n`);
      assert.equal(r.heads[0].status, status);
    }
  });

  describe('status lines that are not HTTP/1.x', () => {
    const cases: [string, string, RegExp][] = [
      // What answered instead is named when its first bytes say (impostors.ts).
      [
        'an SSH banner (no head end needed)',
        'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n',
        /^invalid status line: the response does not start with "HTTP\/": an SSH server answered \(SSH-2\.0-OpenSSH_9\.2p1 Debian-2\)$/,
      ],
      [
        'an SMTP banner',
        '220 mail.example.com ESMTP Postfix\r\n',
        /does not start with "HTTP\/": an SMTP server answered/,
      ],
      ['bare JSON', '{"error":"not http"}\n', /does not start with "HTTP\/": a bare JSON document answered/],
      [
        'HTML without a status line',
        '<!DOCTYPE html>\n<html>',
        /does not start with "HTTP\/": an HTML page without a status line answered/,
      ],
      [
        'a Redis error',
        "-ERR unknown command 'GET'\r\n",
        /does not start with "HTTP\/": a Redis server answered/,
      ],
      [
        "an HTTP/2-only server's SETTINGS frame (to an HTTP/1.1 request)",
        '\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64',
        /^invalid status line: the response does not start with "HTTP\/": an HTTP\/2-only server \(h2c\) answered \(an HTTP\/2 frame instead of an HTTP\/1\.1 status line\)$/,
      ],
      [
        'a TLS alert (plain HTTP to a TLS port), in ASCII',
        '\x15\x03\x01\x00\x02\x02\x46',
        /^invalid status line: the response does not start with "HTTP\/": a TLS server answered \(a TLS alert record \(0x15 0x03\.\.\.\)\)$/,
      ],
      [
        'bytes nothing names',
        'hello there\r\n',
        /^invalid status line: the response does not start with "HTTP\/"$/,
      ],
      ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n', /unsupported HTTP version "HTTP\/2.0"/],
      ['HTTP/7.3', 'HTTP/7.3 200 OK\r\nContent-Length: 2\r\n\r\nok', /unsupported HTTP version/],
      ['HTTP/0.9', 'HTTP/0.9 200 OK\r\n\r\n', /unsupported HTTP version/],
      ['HTTP/2 (no minor)', 'HTTP/2 200 OK\r\n\r\n', /invalid status line/],
      ['letters in the code', 'HTTP/1.1 2OO OK\r\n\r\n', /invalid status line/],
      ['a four-digit code', 'HTTP/1.1 2000 OK\r\n\r\n', /invalid status line/],
      ['a two-digit code', 'HTTP/1.1 20 OK\r\n\r\n', /invalid status line/],
      ['two spaces before the code', 'HTTP/1.1  200 OK\r\n\r\n', /invalid status line/],
      ['a tab before the code', 'HTTP/1.1\t200 OK\r\n\r\n', /invalid status line/],
      ['lowercase http', 'http/1.1 200 OK\r\n\r\n', /does not start with/],
      ['status 099', 'HTTP/1.1 099 Low\r\n\r\n', /status code 099 out of range/],
      ['status 600', 'HTTP/1.1 600 High\r\n\r\n', /status code 600 out of range/],
      ['a NUL in the reason', 'HTTP/1.1 200 O\0K\r\n\r\n', /invalid character in the reason phrase/],
      ['a DEL in the reason', 'HTTP/1.1 200 O\x7fK\r\n\r\n', /invalid character in the reason phrase/],
      ['a bare CR in the reason', 'HTTP/1.1 200 O\rK\r\n\r\n', /invalid character in the reason phrase/],
      ['a leading empty line', '\r\nHTTP/1.1 200 OK\r\n\r\n', /does not start with/],
      ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', /101/],
    ];
    for (const [name, input, details] of cases) {
      test(name, () => {
        assert.match(fails('http_protocol_error', input), details);
      });
    }

    test('a non-HTTP first byte fails at once, without waiting for more', () => {
      assert.match(fails('http_protocol_error', '{'), /does not start with "HTTP\/"/);
      assert.match(fails('http_protocol_error', 'SSH-'), /does not start with/);
    });

    test('a first read of one byte names no one: an "S" may begin an SSH banner as well as answer PostgreSQL', () => {
      for (const first of ['S', 'N'])
        assert.equal(
          fails('http_protocol_error', [first, 'SH-2.0-OpenSSH_9.2p1\r\n']),
          'invalid status line: the response does not start with "HTTP/"',
        );
    });

    test('a status line that arrives byte by byte fails at its first bad byte, not when it is whole', () => {
      const r = new Recorder();
      r.parser.expect(false);
      for (const c of 'HTTP/1.1 2') assert.equal(r.feed(c), undefined);
      // Issue 11, item 9: no ending could make "HTTP/1.1 2X" valid, so nothing more is waited for.
      assert.equal(r.feed('X')?.type, 'http_protocol_error');
      const fine = new Recorder();
      fine.parser.expect(false);
      for (const c of 'HTTP/1.1 200 OK\r') assert.equal(fine.feed(c), undefined, 'valid so far');
    });

    test('101 is refused even for a HEAD request', () => {
      fails('http_protocol_error', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', { head: true });
    });
  });

  describe('invalid field lines', () => {
    const cases: [string, string, RegExp][] = [
      ['a space in the name', 'Bad Header Name: x\r\n', /invalid header name "Bad Header Name"/],
      ['a non-token character in the name', 'X@Y: x\r\n', /invalid header name/],
      ['a name in obs-text', 'X-\xe9: x\r\n', /invalid header name/],
      ['an empty name', ': x\r\n', /empty header name/],
      ['only whitespace before the colon', ' : x\r\n', /whitespace before the first header field|obs-fold/],
      ['a line without a colon', 'X-No-Colon-Here\r\n', /header line without a colon "X-No-Colon-Here"/],
      ['a bare CR in a value', 'X-Evil: a\rb\r\n', /invalid character in the value of header "X-Evil"/],
      ['a NUL in a value', 'X-Evil: a\0b\r\n', /invalid character in the value of header "X-Evil"/],
      ['a DEL in a value', 'X-Evil: a\x7fb\r\n', /invalid character in the value of header "X-Evil"/],
      ['an ESC in a value', 'X-Evil: \x1b[31m\r\n', /invalid character in the value/],
      ['a CR before the CRLF', 'X-Evil: a\r\r\n', /invalid character in the value/],
      ['obs-fold with spaces', 'X-Folded: first\r\n  continued\r\n', /obs-fold\) in header "X-Folded"/],
      ['obs-fold with a tab', 'X-Folded: first\r\n\tcontinued\r\n', /obs-fold\) in header "X-Folded"/],
      [
        'whitespace before the first field',
        ' X-A: b\r\n',
        /whitespace before the first header field|obs-fold/,
      ],
      ['a bare LF inside the head', 'X-A: b\nX-B: c\r\n', /bare LF line ending in header "X-A"/],
      ['a bare LF ending a name line', 'X-A\nX-B: c\r\n', /bare LF/],
    ];
    for (const [name, line, details] of cases) {
      test(name, () => {
        assert.match(
          fails(
            'http_protocol_error',
            resp(`Content-Type: text/plain\r\n${line}Content-Length: 2\r\n`, 'ok'),
          ),
          details,
        );
        // The same line first, before any framing header.
        assert.match(fails('http_protocol_error', resp(`${line}Content-Length: 2\r\n`, 'ok')), details);
      });
    }

    test('an all-bare-LF head fails as soon as a bare LF arrives, not at a timeout', () => {
      assert.match(fails('http_protocol_error', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'), /bare LF/);
      const r = new Recorder();
      r.parser.expect(false);
      assert.equal(r.feed('HTTP/1.1 200 OK\r\nX: y\r'), undefined);
      assert.equal(r.feed('\nZ: w'), undefined);
      assert.match(r.feed('\n')?.details ?? '', /bare LF/);
    });

    test('a bare LF at the very start', () => {
      assert.match(fails('http_protocol_error', '\nHTTP/1.1 200 OK\r\n\r\n'), /bare LF|does not start/);
    });

    test('control characters in names and values never reach onHead', () => {
      for (let c = 0; c < 0x20; c++) {
        if (c === 0x09) continue;
        const ch = String.fromCharCode(c);
        const { r, failure } = parse(resp(`X-V: a${ch}b\r\nContent-Length: 0\r\n`));
        assert.equal(failure?.type, 'http_protocol_error', `value with 0x${c.toString(16)}`);
        assert.equal(r.heads.length, 0);
        assert.equal(
          parse(resp(`X-${ch}N: b\r\nContent-Length: 0\r\n`)).failure?.type,
          'http_protocol_error',
        );
      }
    });

    test('every tchar is accepted in a name', () => {
      const name = "!#$%&'*+-.^_`|~09azAZ";
      assert.deepEqual(ok(resp(`${name}: v\r\nContent-Length: 0\r\n`)).head.headers.slice(0, 2), [name, 'v']);
    });

    test('a tab inside a value is fine', () => {
      assert.equal(ok(resp('X: a\tb\r\nContent-Length: 0\r\n')).head.headers[1], 'a\tb');
    });
  });
});

describe('a head not complete yet', () => {
  // Each case: the head so far, with no blank line, so the parser cannot wait for the whole head.
  for (const [partial, details] of [
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\n', /invalid header name "Bad Name"/],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nNo colon here\r\n', /header line without a colon/],
    ['HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n', /invalid character in the value of header "X-A"/],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\n folded\r\n', /obs-fold\) in header "X-B"/],
    ['HTTP/1.1 200 OK\r\n leading\r\n', /whitespace before the first header field/],
    ['HTTP/1.1 200 OK\r\n: empty\r\n', /empty header name/],
  ] as const) {
    test(`a bad field line fails as soon as it is seen: ${JSON.stringify(partial.slice(17))}`, () => {
      assert.match(fails('http_protocol_error', partial), details);
      // The same with the bad line arriving after good ones were checked.
      assert.match(fails('http_protocol_error', [partial.slice(0, 19), partial.slice(19)]), details);
      // Fed byte by byte it fails at the first bad byte, naming what came so far ("Bad N").
      fails('http_protocol_error', [...partial]);
    });
  }

  test('a status line refused whole is refused once its version or its code is in, not at the response timeout', () => {
    // It waited for the line's end: an upstream that stalled there got 504 http_response_timeout.
    for (const [partial, details] of [
      ['HTTP/3.0', /^unsupported HTTP version "HTTP\/3\.0"$/],
      ['HTTP/2.0 200', /^unsupported HTTP version "HTTP\/2\.0"$/],
      ['HTTP/1.1 600', /^status code 600 out of range$/],
      ['HTTP/1.1 099 Early', /^status code 099 out of range$/],
      ['HTTP/1.1 101', /^unexpected 101 Switching Protocols \(no upgrade was requested\)$/],
    ] as const) {
      assert.match(fails('http_protocol_error', partial), details, partial);
      assert.match(fails('http_protocol_error', [...partial]), details, `${partial}, byte by byte`);
    }
    // Valid so far: nothing to refuse yet.
    for (const partial of ['HTTP/1.0', 'HTTP/1.1 599', 'HTTP/1.1 100', 'HTTP/1.1 200 O']) {
      const { failure } = parse([...partial]);
      assert.equal(failure, undefined, partial);
    }
  });

  test('good field lines and an unfinished line valid so far are not failures; one that cannot end valid is', () => {
    const { r, failure } = parse(['HTTP/1.1 200 OK\r\nX-A: 1\r\n', 'X-B: 2\r\nX-C : a\tb\r']);
    assert.equal(failure, undefined);
    assert.equal(r.parser.finish(), 'head');
    // Issue 11, item 9: "at the first bad byte", not once the upstream ends the line or the head.
    assert.match(
      fails('http_protocol_error', ['HTTP/1.1 200 OK\r\nX-A: 1\r\n', 'X-B: 2\r\nBad Na']),
      /invalid header name "Bad Na"/,
    );
    const whole = ok(['HTTP/1.1 200 OK\r\nX-A: 1\r\n', 'X-B: 2\r\nX-C:', ' 3\r\n\r\n']);
    assert.deepEqual(whole.head.headers, ['X-A', '1', 'X-B', '2', 'X-C', '3']);
  });

  test('after a 1xx, the next head is checked line by line from its own start', () => {
    const pieces = ['HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n', 'Bad Name: x\r\n'];
    assert.match(fails('http_protocol_error', pieces), /invalid header name "Bad Name"/);
    const fine = ok([
      'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n',
      '\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\n',
      'Content-Length: 0\r\n\r\n',
    ]);
    assert.equal(fine.head.status, 200);
  });
});

describe('the header section size limit', () => {
  const head = (n: number) => {
    // A head of exactly n bytes, CRLFCRLF included.
    const base = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: \r\n\r\n';
    return base.replace('X-Pad: ', `X-Pad: ${'p'.repeat(n - base.length)}`);
  };

  test('a head of exactly the limit passes; one byte more fails', () => {
    assert.equal(head(200).length, 200);
    ok(head(200), { max: 200 });
    fails('http_response_header_section_size', head(201), { max: 200 });
  });

  test('the limit applies to a head split across calls, including byte by byte', () => {
    ok(head(200).split(''), { max: 200 });
    fails('http_response_header_section_size', head(201).split(''), { max: 200 });
    ok([head(200).slice(0, 199), head(200).slice(199)], { max: 200 });
    fails('http_response_header_section_size', [head(201).slice(0, 200), head(201).slice(200)], { max: 200 });
  });

  test('it fails as soon as the bytes exceed the limit without a complete head', () => {
    const r = new Recorder(100);
    r.parser.expect(false);
    assert.equal(r.feed(`HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(20)}\r\n`), undefined);
    assert.equal(r.feed(`X-B: ${'b'.repeat(30)}\r\n`), undefined);
    const failure = r.feed(`X-C: ${'c'.repeat(30)}\r\n`);
    assert.equal(failure?.type, 'http_response_header_section_size');
    assert.match(failure.details, /larger than 100 bytes/);
  });

  test('a huge header in one buffer fails without waiting for the head to end', () => {
    fails('http_response_header_section_size', `HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(70000)}`, {
      max: 65536,
    });
    fails(
      'http_response_header_section_size',
      `HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(70000)}\r\nContent-Length: 2\r\n\r\nok`,
      { max: 65536 },
    );
  });

  test('at most 256 header fields', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    assert.equal(ok(resp(fields(255) + 'Content-Length: 0\r\n'), { max: 65536 }).head.headers.length, 512);
    assert.match(
      fails('http_response_header_section_size', resp(fields(256) + 'Content-Length: 0\r\n'), { max: 65536 }),
      /more than 256 header fields/,
    );
  });

  test('each head of a response has the limit: a 1xx does not use up the final head’s', () => {
    const r = ok(
      [head(200).replace('200 OK', '103 Hi').replace('Content-Length: 0\r\n', 'Link: <>\r\n'), head(200)],
      {
        max: 200,
      },
    );
    assert.deepEqual(
      r.heads.map((h) => h.status),
      [103, 200],
    );
  });
});

describe('Content-Length', () => {
  for (const value of ['abc', '-1', '+5', '5.0', '', '0x10', '1 2', '5,', ',5', '5,,5', '0b101', '5;']) {
    test(`"${value}" is invalid`, () => {
      assert.match(
        fails('http_response_content_length', resp(`Content-Length: ${value}\r\n`, '')),
        /invalid Content-Length/,
      );
    });
  }

  test('a value over MAX_SAFE_INTEGER is refused; MAX_SAFE_INTEGER itself is fine', () => {
    assert.match(
      fails('http_response_content_length', resp('Content-Length: 9007199254740992\r\n')),
      /too large/,
    );
    fails('http_response_content_length', resp(`Content-Length: ${'9'.repeat(400)}\r\n`));
    const r = ok(resp('Content-Length: 9007199254740991\r\n', 'abc'));
    assert.equal(r.head.contentLength, Number.MAX_SAFE_INTEGER);
    assert.equal(r.parser.finish(), 'body');
  });

  test('leading zeros and surrounding OWS are fine', () => {
    assert.equal(ok(resp('Content-Length: \t007 \r\n', 'abcdefg')).head.contentLength, 7);
  });

  test('identical repeated values count as one, and the head carries one canonical field', () => {
    for (const fields of [
      'Content-Length: 5, 5\r\n',
      'Content-Length: 5,5 , 5\r\n',
      'Content-Length: 5\r\nX-A: 1\r\ncontent-length: 5\r\n',
      'Content-Length: 005\r\n',
    ]) {
      const r = ok(resp(fields, 'hello'));
      assert.equal(r.body, 'hello');
      assert.deepEqual(
        r.head.headers.filter((_, i) => i % 2 === 0 && r.head.headers[i].toLowerCase() === 'content-length'),
        ['Content-Length'],
        fields,
      );
      assert.equal(r.head.headers[r.head.headers.indexOf('Content-Length') + 1], '5', fields);
    }
    const r = ok(resp('Content-Length: 5\r\nX-A: 1\r\ncontent-length: 5\r\n', 'hello'));
    assert.deepEqual(r.head.headers, ['Content-Length', '5', 'X-A', '1']);
  });

  test('a single canonical Content-Length is left as it came (the same array, no rebuild)', () => {
    const r = ok(resp('X-A: 1\r\ncontent-length: 5\r\n', 'hello'));
    assert.deepEqual(r.head.headers, ['X-A', '1', 'content-length', '5']);
  });

  test('different values are refused, in one field or several', () => {
    assert.match(
      fails('http_response_content_length', resp('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!')),
      /conflicting/,
    );
    assert.match(
      fails('http_response_content_length', resp('Content-Length: 5, 6\r\n', 'hello!')),
      /conflicting/,
    );
    fails('http_response_content_length', resp('Content-Length: 5\r\nContent-Length: 5, 6\r\n', 'hello!'));
  });

  test('0 completes right after the head', () => {
    const r = ok(resp('Content-Length: 0\r\n'));
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['head', 'complete'],
    );
    assert.equal(r.head.framing, 'length');
    assert.equal(r.head.contentLength, 0);
  });

  test('the body arrives in pieces as sent, as views of the input (no copy)', () => {
    const r = new Recorder();
    r.parser.expect(false);
    const first = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    const second = Buffer.from('defg');
    const third = Buffer.from('hijXYZ');
    assert.equal(r.feed(first, second), undefined);
    assert.equal(r.completions.length, 0);
    assert.equal(r.parser.finish(), 'body');
    r.parser.expect(false);
    const r2 = new Recorder();
    r2.parser.expect(false);
    r2.feed(first, second, third);
    const chunks = r2.events.flatMap((e) => (e.type === 'body' ? [e.chunk] : []));
    assert.deepEqual(
      chunks.map((c) => c.toString()),
      ['abc', 'defg', 'hij'],
    );
    assert.equal(chunks[0].buffer, first.buffer);
    assert.equal(chunks[1], second, 'a buffer that is all body is passed as is');
    assert.equal(chunks[2].buffer, third.buffer);
    assert.equal(r2.parser.leftover, 3);
    assert.deepEqual(r2.completions, [undefined]);
  });
});

describe('Transfer-Encoding', () => {
  const chunkedBody = '5\r\nhello\r\n0\r\n\r\n';

  test('chunked, in any case and with OWS', () => {
    for (const value of ['chunked', 'Chunked', 'CHUNKED', '  chunked\t']) {
      const r = ok(resp(`Transfer-Encoding: ${value}\r\n`, chunkedBody));
      assert.equal(r.head.framing, 'chunked');
      assert.equal(r.head.contentLength, -1);
      assert.equal(r.body, 'hello');
      assert.deepEqual(r.completions, [undefined]);
    }
  });

  for (const [value, reason] of [
    ['gzip', /does not end in chunked/],
    ['chunked, gzip', /does not end in chunked/],
    ['chunked;q=1', /does not end in chunked/],
    // obs-text, not OWS: only SP and HTAB are trimmed (issue 31, item 8).
    ['\xa0chunked', /does not end in chunked/],
    ['chunked\xa0', /does not end in chunked/],
    ['gzip, \xa0chunked', /does not end in chunked/],
    ['', /empty Transfer-Encoding/],
    [' , ', /empty Transfer-Encoding/],
    ['chunked, chunked', /chunked applied more than once/],
    ['identity, chunked', /unsupported transfer coding "identity"/],
    ['br, chunked', /unsupported transfer coding "br"/],
    ['compress, chunked', /unsupported transfer coding "compress"/],
    ['x-custom, chunked', /unsupported transfer coding "x-custom"/],
    ['gzip;level=1, chunked', /unsupported transfer coding "gzip;level=1"/],
    ['gzip, gzip, gzip, chunked', /more than 2 transfer codings/],
  ] as const) {
    test(`"${value}" is refused, naming why`, () => {
      assert.match(
        fails('http_response_transfer_coding', resp(`Transfer-Encoding: ${value}\r\n`, chunkedBody)),
        reason,
      );
    });
  }

  test('codings zlib undoes, under chunked: the head says chunked and lists them in the order to undo', () => {
    for (const [value, decode] of [
      ['gzip, chunked', ['gzip']],
      ['X-GZIP , Chunked', ['gzip']],
      ['deflate,chunked', ['deflate']],
      ['gzip, deflate, chunked', ['deflate', 'gzip']],
    ] as const) {
      const r = ok(resp(`Transfer-Encoding: ${value}\r\n`, chunkedBody));
      assert.equal(r.head.framing, 'chunked', value);
      assert.deepEqual(r.head.decode, decode, value);
      assert.equal(r.head.contentLength, -1);
      assert.equal(r.body, 'hello', 'the parser removes the chunked framing only');
    }
  });

  test('empty list members are ignored (RFC 9110 §5.6.1.2)', () => {
    assert.equal(ok(resp('Transfer-Encoding: , chunked\r\n', chunkedBody)).head.framing, 'chunked');
    assert.deepEqual(ok(resp('Transfer-Encoding: gzip,, chunked,\r\n', chunkedBody)).head.decode, ['gzip']);
  });

  test('several Transfer-Encoding fields are one list (RFC 9110 §5.3)', () => {
    assert.match(
      fails(
        'http_response_transfer_coding',
        resp('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', chunkedBody),
      ),
      /chunked applied more than once/,
    );
    const r = ok(resp('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', chunkedBody));
    assert.deepEqual(r.head.decode, ['gzip']);
  });

  test('Transfer-Encoding with Content-Length is refused, in either order', () => {
    for (const fields of [
      'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 0\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: abc\r\n',
      'Content-Length: 1, 2\r\nTransfer-Encoding: gzip\r\n',
    ]) {
      assert.match(
        fails('http_response_transfer_coding', resp(fields, chunkedBody)),
        /Transfer-Encoding together with Content-Length/,
      );
    }
  });

  test('Transfer-Encoding in an HTTP/1.0 response is faulty framing (RFC 9112 §6.1)', () => {
    fails(
      'http_response_transfer_coding',
      resp('Transfer-Encoding: chunked\r\n', chunkedBody, 'HTTP/1.0 200 OK'),
    );
  });
});

describe('framing by status and method', () => {
  test('HEAD: Content-Length describes the GET, no body follows', () => {
    const r = ok(resp('Content-Length: 1234\r\n', 'NEXT'), { head: true });
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['head', 'complete'],
    );
    assert.equal(r.head.framing, 'none');
    assert.equal(r.head.contentLength, -1);
    assert.equal(r.head.keepAlive, true);
    assert.equal(r.parser.leftover, 4);
  });

  test('HEAD: Transfer-Encoding is ignored, but Content-Length is checked and normalised', () => {
    assert.equal(ok(resp('Transfer-Encoding: gzip\r\n'), { head: true }).head.framing, 'none');
    assert.match(
      fails('http_response_content_length', resp('Content-Length: x\r\n'), { head: true }),
      /invalid Content-Length "x"/,
    );
    assert.match(
      fails('http_response_content_length', resp('Content-Length: 5\r\nContent-Length: 6\r\n'), {
        head: true,
      }),
      /conflicting/,
    );
    const r = ok(resp('Content-Length: 1234\r\nETag: "1"\r\nContent-Length: 1234, 1234\r\n'), { head: true });
    assert.deepEqual(r.head.headers, ['Content-Length', '1234', 'ETag', '"1"']);
    assert.equal(r.head.contentLength, -1);
  });

  test('HEAD without any framing header still has no body and keeps the connection', () => {
    const r = ok(resp(''), { head: true });
    assert.equal(r.head.framing, 'none');
    assert.equal(r.head.keepAlive, true);
    assert.equal(r.completions.length, 1);
  });

  test('Transfer-Encoding with Content-Length is refused on a bodyless answer too, as llhttp does', () => {
    const both = 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n';
    assert.match(
      fails('http_response_transfer_coding', resp(both), { head: true }),
      /Transfer-Encoding together with Content-Length/,
    );
    fails('http_response_transfer_coding', resp(both, '', 'HTTP/1.1 304 Not Modified'));
  });

  for (const status of ['204 No Content', '304 Not Modified']) {
    test(`${status} has no body whatever Content-Length says`, () => {
      const r = ok(resp('ETag: "v1"\r\nContent-Length: 1234\r\n', '', `HTTP/1.1 ${status}`));
      assert.equal(r.head.framing, 'none');
      assert.equal(r.head.contentLength, -1);
      assert.deepEqual(
        r.events.map((e) => e.type),
        ['head', 'complete'],
      );
      assert.equal(r.head.keepAlive, true);
      // Both framings at once is refused even here (llhttp does): the smuggling signature.
      fails(
        'http_response_transfer_coding',
        resp('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '', `HTTP/1.1 ${status}`),
      );
      // Checked all the same: the field is forwarded, and the next parser refuses a bad one.
      fails('http_response_content_length', resp('Content-Length: abc\r\n', '', `HTTP/1.1 ${status}`));
      fails('http_response_content_length', resp('Content-Length: 1, 2\r\n', '', `HTTP/1.1 ${status}`));
      const dup = ok(resp('Content-Length: 07\r\ncontent-length: 7\r\n', '', `HTTP/1.1 ${status}`));
      assert.deepEqual(dup.head.headers, ['Content-Length', '7']);
    });
  }

  test('no Content-Length and no Transfer-Encoding: the body runs until the connection ends', () => {
    const r = ok(resp('Content-Type: text/plain\r\n', 'part one, '));
    assert.equal(r.head.framing, 'close');
    assert.equal(r.head.keepAlive, false);
    r.feed('part two');
    assert.equal(r.completions.length, 0);
    assert.equal(r.parser.finish(), 'complete');
    assert.equal(r.body, 'part one, part two');
    assert.deepEqual(r.completions, [undefined]);
    assert.equal(r.parser.finish(), 'idle', 'once complete, another end is nothing');
  });

  test('200 with an empty close-delimited body', () => {
    const r = ok(resp(''));
    assert.equal(r.head.framing, 'close');
    assert.equal(r.parser.finish(), 'complete');
    assert.equal(r.body, '');
  });
});

describe('interim (1xx) responses', () => {
  test('100 Continue and the 200 in one buffer', () => {
    const r = ok('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual(
      r.heads.map((h) => [h.status, h.framing]),
      [
        [100, 'none'],
        [200, 'length'],
      ],
    );
    assert.equal(r.body, 'ok');
    assert.deepEqual(r.completions, [undefined], 'onComplete only for the final response');
  });

  test('103 Early Hints carries its headers; several 1xx may precede the final head', () => {
    const r = ok(
      'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </app.js>; rel=preload\r\n\r\n' +
        'HTTP/1.1 102 Processing\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    );
    assert.deepEqual(
      r.heads.map((h) => h.status),
      [103, 102, 200],
    );
    assert.deepEqual(r.heads[0].headers, [
      'Link',
      '</style.css>; rel=preload; as=style',
      'Link',
      '</app.js>; rel=preload',
    ]);
    assert.equal(r.heads[0].contentLength, -1);
  });

  test('a 1xx ignores Content-Length and Transfer-Encoding', () => {
    const r = ok('HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n');
    assert.deepEqual(
      r.heads.map((h) => h.framing),
      ['none', 'none'],
    );
  });

  test('after a whole 1xx, an end of connection is before the final head, inside one once a byte of it came; the next head is checked as strictly', () => {
    assert.equal(parse('HTTP/1.1 100 Continue\r\n\r\n').r.parser.finish(), 'idle');
    assert.equal(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2').r.parser.finish(), 'head');
    assert.equal(fails('http_protocol_error', 'HTTP/1.1 100 Continue\r\n\r\nSSH-2.0-x').length > 0, true);
  });

  test('100 Continue split from the final head, and split inside it', () => {
    const r = ok(['HTTP/1.1 100 Cont', 'inue\r\n\r', '\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
    assert.deepEqual(
      r.heads.map((h) => h.status),
      [100, 200],
    );
    assert.equal(r.body, 'ok');
  });
});

describe('keep-alive', () => {
  const matrix: [string, string, boolean][] = [
    ['HTTP/1.1', '', true],
    ['HTTP/1.1', 'Connection: close\r\n', false],
    ['HTTP/1.1', 'Connection: CLOSE\r\n', false],
    ['HTTP/1.1', 'Connection: keep-alive\r\n', true],
    ['HTTP/1.1', 'Connection: Keep-Alive, Close\r\n', false],
    ['HTTP/1.1', 'Connection: x-debug,close\r\n', false],
    ['HTTP/1.1', 'Connection: x-debug\r\nConnection: close\r\n', false],
    ['HTTP/1.1', 'Connection: closed\r\n', true],
    ['HTTP/1.1', 'Connection: x-close\r\n', true],
    ['HTTP/1.0', '', false],
    ['HTTP/1.0', 'Connection: keep-alive\r\n', true],
    ['HTTP/1.0', 'Connection: Keep-Alive\r\n', true],
    ['HTTP/1.0', 'Connection: x-debug, keep-alive\r\n', true],
    ['HTTP/1.0', 'Connection: keep-alive\r\nConnection: close\r\n', false],
    ['HTTP/1.0', 'Connection: keep-alive, close\r\n', false],
    ['HTTP/1.0', 'Connection: close\r\n', false],
  ];
  for (const [version, fields, expected] of matrix) {
    test(`${version} ${JSON.stringify(fields)} -> ${expected}`, () => {
      const r = ok(resp(`${fields}Content-Length: 0\r\n`, '', `${version} 200 OK`));
      assert.equal(r.head.keepAlive, expected);
    });
  }

  test('a close-delimited body never keeps the connection', () => {
    assert.equal(ok(resp('Connection: keep-alive\r\n', '', 'HTTP/1.1 200 OK')).head.keepAlive, false);
    assert.equal(ok(resp('Connection: keep-alive\r\n', '', 'HTTP/1.0 200 OK')).head.keepAlive, false);
  });

  test('chunked keeps an HTTP/1.1 connection', () => {
    assert.equal(ok(resp('Transfer-Encoding: chunked\r\n', '0\r\n\r\n')).head.keepAlive, true);
  });

  const timeouts: [string, number][] = [
    ['', -1],
    ['Keep-Alive: timeout=5, max=100\r\n', 5],
    ['Keep-Alive: max=100, timeout=30\r\n', 30],
    ['keep-alive: Timeout=7\r\n', 7],
    ['Keep-Alive: timeout="9"\r\n', 9],
    ['Keep-Alive: timeout = 5\r\n', 5],
    ['Keep-Alive:\ttimeout\t=\t\t4 ,max=3\r\n', 4],
    ['Keep-Alive: TIMEOUT=6\r\n', 6],
    ['Keep-Alive: max=5\r\n', -1],
    ['Keep-Alive: timeout=abc\r\n', -1],
    ['Keep-Alive: timeout=\r\n', -1],
    ['Keep-Alive: timeout\r\n', -1],
    ['Keep-Alive: =3\r\n', -1],
    ['Keep-Alive: timeout=0\r\n', 0],
    ['Keep-Alive: timeout=-5\r\n', -1],
    ['Keep-Alive: timeout=1.5\r\n', -1],
    ['Keep-Alive: timeout=5s\r\n', -1],
    ['Keep-Alive: timeout=1 2\r\n', -1],
    ['Keep-Alive: timeout="7\r\n', -1],
    ['Keep-Alive: xtimeout=1, timeouts=1\r\n', -1],
    ['Keep-Alive: timeout=999999999\r\n', 999999999],
    ['Keep-Alive: timeout=1000000000\r\n', -1],
    ['Keep-Alive: timeout=99999999999999999999999\r\n', -1],
    // Garbage beside a good member does not hide it; said twice, the smaller stands.
    ['Keep-Alive: timeout=junk, timeout=8, , ;;\r\n', 8],
    ['Keep-Alive: timeout=5, timeout=2\r\n', 2],
    ['Keep-Alive: max=100\r\nKeep-Alive: timeout=3\r\n', 3],
    ['Keep-Alive: timeout=9\r\nX-Other: 1\r\nKeep-Alive: timeout=4\r\n', 4],
  ];
  for (const [fields, expected] of timeouts) {
    test(`Keep-Alive timeout from ${JSON.stringify(fields)} is ${expected}`, () => {
      assert.equal(ok(resp(`${fields}Content-Length: 0\r\n`)).head.keepAliveTimeout, expected);
    });
  }

  const maxes: [string, boolean][] = [
    ['Keep-Alive: timeout=5, max=100\r\n', true],
    ['Keep-Alive: max=2\r\n', true],
    ['Keep-Alive: timeout=5, max=1\r\n', false],
    ['Keep-Alive: MAX = 0\r\n', false],
    ['Keep-Alive: timeout=5\r\nKeep-Alive: max=1\r\n', false],
    ['Keep-Alive: max=-1\r\n', true],
    ['Keep-Alive: max=none\r\n', true],
    ['Keep-Alive: maxage=0\r\n', true],
  ];
  for (const [fields, expected] of maxes) {
    test(`Keep-Alive ${JSON.stringify(fields)}: the connection is ${expected ? 'kept' : 'not kept (the last request)'}`, () => {
      assert.equal(ok(resp(`${fields}Content-Length: 0\r\n`)).head.keepAlive, expected);
    });
  }
});

describe('chunked bodies', () => {
  const chunked = (body: string, fields = '') => resp(`Transfer-Encoding: chunked\r\n${fields}`, body);

  test('several chunks, hex sizes in either case, extensions ignored', () => {
    const r = ok(
      chunked('5\r\nhello\r\nA;name=value\r\n0123456789\r\na ; x="q; uoted" ;y\r\nabcdefghij\r\n0\r\n\r\n'),
    );
    assert.equal(r.body, 'hello0123456789abcdefghij');
    assert.deepEqual(r.completions, [undefined]);
    assert.equal(r.parser.leftover, 0);
  });

  test('an empty chunked body', () => {
    const r = ok(chunked('0\r\n\r\n'));
    assert.equal(r.body, '');
    assert.deepEqual(r.completions, [undefined]);
  });

  test('trailers', () => {
    const r = ok(chunked('3\r\nabc\r\n0\r\nX-Checksum: 42 \r\nServer-Timing: db;dur=53\r\n\r\n'));
    assert.equal(r.body, 'abc');
    assert.deepEqual(r.completions, [['X-Checksum', '42', 'Server-Timing', 'db;dur=53']]);
  });

  test('trailers are validated like header fields', () => {
    assert.match(fails('http_protocol_error', chunked('0\r\nBad Name: x\r\n\r\n')), /invalid header name/);
    assert.match(fails('http_protocol_error', chunked('0\r\nX: a\0b\r\n\r\n')), /invalid character/);
    assert.match(fails('http_protocol_error', chunked('0\r\nX: a\r\n folded\r\n\r\n')), /obs-fold/);
    assert.match(fails('http_protocol_error', chunked('0\r\nX: a\n\n')), /bare LF/);
    assert.match(fails('http_protocol_error', chunked('0\r\n\n')), /bare LF/);
  });

  test('a bad trailer line fails as soon as it is whole, before the section ends', () => {
    const start = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n';
    assert.match(
      fails('http_protocol_error', start + 'ETag: a\r\r\n'),
      /invalid character in the value of header "ETag"/,
    );
    assert.match(fails('http_protocol_error', [start, 'Bad Name: x\r\n']), /invalid header name "Bad Name"/);
    assert.match(fails('http_protocol_error', [...(start + ' folded\r\n')]), /obs-fold\) in header "X-A"/);
    const { failure } = parse([start, 'X-B: 2\r\nX-C']);
    assert.equal(failure, undefined);
  });

  test('a trailer section over the limit fails, even split', () => {
    const big = `0\r\nX-Big: ${'b'.repeat(300)}\r\n\r\n`;
    fails('http_response_trailer_section_size', chunked(big), { max: 256 });
    fails('http_response_trailer_section_size', [chunked(''), ...big.match(/.{1,50}/gs)!], { max: 256 });
    ok(chunked(big), { max: 512 });
  });

  test('at most 256 trailer fields, told as the trailer section (RFC 9209), not the head', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    assert.equal(ok(chunked(`0\r\n${fields(256)}\r\n`), { max: 65536 }).completions[0]?.length, 512);
    assert.match(
      fails('http_response_trailer_section_size', chunked(`0\r\n${fields(257)}\r\n`), { max: 65536 }),
      /more than 256 trailer fields/,
    );
    assert.match(
      fails('http_response_trailer_section_size', [chunked(''), `0\r\n${fields(257)}`, '\r\n'], {
        max: 65536,
      }),
      /more than 256 trailer fields/,
    );
  });

  test('chunk sizes: at most 13 significant hex digits, leading zeros not counted', () => {
    const r = ok(chunked('0000000000005\r\nhello\r\n0\r\n\r\n'));
    assert.equal(r.body, 'hello');
    const big = ok(chunked('fffffffffffff\r\nabc'));
    assert.equal(big.body, 'abc');
    assert.equal(big.parser.finish(), 'body');
    // A fixed-width writer's padding (nginx and HAProxy read it; it used to be refused).
    assert.equal(ok(chunked('00000000000005\r\nhello\r\n0000000000000000\r\n\r\n')).body, 'hello');
    assert.equal(ok(chunked(`${'0'.repeat(100)}fffffffffffff\r\nabc`)).body, 'abc');
    assert.match(fails('http_response_transfer_coding', chunked('10000000000000\r\n')), /invalid chunk size/);
    fails('http_response_transfer_coding', chunked('0010000000000000\r\n'));
  });

  const badSizes: [string, string][] = [
    ['not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['empty', '\r\nhello\r\n0\r\n\r\n'],
    ['a sign', '+5\r\nhello\r\n0\r\n\r\n'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['whitespace before', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['whitespace after without an extension', '5 \r\nhello\r\n0\r\n\r\n'],
    ['junk after', '5x\r\nhello\r\n0\r\n\r\n'],
  ];
  for (const [name, body] of badSizes) {
    test(`invalid chunk size: ${name}`, () => {
      assert.match(fails('http_response_transfer_coding', chunked(body)), /invalid chunk size/);
    });
  }

  test('whitespace before an extension is fine (BWS)', () => {
    assert.equal(ok(chunked('5 \t; a=b\r\nhello\r\n0 ;last\r\n\r\n')).body, 'hello');
  });

  test('control characters in a chunk extension are refused; HTAB and obs-text are not', () => {
    for (const c of ['\0', '\x01', '\x1f', '\x7f', '\r']) {
      assert.match(
        fails('http_response_transfer_coding', chunked(`5;a=${c}\r\nhello\r\n0\r\n\r\n`)),
        /invalid character in a chunk extension/,
      );
    }
    assert.equal(ok(chunked('5;a="\t\xe9"\r\nhello\r\n0\r\n\r\n')).body, 'hello');
  });

  test('a chunk-size line over 4096 bytes is refused, whole or split', () => {
    const line = (n: number) => `5;${'e'.repeat(n - 2)}`;
    assert.equal(ok(chunked(`${line(4096)}\r\nhello\r\n0\r\n\r\n`)).body, 'hello');
    assert.match(
      fails('http_response_transfer_coding', chunked(`${line(4097)}\r\nhello\r\n0\r\n\r\n`)),
      /chunk-size line too long/,
    );
    assert.equal(
      ok([chunked(''), line(4096).slice(0, 2000), line(4096).slice(2000), '\r\nhello\r\n0\r\n\r\n']).body,
      'hello',
    );
    fails('http_response_transfer_coding', [
      chunked(''),
      line(4097).slice(0, 2000),
      line(4097).slice(2000),
      '\r\n',
    ]);
    // Without any line end: refused once it cannot be a valid line any more.
    fails('http_response_transfer_coding', [chunked(''), 'e'.repeat(3000), 'e'.repeat(3000)]);
    fails('http_response_transfer_coding', chunked(`5;${'e'.repeat(5000)}`));
  });

  test('chunk data must be followed by CRLF', () => {
    for (const body of [
      '5\r\nhelloXX0\r\n\r\n',
      '5\r\nhello\n0\r\n\r\n',
      '5\r\nhello\rX0\r\n\r\n',
      '5\r\nhelloo\r\n0\r\n\r\n',
    ]) {
      assert.match(fails('http_response_transfer_coding', chunked(body)), /missing CRLF after chunk data/);
    }
    // The same with the bytes split right after the data.
    assert.match(
      fails('http_response_transfer_coding', [chunked('5\r\nhello'), 'X\r\n0\r\n\r\n']),
      /missing CRLF/,
    );
    fails('http_response_transfer_coding', [chunked('5\r\nhello\r'), 'X0\r\n\r\n']);
  });

  test('a bare LF ending a chunk-size line', () => {
    assert.match(fails('http_protocol_error', chunked('5\nhello\r\n0\r\n\r\n')), /bare LF/);
    assert.match(fails('http_protocol_error', [chunked('5'), '\nhello\r\n0\r\n\r\n']), /bare LF/);
    assert.match(fails('http_protocol_error', chunked('5\r\nhello\r\n\n')), /bare LF/);
  });

  test('data is delivered as it arrives, never held back for the whole chunk', () => {
    const r = new Recorder();
    r.parser.expect(false);
    r.feed(chunked('a\r\nabc'));
    assert.equal(r.body, 'abc');
    r.feed('defg');
    assert.equal(r.body, 'abcdefg');
    r.feed('hij\r\n');
    assert.equal(r.body, 'abcdefghij');
    assert.equal(r.parser.finish(), 'body');
  });

  test('bytes after the last chunk are leftover', () => {
    const r = ok(chunked('2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n'));
    assert.equal(r.body, 'ok');
    assert.equal(r.parser.leftover, 'HTTP/1.1 200 OK\r\n'.length);
    const t = ok(chunked('2\r\nok\r\n0\r\nA: b\r\n\r\nrest'));
    assert.equal(t.parser.leftover, 4);
    assert.deepEqual(t.completions, [['A', 'b']]);
  });

  const sample = chunked(
    '4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\nX-Two: 2\r\n\r\n',
    'X-Head: h\r\n',
  );
  const expectSample = (r: Recorder, label: string) => {
    assert.equal(r.heads.length, 1, label);
    assert.deepEqual(r.head.headers, ['Transfer-Encoding', 'chunked', 'X-Head', 'h'], label);
    assert.equal(r.body, 'Wikipedia in \r\n\r\nchunks.', label);
    assert.deepEqual(r.completions, [['X-Trailer', 'yes', 'X-Two', '2']], label);
    assert.equal(r.parser.leftover, 0, label);
    assert.ok(
      r.events.every((e) => e.type !== 'body' || e.chunk.length > 0),
      `${label}: no empty body chunks`,
    );
  };

  test('split at every byte position', () => {
    for (let i = 0; i <= sample.length; i++) {
      expectSample(ok([sample.slice(0, i), sample.slice(i)]), `split at ${i}`);
    }
  });

  test('split at every pair of byte positions', () => {
    for (let i = 1; i < sample.length; i++) {
      for (let j = i; j < sample.length; j++) {
        expectSample(ok([sample.slice(0, i), sample.slice(i, j), sample.slice(j)]), `split at ${i}, ${j}`);
      }
    }
  });

  test('fed byte by byte', () => {
    expectSample(ok(sample.split('')), 'byte by byte');
  });

  test('a response with Content-Length, split at every position, byte by byte', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello';
    for (let i = 0; i <= text.length; i++) {
      const r = ok([text.slice(0, i), text.slice(i)]);
      assert.equal(r.body, 'hello');
      assert.deepEqual(r.head.headers, ['Content-Length', '5', 'X', 'y']);
      assert.equal(r.completions.length, 1);
    }
    assert.equal(ok(text.split('')).body, 'hello');
  });
});

describe('leftover bytes', () => {
  test('bytes after a complete response are not consumed', () => {
    const r = ok('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
    assert.equal(r.body, 'ok');
    assert.equal(r.parser.leftover, 5);
  });

  test('none when the response ends with the input', () => {
    const r = ok(['HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab', 'cd']);
    assert.equal(r.parser.leftover, 0);
  });

  test('further input after the response is all leftover', () => {
    const r = ok('HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal(r.parser.leftover, 0);
    assert.equal(r.parser.execute(Buffer.from('junk')), undefined);
    assert.equal(r.parser.leftover, 4);
    assert.equal(r.completions.length, 1);
  });
});

describe('finish() at the end of the connection', () => {
  test('idle before any byte', () => {
    const r = new Recorder();
    r.parser.expect(false);
    assert.equal(r.parser.started, false);
    assert.equal(r.parser.execute(Buffer.alloc(0)), undefined);
    assert.equal(r.parser.started, false);
    assert.equal(r.parser.finish(), 'idle');
  });

  test('head: inside the status line, inside the fields, inside the head after a 1xx', () => {
    assert.equal(parse('H').r.parser.finish(), 'head');
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Le').r.parser.finish(), 'head');
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r').r.parser.finish(), 'head');
    assert.equal(parse(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 200 OK\r\n']).r.parser.finish(), 'head');
  });

  test('body: inside a length body, a chunk, a chunk-size line, the trailers', () => {
    assert.equal(parse(resp('Content-Length: 5\r\n')).r.parser.finish(), 'body');
    assert.equal(parse(resp('Content-Length: 5\r\n', 'hel')).r.parser.finish(), 'body');
    const chunked = resp('Transfer-Encoding: chunked\r\n');
    for (const body of [
      '',
      '5',
      '5\r\nhel',
      '5\r\nhello',
      '5\r\nhello\r',
      '5\r\nhello\r\n0\r\n',
      '0\r\nX: y\r\n',
    ]) {
      assert.equal(parse(chunked + body).r.parser.finish(), 'body', JSON.stringify(body));
    }
  });

  test('complete: a close-delimited body, with onComplete first', () => {
    const r = ok(resp('', 'all of it'));
    let completedBeforeReturn = false;
    r.onEvent = (e) => {
      if (e.type === 'complete') completedBeforeReturn = true;
    };
    assert.equal(r.parser.finish(), 'complete');
    assert.ok(completedBeforeReturn);
    assert.equal(r.body, 'all of it');
  });

  test('idle once the response was complete', () => {
    assert.equal(ok(resp('Content-Length: 0\r\n')).parser.finish(), 'idle');
  });

  test('after a failure: head or body, by where it happened', () => {
    assert.equal(parse('SSH-2.0').r.parser.finish(), 'head');
    assert.equal(parse(resp('Transfer-Encoding: chunked\r\n', 'zz\r\n')).r.parser.finish(), 'body');
  });
});

describe('the parser across responses and failures', () => {
  test('expect() resets it for the next response on the connection', () => {
    const r = new Recorder();
    r.parser.expect(false);
    assert.equal(r.feed(resp('Transfer-Encoding: chunked\r\n', '2\r\nab\r\n0\r\n\r\n')), undefined);
    r.parser.expect(true);
    assert.equal(r.parser.started, false);
    assert.equal(r.feed(resp('Content-Length: 9\r\n')), undefined);
    r.parser.expect(false);
    assert.equal(r.feed('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\ncd'), undefined);
    assert.deepEqual(
      r.heads.map((h) => [h.status, h.framing, h.versionMinor]),
      [
        [200, 'chunked', 1],
        [200, 'none', 1],
        [200, 'length', 0],
      ],
    );
    assert.equal(r.body, 'abcd');
    assert.equal(r.completions.length, 3);
  });

  test('expect() mid-head discards the partial head', () => {
    const r = new Recorder();
    r.parser.expect(false);
    r.feed('HTTP/1.1 200 OK\r\nX-Partial: ');
    r.parser.expect(false);
    assert.equal(r.feed('HTTP/1.1 204 No Content\r\n\r\n'), undefined);
    assert.deepEqual(r.head.headers, []);
  });

  test('after a failure the parser is dead until expect()', () => {
    const r = new Recorder();
    r.parser.expect(false);
    const failure = r.feed('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n');
    assert.equal(failure?.type, 'http_protocol_error');
    assert.equal(r.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), failure);
    assert.equal(r.events.length, 0);
    r.parser.expect(false);
    assert.equal(r.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), undefined);
    assert.equal(r.completions.length, 1);
  });

  test('a callback that calls expect() stops the current execute() cleanly', () => {
    const r = new Recorder();
    r.parser.expect(false);
    r.onEvent = (e) => {
      if (e.type === 'complete') r.parser.expect(false);
    };
    const input = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n';
    assert.equal(r.feed(input), undefined);
    assert.equal(r.parser.leftover, 'HTTP/1.1 204 No Content\r\n\r\n'.length);
    assert.equal(r.completions.length, 1);
    assert.equal(r.parser.started, false);
    // The parser is ready for the next response.
    r.onEvent = undefined;
    assert.equal(r.feed('HTTP/1.1 204 No Content\r\n\r\n'), undefined);
    assert.deepEqual(
      r.heads.map((h) => h.status),
      [200, 204],
    );
  });

  test('expect() from onHead stops the current response there (no body, no completion)', () => {
    const r = new Recorder();
    r.parser.expect(false);
    r.onEvent = (e) => {
      if (e.type === 'head') r.parser.expect(false);
    };
    assert.equal(r.feed('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), undefined);
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['head'],
    );
  });

  test('finish() from onBody ends a close-delimited body without corrupting state', () => {
    const r = new Recorder();
    r.parser.expect(false);
    r.onEvent = (e) => {
      if (e.type === 'body') assert.equal(r.parser.finish(), 'complete');
    };
    assert.equal(r.feed('HTTP/1.1 200 OK\r\n\r\nabc'), undefined);
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['head', 'body', 'complete'],
    );
    assert.equal(r.feed('more'), undefined);
    assert.equal(r.parser.leftover, 4);
  });

  test('execute() from a callback: the inner call runs, the outer one stops where it was', () => {
    const r = new Recorder();
    r.parser.expect(false);
    let nested = false;
    r.onEvent = (e) => {
      if (e.type === 'body' && !nested) {
        nested = true;
        assert.equal(r.parser.execute(Buffer.from('def')), undefined);
      }
    };
    assert.equal(r.feed('HTTP/1.1 200 OK\r\n\r\nabc'), undefined);
    assert.equal(r.parser.finish(), 'complete');
    assert.equal(r.body, 'abcdef');
  });

  test('a handler that throws propagates the error (the caller turns it into an internal failure)', () => {
    const parser = new AnswerParser(
      {
        onHead: () => {
          throw new Error('boom');
        },
        onBody: () => {},
        onComplete: () => {},
      },
      1024,
    );
    parser.expect(false);
    assert.throws(() => parser.execute(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')), /boom/);
  });

  test('usable without a first expect() (as for a GET)', () => {
    const r = new Recorder();
    assert.equal(r.feed('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'), undefined);
    assert.equal(r.body, 'x');
  });
});
