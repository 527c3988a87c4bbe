/**
 * Acceptance cases over HTTP/2 (RFC 9113), from DESIGN.md's failure contract: an h2c upstream
 * that misframes its answer or resets its stream, and an HTTP/2 client whose body does not match
 * its content-length; gRPC clients get the gateway's failures as a Trailers-Only answer.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { NGHTTP2_RESETS_STREAM_ERRORS } from '../../src/core/failure/h2-stream-end.ts';
import { onlyLogLine } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

/** An h2c upstream whose answer for each path misbehaves as named; `seen` lists what reached it. */
async function h2cUpstream(): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    seen.push(`${headers[':method']} ${path}`);
    if (path === '/short') {
      stream.respond({ ':status': 200, 'content-length': '10' });
      stream.end('hello');
    } else if (path === '/long') {
      stream.respond({ ':status': 200, 'content-length': '2' });
      stream.end('hello');
    } else if (path === '/reset-mid-body') {
      stream.respond({ ':status': 200 });
      stream.write('part');
      setTimeout(() => stream.destroy(new Error('crash')), 20);
    } else if (path === '/refused') {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    } else if (path === '/hang') {
      // never answers
    } else {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('fine');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sessions still open would hold close() up.
        setImmediate(() => server.emit('close'));
      }),
  };
}

let upstream: Awaited<ReturnType<typeof h2cUpstream>>;
let gw: TestGateway;
let refusedPort: number;

before(async () => {
  upstream = await h2cUpstream();
  refusedPort = await freePort();
  gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: /grpc-down }
    upstream: down
  - match: { path: /streamed }
    upstream: app
    request_buffering: false
  - match: { path: / }
    upstream: app
upstreams:
  app:
    protocol: h2c
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    timeouts: { response: 300ms }
  down:
    targets:
      - url: http://127.0.0.1:${refusedPort}
    retries: { attempts: 1 }
`,
    {},
    'http2: true',
  );
});

after(() => closeAll(gw, upstream));

describe('an h2c upstream that misframes or resets', () => {
  test('DATA short of its content-length: the 200 is cut, logged http_response_incomplete', async () => {
    const res = await request(gw.url, { path: '/short' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.error, 'http_response_incomplete');
    assert.equal(line.shape, 'reset');
    assert.equal(line.stage, 'body_streaming');
  });

  test('DATA past its content-length (RFC 9113 §8.1.1, malformed): cut, logged http_protocol_error', async () => {
    const res = await request(gw.url, { path: '/long' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    assert.ok(res.body.length <= 2, 'never more than the length announced');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.error, 'http_protocol_error');
    assert.equal(line.shape, 'garbage');
  });

  test('RST_STREAM after the head: cut, never finished as if whole', async () => {
    const res = await request(gw.url, { path: '/reset-mid-body' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    assert.equal(res.text, 'part');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.error, 'http_response_incomplete');
    assert.match(String(line.details), /INTERNAL_ERROR/);
  });

  test('REFUSED_STREAM: 502 connection_terminated that says the request was not processed', async () => {
    const res = await request(gw.url, { path: '/refused', headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_terminated; details="[^"]*REFUSED_STREAM[^"]*did not process[^"]*"; next-hop="app"$/,
    );
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['retry-after'], undefined);
  });
});

describe('an HTTP/2 client', () => {
  /** One request on a session of its own; resolves to what came back, or the reset code. */
  function h2(
    headers: http2.OutgoingHttpHeaders,
    body: string | undefined,
  ): Promise<{ headers: http2.IncomingHttpHeaders | undefined; body: string; rstCode: number | undefined }> {
    return new Promise((resolve) => {
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      const stream = session.request(headers, { endStream: body === undefined });
      let head: http2.IncomingHttpHeaders | undefined;
      let text = '';
      stream.on('response', (h) => {
        head = h;
      });
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        const rstCode = stream.rstCode;
        session.close();
        resolve({ headers: head, body: text, rstCode });
      });
      if (body !== undefined) stream.end(body);
    });
  }

  test('a body short of its content-length is malformed (RFC 9113 §8.1.1): reset, nothing upstream, logged', async () => {
    const before = upstream.seen.length;
    const res = await h2({ ':method': 'POST', ':path': '/upload', 'content-length': '10' }, 'hello');
    assert.equal(res.headers, undefined, 'no answer: the stream was reset');
    assert.equal(res.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    assert.equal(upstream.seen.length, before, 'the malformed request was not forwarded');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = gw.logs.findLast((l) => l.msg === 'request' && l.path === '/upload');
    assert.ok(line, 'one log line for it');
    // On a new connection, the head, its DATA and its END_STREAM come in one read: nghttp2
    // resets the stream at once, which is no client leaving (a 499), but its malformed request.
    // No status line went out: the log's status is what the client got, none.
    assert.equal(line.status, 0);
    assert.equal(line.error, 'http_request_error');
    assert.equal(
      line.details,
      NGHTTP2_RESETS_STREAM_ERRORS
        ? // nghttp2 before 1.67 (Node 22's) resets DATA past the length so too: it says which of the two it may be.
          "request body could not be read (its stream was reset PROTOCOL_ERROR after 5 bytes, short of its content-length of 10: malformed, its DATA ended short of it or went past it (RFC 9113 §8.1.1; this Node's nghttp2 resets the stream for either, and says not which))"
        : 'request body could not be read (its DATA ended after 5 bytes, short of its content-length of 10: malformed, the stream was reset PROTOCOL_ERROR (RFC 9113 §8.1.1))',
    );
    assert.equal(line.client_aborted, false);
    assert.equal(line.attempts, 0);
  });

  test('the same short body sent in separate reads is logged as the first: status 0, what the client got', async () => {
    // Head, DATA and END_STREAM each in a read of its own: the session starts reading the body
    // before nghttp2 resets the stream, and its reader's 400 never went out either.
    const before = upstream.seen.length;
    const res = await new Promise<{
      head: http2.IncomingHttpHeaders | undefined;
      rstCode: number | undefined;
    }>((resolve) => {
      const session = http2.connect(gw.url);
      session.on('error', () => {});
      const stream = session.request(
        { ':method': 'POST', ':path': '/upload-slowly', 'content-length': '10' },
        { endStream: false },
      );
      let head: http2.IncomingHttpHeaders | undefined;
      stream.on('response', (h) => {
        head = h;
      });
      stream.on('error', () => {});
      stream.resume();
      stream.on('close', () => {
        const rstCode = stream.rstCode;
        session.close();
        resolve({ head, rstCode });
      });
      setTimeout(() => stream.write('hello'), 50);
      setTimeout(() => stream.end(), 100);
    });
    assert.equal(res.head, undefined, 'no answer: the stream was reset');
    assert.equal(res.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
    assert.equal(upstream.seen.length, before, 'the malformed request was not forwarded');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = gw.logs.filter((l) => l.msg === 'request' && l.path === '/upload-slowly');
    assert.equal(lines.length, 1, 'one log line for it');
    const [line] = lines;
    assert.equal(line.status, 0, 'no status line went out: the log says none, not the 400 nobody got');
    assert.equal(line.error, 'http_request_error');
    assert.match(String(line.details), /short of its content-length of 10/);
    assert.equal(line.client_aborted, false);
    assert.equal(line.attempts, 0);
  });

  test('a short body whose answer went whole before its END_STREAM: logged as the 200 the client got, no error', async () => {
    // The body streams (request_buffering: false) and the upstream answers without reading it;
    // the client's short END_STREAM comes after the whole answer.
    const res = await new Promise<{ head: http2.IncomingHttpHeaders | undefined; body: string }>(
      (resolve) => {
        const session = http2.connect(gw.url);
        session.on('error', () => {});
        const stream = session.request(
          {
            ':method': 'POST',
            ':path': '/streamed',
            'content-length': '10',
            'x-request-id': 'answered-first',
          },
          { endStream: false },
        );
        let head: http2.IncomingHttpHeaders | undefined;
        let body = '';
        stream.on('response', (h) => {
          head = h;
          // The answer is in: now the body, short of its length.
          stream.end('hello');
        });
        stream.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        stream.on('error', () => {});
        stream.on('close', () => {
          session.close();
          resolve({ head, body });
        });
      },
    );
    assert.equal(res.head?.[':status'], 200);
    assert.equal(res.body, 'fine');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = await gw.logFor('answered-first');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined, 'the client got its answer whole');
  });

  test('gRPC to an upstream that refuses: Trailers-Only, UNAVAILABLE, naming the type and the request id', async () => {
    const res = await h2(
      {
        ':method': 'POST',
        ':path': '/grpc-down/pkg.Svc/Call',
        'content-type': 'application/grpc',
        te: 'trailers',
      },
      '',
    );
    const head = res.headers as http2.IncomingHttpHeaders;
    assert.equal(head[':status'], 200);
    assert.equal(head['grpc-status'], '14');
    const id = String(head['x-request-id']);
    assert.match(String(head['grpc-message']), new RegExp(`^connection_refused: .*${id}`));
    assert.match(String(head['proxy-status']), /^edge-1; error=connection_refused; /);
    assert.equal(head['cache-control'], 'no-store');
    const line = await onlyLogLine(gw, id);
    assert.equal(line.grpc_status, 14);
    assert.equal(line.error, 'connection_refused');
  });

  test('gRPC to an upstream that never answers: DEADLINE_EXCEEDED, not UNAVAILABLE', async () => {
    const res = await h2(
      { ':method': 'POST', ':path': '/hang', 'content-type': 'application/grpc', te: 'trailers' },
      '',
    );
    const head = res.headers as http2.IncomingHttpHeaders;
    assert.equal(head[':status'], 200);
    assert.equal(head['grpc-status'], '4');
    assert.match(String(head['proxy-status']), /error=http_response_timeout/);
  });
});
