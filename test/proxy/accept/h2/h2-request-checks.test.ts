/**
 * HTTP/2 refuses what HTTP/1.1 refuses (issue 31, item 7): a real gateway with `http2: true`
 * in front of an echo upstream, asked over h2c by node:http2's client (which can send each of
 * these) and by raw frames, and over HTTP/1.1 for the same request where one exists. Each
 * refusal is the same answer over both protocols (status, Proxy-Status, one log line) and
 * nothing reaches the upstream. What nghttp2 drops before any JS sees it is pinned too, as the
 * README says: the field never reaches the upstream.
 */
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { NGHTTP2_RESETS_STREAM_ERRORS } from '../../../../src/core/failure/h2-stream-end.ts';
import type { Fault } from '../../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { exchange, parseRaw, settle } from '../downstream-fixture.ts';
import { ask } from './h2-ask.ts';
import { ERROR, FRAME, frame, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

const detailsOf = (proxyStatus: unknown): string =>
  (/details="((?:[^"\\]|\\.)*)"/.exec(String(proxyStatus))?.[1] ?? '').replace(/\\(.)/g, '$1');

describe('HTTP/2 refuses what HTTP/1.1 refuses, with the same answer, and nothing reaches the upstream', () => {
  let echo: Fault;
  let gw: TestGateway;
  let session: ClientHttp2Session;
  before(async () => {
    echo = await startEcho();
    gw = await startTestGateway(
      `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
      {},
      'http2: true',
    );
    session = http2.connect(gw.url);
    session.on('error', () => {});
  });
  after(async () => {
    session.destroy();
    await gw.close();
    await echo.close();
  });

  interface Case {
    readonly name: string;
    readonly fields: http2.OutgoingHttpHeaders;
    readonly status: number;
    readonly details: RegExp;
    /** The same request over HTTP/1.1 (latin1), answered the same. */
    readonly http1?: string;
  }

  const CASES: Case[] = [
    {
      name: 'an unknown method (FOOBAR) is a 501',
      fields: { ':method': 'FOOBAR', ':path': '/' },
      status: 501,
      details: /^method FOOBAR is not implemented$/,
      http1: 'FOOBAR / HTTP/1.1\r\nHost: a\r\n\r\n',
    },
    {
      name: 'a lower-case method (get) is a 501, not GET',
      fields: { ':method': 'get', ':path': '/' },
      status: 501,
      details: /^method get is not implemented$/,
      http1: 'get / HTTP/1.1\r\nHost: a\r\n\r\n',
    },
    {
      name: 'a :path with bytes a request line may not hold (/café\\xff) is a 400',
      fields: { ':path': '/caf\xc3\xa9\xff' },
      status: 400,
      details: /^malformed request \(HPE_INVALID_URL: invalid request target\)$/,
      http1: 'GET /caf\xc3\xa9\xff HTTP/1.1\r\nHost: a\r\n\r\n',
    },
    {
      // nghttp2 holds :path to the origin form only for http and https: any other :scheme let an
      // absolute-form :path through, whose authority (credentials, a bad port) became Host upstream.
      name: 'a :scheme other than http or https is a 400 (its absolute-form :path never becomes Host)',
      fields: { ':scheme': 'x-not-http', ':path': 'http://user:secret@internal.test:99999/z' },
      status: 400,
      details: /^malformed request \(:scheme "x-not-http" is not http or https\)$/,
    },
    {
      name: 'an :authority whose port is past 65535 is a 400, as a Host is',
      fields: { ':authority': 'internal.test:99999', ':path': '/' },
      status: 400,
      details: /^invalid Host header \(port out of range\)$/,
      http1: 'GET / HTTP/1.1\r\nHost: internal.test:99999\r\n\r\n',
    },
    {
      // RFC 9113 §8.2.1: malformed. nghttp2's own check would drop the field and let the request on.
      name: 'a field value with whitespace at its start is a 400 (RFC 9113 §8.2.1), not the field dropped',
      fields: { ':path': '/', 'x-lead': ' a' },
      status: 400,
      details:
        /^malformed request \(HPE_INVALID_HEADER_TOKEN: whitespace around the value of header "x-lead"\)$/,
    },
    {
      name: 'a field value with a tab at its end is a 400',
      fields: { ':path': '/', 'x-trail': 'a\t' },
      status: 400,
      details: /whitespace around the value of header "x-trail"/,
    },
    {
      // CONNECT has neither :scheme nor :path: it passes the HTTP/2 rules and gets the accept checks' 405.
      name: 'CONNECT (its target is :authority) is a 405, as over HTTP/1.1',
      fields: { ':method': 'CONNECT', ':authority': 'internal.test:443' },
      status: 405,
      details: /^CONNECT is not supported: this is a reverse proxy$/,
      http1: 'CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test:443\r\n\r\n',
    },
  ];

  for (const c of CASES) {
    test(c.name, async () => {
      const id = `h2-check-${CASES.indexOf(c)}`;
      const answer = await ask(session, { ...c.fields, 'x-request-id': id, accept: 'application/json' });
      assert.equal(answer.headers[':status'], c.status);
      assert.match(String(answer.headers['proxy-status']), /^edge-1; error=http_request_error; details="/);
      assert.match(detailsOf(answer.headers['proxy-status']), c.details);
      assert.equal(answer.headers['content-type'], 'application/problem+json');
      assert.equal(JSON.parse(answer.body).status, c.status);
      const line = await gw.logFor(id);
      assert.equal(line.status, c.status);
      assert.equal(line.error, 'http_request_error');
      assert.equal(line.protocol, 'HTTP/2');
      if (c.http1 !== undefined) {
        const raw = await exchange(gw.port, Buffer.from(c.http1, 'latin1'));
        const res = parseRaw(raw.raw);
        assert.equal(res.status, c.status, 'the same status over HTTP/1.1');
        assert.match(detailsOf(res.headers['proxy-status']), c.details, 'the same details over HTTP/1.1');
      }
      await settle();
      assert.equal(echo.received.length, 0, 'nothing reached the upstream');
    });
  }

  test('a body that ends short of its content-length: reset PROTOCOL_ERROR (RFC 9113 §8.1.1), logged as the malformed request it is (status 0: no status line went out), not as a client that left', async () => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/short',
      'content-length': '100',
      'x-request-id': 'h2-short-body',
    });
    stream.on('error', () => {});
    stream.end(Buffer.alloc(50, 'a'));
    await new Promise((resolve) => stream.on('close', resolve));
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const line = await gw.logFor('h2-short-body');
    assert.equal(line.status, 0, 'what the client got: a reset, no status line');
    assert.equal(line.error, 'http_request_error');
    assert.equal(
      line.details,
      NGHTTP2_RESETS_STREAM_ERRORS
        ? // nghttp2 before 1.67 (Node 22's) resets DATA past the length so too: it says which of the two it may be.
          "request body could not be read (its stream was reset PROTOCOL_ERROR after 50 bytes, short of its content-length of 100: malformed, its DATA ended short of it or went past it (RFC 9113 §8.1.1; this Node's nghttp2 resets the stream for either, and says not which))"
        : 'request body could not be read (its DATA ended after 50 bytes, short of its content-length of 100: malformed, the stream was reset PROTOCOL_ERROR (RFC 9113 §8.1.1))',
    );
    await settle();
    assert.equal(echo.received.length, 0, 'nothing reached the upstream');
  });

  test('a trailer section HTTP/2 forbids (a pseudo-field, a connection-specific field, an upper-case name, no END_STREAM): reset PROTOCOL_ERROR, logged as the malformed request it is (status 0: no status line went out), not as a client that left', async () => {
    // The details name each shape (RFC 9113 §8.1, §8.2): a trailer section without END_STREAM or
    // with an upper-case name was logged as "a pseudo-field or a connection-specific field".
    for (const [name, trailer, endStream, named] of [
      ['pseudo', [':path', '/elsewhere'], true, /a pseudo-field/],
      ['connection', ['connection', 'close'], true, /a connection-specific field/],
      ['upper', ['X-Sum', '1'], true, /an upper-case name/],
      ['no-end-stream', ['x-sum', '1'], false, /without END_STREAM/],
    ] as [string, [string, string], boolean, RegExp][]) {
      const raw = await RawH2Client.connect(gw.port);
      try {
        const id = `h2-bad-trailer-${name}`;
        raw.send(
          headers(1, headerBlock(requestFields('/upload', 'POST', [['x-request-id', id]])), {
            endStream: false,
          }),
        );
        raw.send(frame(FRAME.DATA, 0, 1, Buffer.from('abc')));
        raw.send(headers(1, headerBlock([trailer]), { endStream }));
        const reset = await raw.waitFor((f) => f.streamId === 1 && f.type === FRAME.RST_STREAM);
        assert.equal(reset.payload.readUInt32BE(0), ERROR.PROTOCOL_ERROR);
        const line = await gw.logFor(id);
        assert.equal(line.status, 0, `${name}: what the client got, a reset and no status line`);
        assert.equal(line.error, 'http_request_error');
        assert.match(
          String(line.details),
          /^request body could not be read \(its stream was reset PROTOCOL_ERROR after 3 bytes of its body: malformed/,
        );
        assert.match(String(line.details), named, `${name}: the details name it`);
      } finally {
        raw.close();
      }
    }
    await settle();
    assert.equal(echo.received.length, 0, 'nothing reached the upstream');
  });

  test('raw frames: :scheme x-not-http with an absolute-form :path gets a HEADERS answer (logged 400), the upstream nothing', async () => {
    const raw = await RawH2Client.connect(gw.port);
    try {
      raw.send(
        headers(
          1,
          headerBlock([
            [':method', 'GET'],
            [':scheme', 'x-not-http'],
            [':authority', 'a.test'],
            [':path', 'http://user:secret@internal.test:99999/z'],
            ['x-request-id', 'raw-scheme'],
          ]),
        ),
      );
      const answer = await raw.waitFor(
        (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
      );
      assert.equal(answer.type, FRAME.HEADERS);
      // HPACK static table entry 12 is `:status: 400`, sent indexed (RFC 7541 Appendix A).
      assert.equal(answer.payload[0], 0x80 | 12);
      const line = await gw.logFor('raw-scheme');
      assert.equal(line.status, 400);
      assert.equal(line.protocol, 'HTTP/2');
      await settle();
      assert.equal(echo.received.length, 0, 'nothing reached the upstream');
    } finally {
      raw.close();
    }
  });
});

describe('what nghttp2 drops before node:http2 hands the fields over (README: what HTTP/2 refuses)', () => {
  test('a field whose name holds a colon, or whose value holds CR, LF or NUL, never reaches the upstream; the request does, without it', async () => {
    const echo = await startEcho();
    const gw = await startTestGateway(
      `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
      {},
      'http2: true',
    );
    const raw = await RawH2Client.connect(gw.port);
    try {
      const dropped: [string, string][] = [
        ['x:colon', 'v'],
        ['x-cr', 'a\rb'],
        ['x-lf', 'a\nb'],
        ['x-nul', 'a\0b'],
      ];
      let stream = 1;
      for (const field of dropped) {
        raw.send(
          headers(
            stream,
            headerBlock([
              [':method', 'GET'],
              [':scheme', 'http'],
              [':authority', 'a.test'],
              [':path', `/dropped/${stream}`],
              field,
            ]),
          ),
        );
        const answer = await raw.waitFor(
          (f) => f.streamId === stream && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
        );
        assert.equal(answer.type, FRAME.HEADERS, `${JSON.stringify(field)}: answered`);
        stream += 2;
      }
      await echo.waitForRequest(dropped.length);
      for (const [i, request] of echo.received.entries()) {
        const [name] = dropped[i];
        assert.equal(request.path, `/dropped/${1 + 2 * i}`);
        assert.equal(request.headers[name], undefined, `${name} was dropped before the gateway saw it`);
        assert.ok(
          !JSON.stringify(request.headers).match(/colon|a\\[rn0]b|a\\u0000b/),
          'no trace of it upstream',
        );
      }
    } finally {
      raw.close();
      await gw.close();
      await echo.close();
    }
  });
});

describe('a body past its content-length over HTTP/2', () => {
  for (const upstreamWaits of [false, true])
    test(`DATA past the content-length it announced: the request gets its one log line, http_request_error, status 0 (${upstreamWaits ? 'while its upstream is asked' : 'body read whole first'})`, async () => {
      // An upstream that answers only once the body is whole: the request is in flight when the overrun comes.
      const echo = await startEcho();
      const gw = await startTestGateway(
        `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
        {},
        'http2: true',
      );
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      let goaway: number | undefined;
      session.on('goaway', (code) => {
        goaway = code;
      });
      try {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/long',
          'content-length': '5',
          'x-request-id': 'h2-long-body',
        });
        stream.on('error', () => {});
        if (upstreamWaits) {
          stream.write(Buffer.alloc(5, 'a'));
          await new Promise((resolve) => setTimeout(resolve, 100));
          stream.end(Buffer.alloc(5, 'b'));
        } else stream.end(Buffer.alloc(10, 'a'));
        await new Promise((resolve) => stream.on('close', resolve));
        const line = await gw.logFor('h2-long-body');
        assert.equal(line.status, 0, 'nghttp2 closed the connection: the client got no status line');
        // The client's own breach, said as one (RFC 9113 §8.1.1): not node:http2's INTERNAL_ERROR.
        assert.equal(goaway, http2.constants.NGHTTP2_PROTOCOL_ERROR);
        assert.equal(line.error, 'http_request_error');
        assert.equal(line.protocol, 'HTTP/2');
        assert.equal(line.client, '127.0.0.1');
        assert.match(
          String(line.details),
          /its connection broke HTTP\/2 .* \(nghttp2: Protocol error; a frame HTTP\/2 forbids, such as DATA past its stream's content-length \(RFC 9113 §8\.1\.1\) or after its END_STREAM \(§5\.1\)\): the connection was closed/,
        );
        await settle();
        assert.equal(echo.received.length, 0, 'nothing reached the upstream');
        assert.equal(
          gw.logs.filter(
            (l) => l.msg === 'request' && (l.req_id === line.req_id || l.client_req_id === 'h2-long-body'),
          ).length,
          1,
          'exactly one line',
        );
      } finally {
        session.destroy();
        await gw.close();
        await echo.close();
      }
    });
});

// nghttp2 before 1.67 (Node 22's) resets the stream PROTOCOL_ERROR for DATA past its
// content-length, as for DATA short of it, the overrunning frame dropped: the details must not
// call a body that went past its length one that came short of it (Node 24's closes the connection).
describe('a body past its content-length over HTTP/2, on any Node the package runs on', () => {
  for (const split of [false, true])
    test(`DATA past the content-length (${split ? 'its length whole first, then more' : 'in one frame'}): a 400 of the client's whose details name DATA past it, never only a body short of it`, async () => {
      const echo = await startEcho();
      const gw = await startTestGateway(
        `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
        {},
        'http2: true',
      );
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      try {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/long',
          'content-length': '5',
          'x-request-id': 'h2-past-length',
        });
        stream.on('error', () => {});
        if (split) {
          stream.write(Buffer.alloc(5, 'a'));
          await new Promise((resolve) => setTimeout(resolve, 100));
          stream.end(Buffer.alloc(5, 'b'));
        } else stream.end(Buffer.alloc(10, 'a'));
        await new Promise((resolve) => stream.on('close', resolve));
        const line = await gw.logFor('h2-past-length');
        assert.equal(line.status, 0, 'nghttp2 reset the stream: the client got no status line');
        assert.equal(line.error, 'http_request_error');
        assert.match(String(line.details), /DATA[^;]* past/);
        assert.doesNotMatch(String(line.details), /its DATA ended after \d+ bytes, short of/);
        await settle();
        assert.equal(echo.received.length, 0, 'nothing reached the upstream');
      } finally {
        session.destroy();
        await gw.close();
        await echo.close();
      }
    });
});
