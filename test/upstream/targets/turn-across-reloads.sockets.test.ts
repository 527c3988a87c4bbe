/**
 * A reload (or a DNS answer, which rebuilds every upstream of the runtime as a reload does) keeps
 * the balancer's turn with the targets it keeps, as it keeps their pools and health: the smooth
 * round robin's credits, which `least_conn` shares idle targets by, lived in the balancer and
 * began at 0 in each new one, so the first request after every rebuild went to the first
 * target listed. A gateway reloaded between requests (a deploy pipeline's, a discovery answer
 * that changes on a rolling restart, another upstream's) sent them all there: 9 of 9 below.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const cases = [
  { balancer: 'round_robin', weights: [1, 1, 1], requests: 9, expect: [3, 3, 3] },
  { balancer: 'round_robin', weights: [3, 1], requests: 8, expect: [6, 2] },
  { balancer: 'least_conn', weights: [1, 1, 1], requests: 9, expect: [3, 3, 3] },
  { balancer: 'least_conn', weights: [3, 1], requests: 8, expect: [6, 2] },
];

for (const { balancer, weights, requests, expect } of cases)
  test(`${balancer} ${weights.join(':')}: a reload between each request keeps the turn (${expect.join('/')} of ${requests})`, async () => {
    const echoes = await Promise.all(weights.map(() => keep(startEcho())));
    const targets = echoes.map((e, i) => `{ url: "${e.url}", weight: ${weights[i]} }`).join(', ');
    const config = `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [${targets}]\n    balancer: ${balancer}\n`;
    const gw = await keep(startTestGateway(config));
    for (let i = 0; i < requests; i++) {
      assert.equal((await request(gw.url, { path: `/${i}` })).status, 200);
      await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config}`, '<test>', {}));
    }
    assert.deepEqual(
      echoes.map((e) => e.received.length),
      expect,
      'each rebuild began the turn again at the first target',
    );
  });
