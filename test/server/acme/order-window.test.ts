/**
 * The time an order may take (its deadline, and a fleet's lock on it): five minutes, and with
 * DNS-01 each authorization's wait for its record to be seen (acme.dns01.propagation_timeout)
 * on top. Those waits run one after the other before the CA is asked: a wildcard and its apex
 * at the default two minutes each took four of a fixed five, so an order whose records were
 * seen could fail `candor:timeout`, its fleet lock lapsing under it. (The order itself against
 * a real CA and DNS server: dns01.test.ts; this is the sum, which a test of the real waits would
 * need more than five minutes to show.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderWindowMs } from '../../../src/server/acme/acme-order.ts';

test('without DNS-01 an order has five minutes', () => {
  assert.equal(orderWindowMs(2, undefined), 300_000);
});

test("with DNS-01, each name's propagation wait comes on top of the five minutes", () => {
  // *.example.test and example.test, propagation_timeout 2m (the default).
  assert.equal(orderWindowMs(2, 120_000), 300_000 + 240_000);
  assert.equal(orderWindowMs(1, 10_000), 310_000);
});
