/**
 * The ACME order metrics' bookkeeping between a failure and the next success (the end-to-end
 * path, a real CA failing and succeeding, is test/server/acme/automatic-https.test.ts): the
 * failure gauge shows the last error type only, and goes once an order succeeds; the CA's
 * error types stay a bounded label.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayMetrics } from '../../../src/observe/metrics/metrics.ts';
import { problemLabel } from '../../../src/server/acme/acme-problem.ts';
import { named, samples, sampleValue } from './scrape.ts';

async function scraped(metrics: GatewayMetrics) {
  return samples((await metrics.exposition()).text);
}

test('failed orders in a row show the last error type; a success takes the series away and counts ok', async () => {
  const metrics = new GatewayMetrics();
  metrics.acmeNames(['a.shop.test']);
  let all = await scraped(metrics);
  assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'a.shop.test', result: 'failed' }), 0);
  const failed = (errorType: string, failures: number) =>
    metrics.acmeOrdered({ name: 'a.shop.test', result: 'failed', errorType, failures });
  failed('urn:ietf:params:acme:error:connection', 1);
  failed('urn:ietf:params:acme:error:connection', 2);
  failed('urn:ietf:params:acme:error:rateLimited', 3);
  all = await scraped(metrics);
  assert.equal(
    named(all, 'candor_acme_order_failures'),
    'candor_acme_order_failures{"name":"a.shop.test","error_type":"urn:ietf:params:acme:error:rateLimited"} 3',
  );
  assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'a.shop.test', result: 'failed' }), 3);
  metrics.acmeOrdered({ name: 'a.shop.test', result: 'ok', errorType: '', failures: 0 });
  all = await scraped(metrics);
  assert.equal(named(all, 'candor_acme_order_failures'), '');
  assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'a.shop.test', result: 'ok' }), 1);
});

test('a name a reload no longer orders shows no failures', async () => {
  const metrics = new GatewayMetrics();
  metrics.acmeNames(['gone.shop.test', 'kept.shop.test']);
  for (const name of ['gone.shop.test', 'kept.shop.test'])
    metrics.acmeOrdered({ name, result: 'failed', errorType: 'urn:ietf:params:acme:error:dns', failures: 1 });
  metrics.acmeNames(['kept.shop.test']);
  const all = await scraped(metrics);
  assert.equal(
    named(all, 'candor_acme_order_failures'),
    'candor_acme_order_failures{"name":"kept.shop.test","error_type":"urn:ietf:params:acme:error:dns"} 1',
  );
});

test("a certificate taken from the fleet ends the failures without counting an order of this gateway's", async () => {
  const metrics = new GatewayMetrics();
  metrics.acmeNames(['b.shop.test']);
  metrics.acmeOrdered({ name: 'b.shop.test', result: 'failed', errorType: 'candor:fleet', failures: 1 });
  metrics.acmeOrdered({ name: 'b.shop.test', result: 'adopted', errorType: '', failures: 0 });
  const all = await scraped(metrics);
  assert.equal(named(all, 'candor_acme_order_failures'), '');
  assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'b.shop.test', result: 'ok' }), 0);
  assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'b.shop.test', result: 'failed' }), 1);
});

test("a CA's error type is a label only when it is ACME's registry's or Candor's own", () => {
  assert.equal(problemLabel('urn:ietf:params:acme:error:caa'), 'urn:ietf:params:acme:error:caa');
  assert.equal(problemLabel('candor:unreachable'), 'candor:unreachable');
  assert.equal(problemLabel('urn:ietf:params:acme:error:madeUp'), 'other');
  assert.equal(problemLabel('about:blank'), 'other');
  assert.equal(problemLabel(`urn:ietf:params:acme:error:${'x'.repeat(5000)}`), 'other');
});
