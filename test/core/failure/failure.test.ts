/** A Failure is a verdict about a peer: it carries no stack of Candor's own; its cause keeps its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';

test('a failure captures no stack frames, its cause keeps its own, and the stack limit is left as it was', () => {
  const limit = Error.stackTraceLimit;
  const cause = new Error('connect ECONNREFUSED');
  const failure = new Failure('connection_refused', 'connect ECONNREFUSED 127.0.0.1:1', { cause });
  assert.equal(failure.stack, 'Failure: connection_refused: connect ECONNREFUSED 127.0.0.1:1');
  assert.match(String(cause.stack), /\n\s+at /);
  assert.equal(failure.cause, cause);
  assert.equal(Error.stackTraceLimit, limit);
  assert.ok(failure instanceof Error);
});

test('spent(): an unprocessed failure (a TLS alert refusing the handshake) whose streamed body went out counts as sent', () => {
  const alert = new Failure('tls_alert_received', 'TLS alert certificate_required received after 1 ms', {
    unprocessed: true,
    params: { alertId: 116, alertMessage: 'certificate_required' },
  });
  // Unprocessed: it stays not_sent however far the bytes went...
  assert.equal(alert.at('sent').stage, 'not_sent');
  // ...unless a streamed body was taken from the client for it: that cannot go again.
  const spent = alert.spent('sent');
  assert.equal(spent.stage, 'sent');
  // Still not processed: the retry rule asks nothing of its method, only of its body.
  assert.equal(spent.unprocessed, true);
  assert.equal(spent.type, 'tls_alert_received');
  assert.deepEqual(spent.params, { alertId: 116, alertMessage: 'certificate_required' });
  // Every other fact goes with it: a final failure stays final, its next hop named.
  const named = new Failure('connection_terminated', 'GOAWAY before processing', {
    unprocessed: true,
    final: true,
    nextHop: 'auth:sso',
  }).spent('sent');
  assert.equal(named.clientMayRetry, false);
  assert.equal(named.nextHop, 'auth:sso');
  assert.equal(named.unprocessed, true);
  const plain = new Failure('connection_terminated', 'reset');
  assert.equal(plain.spent('sent').stage, 'sent');
});
