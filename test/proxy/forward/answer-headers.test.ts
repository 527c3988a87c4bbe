/**
 * The downstream answer's fields from the upstream's (src/proxy/forward/answer-headers.ts):
 * each field passed on, dropped, or said again in this hop's own, in one list made to size.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDownstreamHead } from '../../../src/proxy/forward/answer-headers.ts';

test('hop-by-hop fields and the upstream X-Request-Id out; Via and the request id in, after the rest', () => {
  const raw = [
    'Server',
    'o',
    'Connection',
    'keep-alive',
    'Keep-Alive',
    'timeout=5',
    'X-Request-Id',
    'theirs',
  ];
  const head = buildDownstreamHead(raw, 'id-1', '1.1 edge', undefined, false);
  assert.deepEqual(head, ['Server', 'o', 'via', '1.1 edge', 'x-request-id', 'id-1']);
  assert.equal(head.length, 6);
});

test("the upstream's Via entries come before this hop's, in one field", () => {
  const raw = ['Via', '1.0 a', 'x', '1', 'VIA', '1.1 b'];
  assert.deepEqual(buildDownstreamHead(raw, 'id', '1.1 edge', undefined, false), [
    'x',
    '1',
    'via',
    '1.0 a, 1.1 b, 1.1 edge',
    'x-request-id',
    'id',
  ]);
});

test('fields a Connection names go, Via among them (dropped, not said again)', () => {
  const raw = ['Connection', 'close, X-Debug, via', 'x-debug', '1', 'Via', '1.0 a', 'y', '2'];
  const head = buildDownstreamHead(raw, 'id', '1.1 edge', undefined, false);
  assert.deepEqual(head, ['y', '2', 'via', '1.1 edge', 'x-request-id', 'id']);
  assert.equal(head.length, 6);
});

test('a Connection of one option beside one that names a field: that field goes, whatever the order', () => {
  for (const options of [
    ['Keep-Alive', 'x-debug'],
    ['x-debug', 'CLOSE'],
  ]) {
    const raw = ['Connection', options[0], 'X-Debug', '1', 'Connection', options[1], 'y', '2'];
    assert.deepEqual(buildDownstreamHead(raw, 'id', 'v', undefined, false), [
      'y',
      '2',
      'via',
      'v',
      'x-request-id',
      'id',
    ]);
  }
});

test("Proxy-Status: the upstream's list with this gateway's member after it, or its own alone", () => {
  const raw = ['Proxy-Status', 'up; error=x', 'a', '1'];
  assert.deepEqual(buildDownstreamHead(raw, 'id', 'v', 'edge; received-status=503', false), [
    'a',
    '1',
    'via',
    'v',
    'x-request-id',
    'id',
    'proxy-status',
    'up; error=x, edge; received-status=503',
  ]);
  assert.deepEqual(buildDownstreamHead(raw, 'id', 'v', undefined, false).slice(-2), [
    'proxy-status',
    'up; error=x',
  ]);
  assert.deepEqual(buildDownstreamHead(['a', '1'], 'id', 'v', 'edge', false).slice(-2), [
    'proxy-status',
    'edge',
  ]);
});

test('Trailer goes only to an answer that carries trailers', () => {
  const raw = ['Trailer', 'x-sum'];
  assert.deepEqual(buildDownstreamHead(raw, 'id', 'v', undefined, true).slice(0, 2), ['Trailer', 'x-sum']);
  assert.deepEqual(buildDownstreamHead(raw, 'id', 'v', undefined, false), ['via', 'v', 'x-request-id', 'id']);
});

test('a list longer than a parsed head can be (an HTTP/2 answer) is built whole', () => {
  const raw = Array.from({ length: 600 }, (_, i) =>
    i % 2 === 0 ? (i === 598 ? 'connection' : `x-${i}`) : 'v',
  );
  const head = buildDownstreamHead(raw, 'id', 'v', undefined, false);
  assert.equal(head.length, 598 + 4);
  assert.deepEqual(head.slice(-6), ['x-596', 'v', 'via', 'v', 'x-request-id', 'id']);
});
