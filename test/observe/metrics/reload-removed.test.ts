/**
 * A reload that removes a route and its upstream whole: their counters stay at the values they
 * had (a counter that went to 0 would be a reset to rate()), their gauges go; what the docs say
 * of it (observability.md, "Bounded labels").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { named, samples, sampleValue, scrape } from './scrape.ts';

const config = (a: string, b: string | undefined) => `name: edge-1
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:0
routes:
  - name: a
    match: { path: /a }
    upstream: ua
${
  b === undefined
    ? ''
    : `  - name: b
    match: { path: /b }
    upstream: ub
`
}upstreams:
  ua:
    targets:
      - url: ${a}
${b === undefined ? '' : `  ub:\n    targets:\n      - url: ${b}\n`}`;

test('a reload that removes a route and its upstream: their counters stay as they were, their gauges go', async () => {
  const [first, second] = [await startEcho(), await startEcho()];
  const gw = await startTestGateway(config(first.url, second.url).replace(/^listen:\n.*\n/m, ''));
  try {
    for (const path of ['/a', '/b', '/b']) assert.equal((await request(gw.url, { path })).status, 200);
    await gw.accessLine(3);
    await gw.gateway.reload(parseConfig(config(first.url, undefined), '<reload>'));
    assert.equal((await request(gw.url, { path: '/a' })).status, 200);
    await gw.accessLine(4);
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const answered = (route: string) =>
      sampleValue(all, 'candor_responses_total', { route, code: '200', origin: 'upstream', error_type: '' });
    assert.deepEqual([answered('a'), answered('b')], [2, 2]);
    const target = new URL(second.url).origin;
    assert.equal(
      sampleValue(all, 'candor_upstream_attempts_total', {
        upstream: 'ub',
        target,
        outcome: 'response',
        reused_connection: 'true',
      }),
      1,
      named(all, 'candor_upstream_attempts_total'),
    );
    for (const gauge of ['candor_retry_budget_remaining', 'candor_upstream_requests_in_flight'])
      assert.deepEqual(
        all.filter((s) => s.name === gauge).map((s) => s.labels.upstream),
        ['ua'],
        gauge,
      );
    assert.equal(sampleValue(all, 'candor_target_healthy', { upstream: 'ub', target }), undefined);
  } finally {
    await gw.close();
    await Promise.all([first.close(), second.close()]);
  }
});
