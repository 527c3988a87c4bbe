/**
 * `furthestStage`, what a client that knows only a failure's type must assume about how far the
 * request got: never "not sent" for a shape in which the upstream had the request, and never
 * nearer than a stage the gateway's own classification records for that type.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyConnectError, classifyExchangeError } from '../../../src/core/failure/classify.ts';
import { FAILURE_TYPES, FAILURES, type Stage } from '../../../src/core/failure/taxonomy.ts';

const ORDER: readonly Stage[] = ['not_sent', 'sent', 'head_received', 'body_streaming'];

test('unreachable shapes and the gateway’s own decisions never reached the upstream; the others may have', () => {
  for (const type of FAILURE_TYPES) {
    const { shape, furthestStage } = FAILURES[type];
    const notSent = shape === 'unreachable' || shape === 'gateway' || shape === 'client';
    assert.equal(furthestStage === 'not_sent', notSent, `${type} (${shape}): ${furthestStage}`);
  }
});

test('the stage the gateway records for a classified failure is never beyond the type’s furthest', () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });
  const seen = [
    ...[
      'ECONNREFUSED',
      'EHOSTUNREACH',
      'ETIMEDOUT',
      'CERT_HAS_EXPIRED',
      'ERR_SSL_WRONG_VERSION_NUMBER',
      'ECONNRESET',
    ].map((code) => classifyConnectError(errno(code), 'tcp', 1)),
    classifyConnectError(errno('ENOTFOUND'), 'dns', 1),
    ...(['not_sent', 'sent', 'head_received'] as const).map((stage) =>
      classifyExchangeError(errno('ECONNRESET'), stage, 1),
    ),
    // TLS 1.3: a server's alert refusing the handshake may come after the request was written.
    classifyExchangeError(errno('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'sent', 1),
    classifyExchangeError(errno('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'sent', 1).at('sent'),
  ];
  for (const failure of seen) {
    assert.ok(
      ORDER.indexOf(failure.stage) <= ORDER.indexOf(failure.kind.furthestStage),
      `${failure.type} recorded at ${failure.stage}, beyond ${failure.kind.furthestStage}`,
    );
  }
});
