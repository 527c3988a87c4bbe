/**
 * candor/client over HTTP/2: Node's own fetch (its bundled undici) with `allowH2`, against a real
 * node:http2 server over TLS that resets streams or goes away. A stream refused with REFUSED_STREAM
 * was not processed (RFC 9113 §8.7: "the request can be safely retried"; the gateway's own HTTP/2
 * listener refuses streams so past its request rate, telling the client it may send them again):
 * a POST goes again. Any other reset before the head may follow processing: a POST goes once.
 * Either is a stream reset, told as one, and a GOAWAY as the server closing the connection: none
 * is a connection lost.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';

/**
 * An Agent of the undici that runs the global fetch, speaking HTTP/2 where ALPN offers it, and
 * trusting the fault kit's CA. undici keeps its global dispatcher under this symbol for other
 * copies of itself to find (its setGlobalDispatcher): the one way to reach Node's own without a
 * dependency (as body-faults.test.ts does).
 */
async function h2Dispatcher(ca: string): Promise<{ close(): Promise<void> }> {
  await fetch('data:,').then((res) => res.text()); // the global dispatcher is made at the first fetch
  const global = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')];
  const Agent = (global as { constructor: new (options: object) => { close(): Promise<void> } }).constructor;
  return new Agent({ allowH2: true, connect: { ca } });
}

/**
 * An HTTP/2 server over TLS: streams to `/refuse-first` are refused until one has been, then
 * answered; `/reset` streams are reset INTERNAL_ERROR, `/malformed` ones PROTOCOL_ERROR; at a
 * `/goaway` stream the server sends GOAWAY NO_ERROR naming that stream as the last it processes
 * (it would answer it: undici gives up on it first).
 */
async function startResettingServer() {
  const certificates = testCertificates();
  const seen: string[] = [];
  let refused = false;
  const server = http2.createSecureServer({
    cert: certificates.localhost.cert,
    key: certificates.localhost.key,
  });
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
    if (path === '/goaway') {
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
      return;
    }
    stream.respond({ ':status': 201 });
    stream.end('made\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dispatcher = await h2Dispatcher(certificates.ca);
  const api = (options: Parameters<typeof createFetch>[0] = {}) =>
    createFetch({
      fetch: (input, init) => fetch(input, { ...init, dispatcher } as RequestInit),
      backoff: { base: 10, cap: 10 },
      ...options,
    });
  return {
    seen,
    origin: `https://localhost:${(server.address() as AddressInfo).port}`,
    api,
    close: async () => {
      await dispatcher.close();
      server.close();
    },
  };
}

test('a POST whose stream the server refused (REFUSED_STREAM, not processed) goes again, and is answered', async () => {
  const server = await startResettingServer();
  try {
    const reports: AttemptReport[] = [];
    const api = server.api({ onAttemptFailed: (report) => reports.push(report) });
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
    const error = await server
      .api()(`${server.origin}/reset`, { method: 'POST', body: '{"sku":2}' })
      .then(
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
    const error = await server
      .api()(`${server.origin}/malformed`)
      .then(
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

test('a POST undici ended at a GOAWAY is told as the server closing the connection, not a connection lost: it may have been processed, and goes once', async () => {
  const server = await startResettingServer();
  try {
    const error = await server
      .api()(`${server.origin}/goaway`, { method: 'POST', body: '{"sku":3}' })
      .then(
        () => assert.fail('undici 7 gives up on a request in flight at a GOAWAY'),
        (err: unknown) => err,
      );
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.type, 'connection_terminated');
    assert.equal(error.attempts[0].reason, 'not_idempotent');
    assert.match(
      error.attempts[0].detail ?? '',
      /^the server closed the HTTP\/2 connection \(GOAWAY NO_ERROR\) before the response head/,
    );
    assert.doesNotMatch(error.message, /connection lost/);
    assert.deepEqual(server.seen, ['POST /goaway']);
  } finally {
    await server.close();
  }
});
