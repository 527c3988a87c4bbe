import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterTrailers } from '../../../src/proxy/forward/trailer-fields.ts';

test('framing, routing, authentication, response-control and content-format fields are dropped (RFC 9110 §6.5.1)', () => {
  const dropped = [
    'Content-Length',
    'transfer-encoding',
    'Trailer',
    'Host',
    'Set-Cookie',
    'cookie',
    'Authorization',
    'WWW-Authenticate',
    'Cache-Control',
    'Expires',
    'Location',
    'Content-Type',
    'Content-Encoding',
    'Content-Range',
    'Range',
    'If-None-Match',
  ];
  const raw = dropped.flatMap((name) => [name, 'x']);
  assert.deepEqual(filterTrailers(raw), []);
});

test('hop-by-hop fields are dropped', () => {
  assert.deepEqual(
    filterTrailers(['Connection', 'close', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Upgrade', 'h2c']),
    [],
  );
});

test('other fields pass in order, with their case and repeated ones kept', () => {
  const raw = [
    'Server-Timing',
    'db;dur=53',
    'grpc-status',
    '0',
    'Content-Length',
    '99',
    'X-Checksum',
    'abc',
    'server-timing',
    'app;dur=2',
    'Authentication-Info',
    'nextnonce="x"',
  ];
  assert.deepEqual(filterTrailers(raw), [
    'Server-Timing',
    'db;dur=53',
    'grpc-status',
    '0',
    'X-Checksum',
    'abc',
    'server-timing',
    'app;dur=2',
    'Authentication-Info',
    'nextnonce="x"',
  ]);
});

test('the input is not changed; an empty section stays empty', () => {
  const raw = Object.freeze(['Host', 'evil', 'X-A', '1']);
  assert.deepEqual(filterTrailers(raw), ['X-A', '1']);
  assert.deepEqual(filterTrailers([]), []);
});

test("the fields the head's Connection names are dropped from the trailers too, in any case (RFC 9110 §7.6.1)", () => {
  const head = ['Connection', 'keep-alive', 'connection', 'X-Hop, close', 'Transfer-Encoding', 'chunked'];
  assert.deepEqual(filterTrailers(['x-hop', '1', 'X-HOP', '2', 'X-Keep', '3'], head), ['X-Keep', '3']);
  assert.deepEqual(filterTrailers(['x-hop', '1'], ['X-Hop', 'a']), ['x-hop', '1']);
});
