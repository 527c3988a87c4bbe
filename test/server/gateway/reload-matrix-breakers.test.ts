/**
 * What a reload changes in a kept upstream's breakers (docs/operations.md, "Reload": a kept
 * target keeps its ejection and its failures in a row, a kept upstream its circuit, "with the new
 * thresholds applied"): `circuit_breaker` and `outlier_detection` lowered while a target's
 * failures are counted, the next failure judged by the new threshold on the count carried.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

/** One route to one target that answers every request with an SSH banner (a gateway failure, 502). */
const config = (url: string, breakers: string) => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${url}" }]
    retries: { attempts: 1 }
${breakers}`;

const statuses = async (gw: TestGateway, n: number) => {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) seen.push((await request(gw.url, { path: '/' })).status);
  return seen;
};

test('circuit_breaker.consecutive_failures lowered by a reload: the failures counted before it count toward the new threshold', async (t) => {
  const app = await startSshBanner();
  t.after(() => app.close());
  const before =
    '    circuit_breaker: { consecutive_failures: 10, open_time: 60s }\n    outlier_detection: { consecutive_failures: 0 }\n';
  const gw = await startTestGateway(config(app.url, before));
  t.after(() => gw.close());
  assert.deepEqual(await statuses(gw, 2), [502, 502]);

  await reload(gw, config(app.url, before.replace('consecutive_failures: 10', 'consecutive_failures: 3')));
  // The third in a row opens the circuit under the new threshold: the fourth fails fast.
  assert.deepEqual(await statuses(gw, 1), [502]);
  const fast = await request(gw.url, { path: '/' });
  assert.equal(fast.status, 503);
  assert.match(String(fast.headers['proxy-status']), /^edge-1; error=destination_unavailable; /);
  assert.ok(fast.headers['retry-after'] !== undefined);
  assert.equal(app.connections, 3, 'the open circuit sent nothing more to the target');
});

test('outlier_detection.consecutive_failures lowered by a reload: the kept target is ejected at the new threshold, its count carried', async (t) => {
  const bad = await startSshBanner();
  const good = await startEcho();
  t.after(() => Promise.all([bad.close(), good.close()]));
  // Taken in turn: the bad target gets every other request until it is ejected.
  const yaml = (failures: number) => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${bad.url}" }, { url: "${good.url}" }]
    balancer: round_robin
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: ${failures}, base_ejection_time: 60s }
`;
  const gw = await startTestGateway(yaml(10));
  t.after(() => gw.close());
  assert.deepEqual((await statuses(gw, 4)).sort(), [200, 200, 502, 502]);
  assert.equal(bad.connections, 2);

  await reload(gw, yaml(3));
  // Its third failure in a row ejects it under the new threshold; the rest go to the other.
  assert.deepEqual((await statuses(gw, 6)).sort(), [200, 200, 200, 200, 200, 502]);
  assert.equal(bad.connections, 3, 'the ejected target was sent nothing more');
});
