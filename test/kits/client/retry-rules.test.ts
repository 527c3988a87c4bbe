/**
 * The client's reading of a failed attempt, no sockets: fetch's network errors classified by
 * the gateway's table (connect-phase codes never reached the upstream), and the rule that
 * decides from type, stage, method, key and body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFetchError, judgeAttempt } from '../../../src/kits/client/retry-rules.ts';

/** fetch's rejection: a TypeError whose cause is the socket's error. */
const fetchFailed = (code: string | undefined, message = 'boom') =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(message), code ? { code } : {}) });

test('fetch errors: connect-phase codes are not_sent, the rest may have reached the upstream', () => {
  const seen = (code: string | undefined) => {
    const failure = classifyFetchError(fetchFailed(code), 1);
    return [failure.type, failure.stage];
  };
  assert.deepEqual(seen('ECONNREFUSED'), ['connection_refused', 'not_sent']);
  assert.deepEqual(seen('ENOTFOUND'), ['dns_error', 'not_sent']);
  assert.deepEqual(seen('EHOSTUNREACH'), ['destination_ip_unroutable', 'not_sent']);
  assert.deepEqual(seen('UND_ERR_CONNECT_TIMEOUT'), ['connection_timeout', 'not_sent']);
  assert.deepEqual(seen('CERT_HAS_EXPIRED'), ['tls_certificate_error', 'not_sent']);
  assert.deepEqual(seen('ECONNRESET'), ['connection_terminated', 'sent']);
  assert.deepEqual(seen('UND_ERR_SOCKET'), ['connection_terminated', 'sent']);
  assert.deepEqual(seen('UND_ERR_HEADERS_TIMEOUT'), ['http_response_timeout', 'sent']);
  assert.deepEqual(seen(undefined), ['connection_terminated', 'sent']);
  // The same codes from an established connection's read or write (undici's cause is the socket's
  // error): the connection was made, and the request may have been delivered.
  const onSocket = (code: string, syscall: string) => {
    const cause = Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
    const failure = classifyFetchError(new TypeError('fetch failed', { cause }), 1);
    return [failure.type, failure.stage];
  };
  assert.deepEqual(onSocket('ECONNREFUSED', 'connect'), ['connection_refused', 'not_sent']);
  assert.deepEqual(onSocket('ETIMEDOUT', 'connect'), ['connection_timeout', 'not_sent']);
  assert.deepEqual(onSocket('ETIMEDOUT', 'read'), ['connection_terminated', 'sent']);
  assert.deepEqual(onSocket('EHOSTUNREACH', 'read'), ['connection_terminated', 'sent']);
  assert.deepEqual(onSocket('ENETUNREACH', 'write'), ['connection_terminated', 'sent']);
  const eyeballs = new TypeError('fetch failed', {
    cause: new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]),
  });
  assert.equal(classifyFetchError(eyeballs, 1).type, 'connection_refused');
  // A name lookup's error is the lookup's, whatever its code (getaddrinfo's EAI_SYSTEM comes with
  // errno's name, EBUSY): nothing was sent, never a connection lost "before the response head".
  const lookup = Object.assign(new Error('getaddrinfo EBUSY api.internal'), {
    code: 'EBUSY',
    syscall: 'getaddrinfo',
  });
  const failure = classifyFetchError(new TypeError('fetch failed', { cause: lookup }), 1);
  assert.deepEqual(
    [failure.type, failure.stage, failure.details],
    ['dns_error', 'not_sent', 'name lookup failed (EBUSY) after 1.0 ms'],
  );
});

test('judge: type, stage, method, key and body', () => {
  const facts = { method: 'POST', idempotencyKey: false, replayable: true };
  const sent = { status: 504, type: 'http_response_timeout', stage: 'sent' } as const;
  assert.deepEqual(judgeAttempt(sent, facts), { retry: false, reason: 'not_idempotent' });
  assert.deepEqual(judgeAttempt(sent, { ...facts, idempotencyKey: true }), {
    retry: true,
    reason: 'idempotency_key',
  });
  assert.deepEqual(judgeAttempt(sent, { ...facts, method: 'DELETE' }), { retry: true, reason: 'idempotent' });
  assert.deepEqual(judgeAttempt(sent, { ...facts, method: 'GET', replayable: false }), {
    retry: false,
    reason: 'body_not_replayable',
  });
  const refused = { status: 502, type: 'connection_refused', stage: 'not_sent' } as const;
  assert.deepEqual(judgeAttempt(refused, facts), { retry: true, reason: 'not_sent' });
  const garbage = { status: 502, type: 'http_protocol_error', stage: 'head_received' } as const;
  assert.deepEqual(judgeAttempt(garbage, { ...facts, method: 'GET' }), {
    retry: false,
    reason: 'not_retryable',
  });
  assert.deepEqual(
    judgeAttempt({ status: 501, type: undefined, stage: 'sent' }, { ...facts, method: 'GET' }),
    {
      retry: false,
      reason: 'not_retryable',
    },
  );
});
