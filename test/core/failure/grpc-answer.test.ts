/**
 * The gRPC side of the failure contract: every failure type held to its gRPC status, and the
 * Trailers-Only answer the gateway gives a gRPC client, field by field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import {
  buildGrpcAnswer,
  grpcCutTrailers,
  grpcStatusOf,
  isGrpcContentType,
  percentDecodeGrpcMessage,
  percentEncodeGrpcMessage,
} from '../../../src/core/failure/grpc-answer.ts';
import { GRPC_CODES, grpcStatusText } from '../../../src/core/failure/grpc-codes.ts';
import {
  CLIENTS_DOING,
  FAILURE_TYPES,
  FAILURES,
  type FailureType,
} from '../../../src/core/failure/taxonomy.ts';

/** Written out in full: changing a mapping means changing this line, on purpose. */
const EXPECTED: Record<FailureType, number> = {
  dns_error: 14,
  dns_timeout: 4,
  connection_refused: 14,
  destination_ip_unroutable: 14,
  connection_timeout: 4,
  tls_protocol_error: 14,
  tls_certificate_error: 14,
  tls_alert_received: 14,
  http_response_timeout: 4,
  connection_write_timeout: 4,
  connection_terminated: 14,
  http_response_incomplete: 14,
  connection_read_timeout: 4,
  http_protocol_error: 14,
  http_response_header_section_size: 14,
  http_response_trailer_section_size: 14,
  http_response_content_length: 14,
  http_response_transfer_coding: 14,
  destination_unavailable: 14,
  connection_limit_reached: 14,
  proxy_resources_exhausted: 14,
  proxy_internal_response: 14,
  only_if_cached: 14,
  http_request_denied: 8,
  destination_not_found: 12,
  proxy_loop_detected: 9,
  http_request_error: 13,
  misdirected_request: 2,
  client_closed: 1,
  client_deadline: 4,
  client_deadline_connecting: 4,
  client_header_list_size: 8,
  proxy_internal_error: 13,
};

describe('the gRPC status of each failure type', () => {
  test('every type of the taxonomy has its gRPC status, and no other', () => {
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...FAILURE_TYPES].sort());
    for (const type of FAILURE_TYPES) assert.equal(FAILURES[type].grpc, EXPECTED[type], type);
  });

  test('the issue’s rules: unreachable, reset and garbage are UNAVAILABLE, every timeout DEADLINE_EXCEEDED; the client’s own doings never UNAVAILABLE', () => {
    for (const type of FAILURE_TYPES) {
      const kind = FAILURES[type];
      // A client's own doing (it left, its deadline, its header list size: CLIENTS_DOING) is no
      // outage of the service, which UNAVAILABLE would have its gRPC client retry into: the
      // answer to an upstream's head larger than the client takes is gRPC's own status for
      // metadata past a limit, RESOURCE_EXHAUSTED (noticed, item 2).
      if (CLIENTS_DOING.has(type)) assert.notEqual(kind.grpc, 14, type);
      else if (type.includes('timeout')) assert.equal(kind.grpc, 4, type);
      else if (['unreachable', 'reset', 'garbage'].includes(kind.shape)) assert.equal(kind.grpc, 14, type);
    }
  });

  test('a body over the route’s limit is RESOURCE_EXHAUSTED, as gRPC answers an oversized message', () => {
    const tooLarge = new Failure('http_request_error', 'request body larger than 10 bytes', { status: 413 });
    assert.equal(grpcStatusOf(tooLarge), 8);
    assert.equal(grpcStatusOf(new Failure('http_request_error', 'bad', { status: 400 })), 13);
  });

  test('a method the route does not serve (405) or none implements (501) is UNIMPLEMENTED, not INTERNAL', () => {
    const notServed = new Failure('http_request_error', 'a static route answers GET and HEAD, not POST', {
      status: 405,
      allow: 'GET, HEAD',
    });
    assert.equal(grpcStatusOf(notServed), 12);
    assert.equal(
      grpcStatusOf(new Failure('http_request_error', 'method X is not implemented', { status: 501 })),
      12,
    );
  });

  test('a request body too slow for its deadline (408) is DEADLINE_EXCEEDED, as every timeout', () => {
    const slow = new Failure('http_request_error', 'the request body was still arriving', { status: 408 });
    assert.equal(grpcStatusOf(slow), 4);
  });
});

describe('the Trailers-Only answer', () => {
  test('a refused upstream: 200, grpc-status 14, the type, details and request id in grpc-message, Proxy-Status', () => {
    const failure = new Failure('connection_refused', 'connection refused (ECONNREFUSED) after 0.4 ms');
    const answer = buildGrpcAnswer(failure, { proxyName: 'edge-1', requestId: 'req-7', nextHop: 'orders' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.headers, [
      'content-type',
      'application/grpc',
      'grpc-status',
      '14',
      'grpc-message',
      'connection_refused: connection refused (ECONNREFUSED) after 0.4 ms (request id req-7)',
      'proxy-status',
      'edge-1; error=connection_refused; details="connection refused (ECONNREFUSED) after 0.4 ms"; next-hop="orders"',
      'cache-control',
      'no-store',
      'x-request-id',
      'req-7',
    ]);
  });

  test('a rate limit: RESOURCE_EXHAUSTED with Retry-After and gRPC’s own pushback in milliseconds', () => {
    const failure = new Failure('http_request_denied', 'over the rate limit', { retryAfter: 3 });
    const { headers } = buildGrpcAnswer(failure, { proxyName: 'edge-1', requestId: 'r', nextHop: undefined });
    const field = (name: string) => headers[headers.indexOf(name) + 1];
    assert.equal(field('grpc-status'), '8');
    assert.equal(field('retry-after'), '3');
    assert.equal(field('grpc-retry-pushback-ms'), '3000');
    assert.equal(field('proxy-status'), 'edge-1; error=http_request_denied; details="over the rate limit"');
  });

  test("a 401's challenge goes on its Trailers-Only answer too (RFC 9110 §15.5.2: a 401 carries WWW-Authenticate), beside UNAUTHENTICATED", () => {
    const failure = new Failure('http_request_denied', 'no credentials', {
      status: 401,
      final: true,
      challenge: 'Basic realm="rpc", charset="UTF-8"',
    });
    const { headers } = buildGrpcAnswer(failure, { proxyName: 'g', requestId: 'r', nextHop: undefined });
    const field = (name: string) => headers[headers.indexOf(name) + 1];
    assert.equal(field('grpc-status'), '16');
    assert.equal(field('www-authenticate'), 'Basic realm="rpc", charset="UTF-8"');
  });

  test('no route is UNIMPLEMENTED, a timeout DEADLINE_EXCEEDED, no healthy target UNAVAILABLE', () => {
    const statusOf = (failure: Failure) => {
      const { headers } = buildGrpcAnswer(failure, { proxyName: 'g', requestId: 'r', nextHop: undefined });
      return headers[headers.indexOf('grpc-status') + 1];
    };
    assert.equal(statusOf(new Failure('destination_not_found', 'no route for /pkg.Svc/Call')), '12');
    assert.equal(statusOf(new Failure('http_response_timeout', 'no response head after 2000 ms')), '4');
    assert.equal(statusOf(new Failure('destination_unavailable', 'every target ejected')), '14');
  });
});

describe('the trailers of an answer cut after its head', () => {
  const cut = new Failure('http_response_incomplete', 'response body cut short: connection reset');

  test("its status, message and the gateway's Proxy-Status: nothing a head says (no content-type, no cache-control)", () => {
    assert.deepEqual(grpcCutTrailers(cut, { proxyName: 'edge-1', requestId: 'req-8', nextHop: 'orders' }), [
      'grpc-status',
      '14',
      'grpc-message',
      'http_response_incomplete: response body cut short: connection reset (request id req-8)',
      'proxy-status',
      'edge-1; error=http_response_incomplete; details="response body cut short: connection reset"; next-hop="orders"',
    ]);
  });

  test('errors.detail minimal: no details and no next hop, in grpc-message or Proxy-Status', () => {
    const facts = { proxyName: 'edge-1', requestId: 'req-9', nextHop: undefined, minimal: true };
    assert.deepEqual(grpcCutTrailers(cut, facts), [
      'grpc-status',
      '14',
      'grpc-message',
      'http_response_incomplete (request id req-9)',
      'proxy-status',
      'edge-1; error=http_response_incomplete',
    ]);
  });
});

describe('grpc-message percent-encoding (PROTOCOL-HTTP2.md)', () => {
  test('printable ASCII passes, % and everything outside 0x20-0x7E is %XX of its UTF-8 bytes', () => {
    assert.equal(percentEncodeGrpcMessage('plain text: ok ~'), 'plain text: ok ~');
    assert.equal(percentEncodeGrpcMessage('100% done'), '100%25 done');
    assert.equal(percentEncodeGrpcMessage('a\r\nb\t'), 'a%0D%0Ab%09');
    assert.equal(percentEncodeGrpcMessage('über 😀'), '%C3%BCber %F0%9F%98%80');
  });

  test('decoding gives the text back, and leaves an invalid escape as sent', () => {
    for (const text of ['100% done', 'über 😀\n', 'details="x"; next-hop']) {
      assert.equal(percentDecodeGrpcMessage(percentEncodeGrpcMessage(text)), text);
    }
    assert.equal(percentDecodeGrpcMessage('50%zz'), '50%zz');
  });
});

describe('which requests speak gRPC', () => {
  test('application/grpc with or without a format or parameters; not gRPC-Web, not JSON', () => {
    for (const yes of [
      'application/grpc',
      'application/grpc+proto',
      'Application/GRPC; charset=x',
      'application/grpc+json',
    ])
      assert.equal(isGrpcContentType(yes), true, yes);
    for (const no of [
      undefined,
      '',
      'application/grpc-web',
      'application/grpc-web+proto',
      'application/grpcx',
      'application/json',
    ])
      assert.equal(isGrpcContentType(no), false, String(no));
  });
});

test('every gRPC code a gateway-made failure carries is named as gRPC names it, in the one table explain shows', () => {
  for (const [name, code] of Object.entries(GRPC_CODES))
    assert.equal(grpcStatusText(code), `${code} ${name}`);
  assert.equal(grpcStatusText(16), '16 UNAUTHENTICATED');
  assert.equal(grpcStatusText(42), '42');
});

test('an access refusal is UNAUTHENTICATED (401) or PERMISSION_DENIED (403), a rate limit stays RESOURCE_EXHAUSTED', () => {
  const denied = (status: number) =>
    grpcStatusOf(new Failure('http_request_denied', 'refused', { status, final: true }));
  assert.equal(denied(401), GRPC_CODES.UNAUTHENTICATED);
  assert.equal(denied(403), GRPC_CODES.PERMISSION_DENIED);
  assert.equal(
    grpcStatusOf(new Failure('http_request_denied', 'over the rate', { retryAfter: 2 })),
    GRPC_CODES.RESOURCE_EXHAUSTED,
  );
  const final = new Failure('http_request_denied', 'refused', {
    status: 403,
    final: true,
    challenge: 'Bearer',
  });
  assert.equal(final.clientMayRetry, false);
  assert.equal(final.at('sent').clientMayRetry, false, 'a later stage keeps it final');
  assert.equal(final.at('sent').challenge, 'Bearer');
  assert.equal(new Failure('http_request_denied', 'over the rate').clientMayRetry, true);
});
