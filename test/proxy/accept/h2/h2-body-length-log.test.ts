/**
 * An HTTP/2 request body that breaks its own `content-length` (RFC 9113 §8.1.1: malformed) is
 * logged as the client's malformed request, whatever the route does with bodies and whenever the
 * bad DATA comes: never as a client that closed its connection (it did not: its connection serves
 * on), and never as a body that "ended short" of a length it went past.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { NGHTTP2_RESETS_STREAM_ERRORS } from '../../../../src/core/failure/h2-stream-end.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { settle } from '../downstream-fixture.ts';

test('a streamed body whose DATA ends short of its content-length, with its head in one read: the malformed request (http_request_error, status 0), not client_closed; the upstream gets no whole request', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  // request_buffering off and no retry: the upstream is asked at once, the body to stream after.
  const gw = await startTestGateway(
    `name: edge-1\nroutes: [{ upstream: app, request_buffering: false }]\nupstreams: { app: { retries: { attempts: 1 }, targets: [{ url: "${echo.url}" }] } }\n`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  t.after(() => session.destroy());
  const stream = session.request({
    ':method': 'POST',
    ':path': '/upload',
    'content-length': '10',
    'x-request-id': 'h2-streamed-short',
  });
  stream.on('error', () => {});
  stream.end('hello'); // 5 bytes and END_STREAM, with the HEADERS: one read at the gateway
  await new Promise((resolve) => stream.on('close', resolve));
  assert.equal(stream.rstCode, http2.constants.NGHTTP2_PROTOCOL_ERROR);
  const line = await gw.logFor('h2-streamed-short');
  assert.equal(line.error, 'http_request_error', 'the client sent a malformed request; it closed nothing');
  assert.equal(line.status, 0, 'what the client got: a reset, no status line');
  assert.equal(line.client_aborted, false);
  assert.match(String(line.details), /short of its content-length of 10/);
  // Its connection serves on: the client did not leave.
  const next = session.request({ ':path': '/after' });
  next.resume();
  const [status] = await Promise.all([
    new Promise((resolve) => next.on('response', (h) => resolve(h[':status']))),
    new Promise((resolve) => next.on('close', resolve)),
  ]);
  assert.equal(status, 200);
  await settle();
  assert.equal(
    echo.received.filter((r) => r.path === '/upload' && r.bodyComplete).length,
    0,
    'no whole-looking upload reached the upstream',
  );
});

test('DATA past its content-length on a stream whose head came in an earlier read: never logged as a body that ended short of it', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  const gw = await startTestGateway(
    `name: edge-1\nroutes: [{ upstream: app }]\nupstreams: { app: { targets: [{ url: "${echo.url}" }] } }\n`,
    {},
    'http2: true',
  );
  t.after(() => gw.close());
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  t.after(() => session.destroy());
  // A first request: the session's SETTINGS are exchanged, and the next HEADERS reach the
  // gateway apart from the DATA written after them.
  const first = session.request({ ':path': '/first' });
  first.resume();
  await new Promise((resolve) => first.on('close', resolve));
  const stream = session.request(
    { ':method': 'POST', ':path': '/long', 'content-length': '3', 'x-request-id': 'h2-past-first-frame' },
    { endStream: false },
  );
  stream.on('error', () => {});
  await new Promise((resolve) => setImmediate(resolve));
  stream.write('hello'); // one DATA frame of 5 bytes, past the 3 announced
  stream.end();
  await new Promise((resolve) => stream.on('close', resolve));
  const line = await gw.logFor('h2-past-first-frame');
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.status, 0);
  assert.doesNotMatch(
    String(line.details),
    /its DATA ended after \d+ bytes, short of/,
    'it went past its length',
  );
  if (!NGHTTP2_RESETS_STREAM_ERRORS)
    assert.match(String(line.details), /DATA past its stream's content-length/);
  await settle();
  assert.equal(echo.received.filter((r) => r.path === '/long').length, 0, 'nothing reached the upstream');
});
