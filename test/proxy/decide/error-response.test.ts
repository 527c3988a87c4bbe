/**
 * The decide phase's answer as data: the HTTP answer, and the Trailers-Only gRPC answer the
 * downstream HTTP/2 session will ask for with `grpc: true`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { buildErrorAnswer } from '../../../src/proxy/decide/error-answer.ts';

const facts = {
  proxyName: 'edge-1',
  requestId: 'req-1',
  accept: 'application/json',
  nextHop: 'orders',
  head: false,
  close: false,
} as const;

test('a gRPC request gets 200 with grpc-status and no body; the same failure over HTTP gets its 502', () => {
  const failure = new Failure('connection_refused', 'connection refused (ECONNREFUSED) after 1.0 ms');
  const grpc = buildErrorAnswer(failure, { ...facts, grpc: true });
  assert.equal(grpc.status, 200);
  assert.equal(grpc.body.body, '');
  const field = (name: string) => grpc.headers[grpc.headers.indexOf(name) + 1];
  assert.equal(field('content-type'), 'application/grpc');
  assert.equal(field('grpc-status'), '14');
  assert.equal(
    field('grpc-message'),
    'connection_refused: connection refused (ECONNREFUSED) after 1.0 ms (request id req-1)',
  );
  assert.match(
    field('proxy-status'),
    /^edge-1; error=connection_refused; details="[^"]+"; next-hop="orders"$/,
  );
  assert.equal(grpc.headers.includes('content-length'), false);

  const http = buildErrorAnswer(failure, facts);
  assert.equal(http.status, 502);
  assert.equal(http.body.contentType, 'application/problem+json');
});

test('a gRPC rate limit keeps its Retry-After and gets gRPC pushback', () => {
  const failure = new Failure('http_request_denied', 'over the rate limit', { retryAfter: 2 });
  const { status, headers } = buildErrorAnswer(failure, { ...facts, grpc: true });
  assert.equal(status, 200);
  assert.equal(headers[headers.indexOf('grpc-status') + 1], '8');
  assert.equal(headers[headers.indexOf('retry-after') + 1], '2');
  assert.equal(headers[headers.indexOf('grpc-retry-pushback-ms') + 1], '2000');
});
