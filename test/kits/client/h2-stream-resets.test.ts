/**
 * candor/client over HTTP/2 (a `fetch` that speaks it: undici's with `allowH2`, or one of the
 * app's own), against a real node:http2 server that resets streams. A stream refused with
 * REFUSED_STREAM was not processed (RFC 9113 §8.7: "the request can be safely retried"; the
 * gateway's own HTTP/2 listener refuses streams so past its request rate, telling the client it
 * may send them again): a POST goes again. Any other reset before the head may follow processing:
 * a POST goes once. Either is a stream reset, told as one: its connection was not lost.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';

/**
 * A fetch on one node:http2 session, as a caller's own may be: its network failures are fetch's
 * (a TypeError "fetch failed" whose cause is the stream's error, as undici's HTTP/2 gives them).
 */
function h2Fetch(session: http2.ClientHttp2Session): typeof fetch {
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const stream = session.request({ ':method': init.method ?? 'GET', ':path': url.pathname });
      stream.once('response', (headers) => {
        const status = Number(headers[':status']);
        resolve(new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, { status }));
      });
      stream.once('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
      stream.end(typeof init.body === 'string' ? init.body : undefined);
    })) as typeof fetch;
}

/**
 * An h2c server whose streams to `/refuse-first` are refused until one has been, then answered;
 * `/reset` streams are reset INTERNAL_ERROR, `/malformed` ones PROTOCOL_ERROR.
 */
async function startResettingServer() {
  const seen: string[] = [];
  let refused = false;
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    seen.push(`${headers[':method']} ${path}`);
    if (path === '/refuse-first' && !refused) {
      refused = true;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (path === '/reset') {
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (path === '/malformed') {
      stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    stream.respond({ ':status': 201 });
    stream.end('made\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await once(session, 'connect');
  return {
    seen,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    session,
    close: async () => {
      session.close();
      server.close();
      await once(server, 'close');
    },
  };
}

test('a POST whose stream the server refused (REFUSED_STREAM, not processed) goes again, and is answered', async () => {
  const server = await startResettingServer();
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({
      fetch: h2Fetch(server.session),
      backoff: { base: 10, cap: 10 },
      onAttemptFailed: (report) => reports.push(report),
    });
    const res = await api(`${server.origin}/refuse-first`, { method: 'POST', body: '{"sku":1}' });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), 'made\n');
    assert.deepEqual(server.seen, ['POST /refuse-first', 'POST /refuse-first']);
    assert.deepEqual(
      reports.map((r) => [r.type, r.reason]),
      [['connection_terminated', 'not_sent']],
    );
    assert.match(
      reports[0].detail ?? '',
      /refused the stream \(REFUSED_STREAM\): it did not process the request/,
    );
  } finally {
    await server.close();
  }
});

test('a POST whose stream was reset otherwise before its head (INTERNAL_ERROR) may have been processed: it goes once, told as a stream reset', async () => {
  const server = await startResettingServer();
  try {
    const api = createFetch({ fetch: h2Fetch(server.session), backoff: { base: 10, cap: 10 } });
    const error = await api(`${server.origin}/reset`, { method: 'POST', body: '{"sku":2}' }).then(
      () => assert.fail('no answer came'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(error.type, 'connection_terminated');
    assert.deepEqual(server.seen, ['POST /reset']);
    assert.equal(error.attempts[0].reason, 'not_idempotent');
    assert.match(error.attempts[0].detail ?? '', /^stream reset \(INTERNAL_ERROR\) before the response head/);
    assert.doesNotMatch(error.message, /connection lost/);
  } finally {
    await server.close();
  }
});

test('a GET whose stream was reset PROTOCOL_ERROR before its head is an HTTP/2 protocol error, as the gateway calls it: not sent again to meet the same', async () => {
  const server = await startResettingServer();
  try {
    const api = createFetch({ fetch: h2Fetch(server.session), backoff: { base: 10, cap: 10 } });
    const error = await api(`${server.origin}/malformed`).then(
      () => assert.fail('no answer came'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.type, 'http_protocol_error');
    assert.equal(error.attempts[0].reason, 'not_retryable');
    assert.deepEqual(server.seen, ['GET /malformed']);
  } finally {
    await server.close();
  }
});
