/**
 * What a reload changes in an upstream it keeps (docs/operations.md, "Reload": a kept target
 * keeps its pool and health, with the new settings applied): a real gateway started with one
 * value, reloaded with another, the next request (or probe) meeting the new one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { h2Answer, startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { request } from '../../helpers/http-client.ts';
import { poolOf, singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

/** Polls `done` each few milliseconds (the test's own timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

test("pool.max_connections lowered by a reload bounds the kept target's requests in flight at once", async () => {
  const app = await startEcho();
  const yaml = (max: number) =>
    singleUpstream(app.url, { upstream: `    pool: { max_connections: ${max} }` });
  const gw = await startTestGateway(yaml(2));
  try {
    // Two requests at once open two connections, which stay idle in the kept pool.
    const both = await Promise.all([
      request(gw.url, { path: '/?delay=100' }),
      request(gw.url, { path: '/?delay=100' }),
    ]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
    );
    assert.equal(app.connections, 2);
    await until(() => poolOf(gw).stats().idle === 2);

    await reload(gw, yaml(1));
    const first = request(gw.url, { path: '/?delay=300' });
    const second = request(gw.url, { path: '/second' });
    await until(() => app.received.length >= 3);
    assert.deepEqual(poolOf(gw).stats(), { open: 1, idle: 0, waiting: 1 }, 'one at a time: the second waits');
    assert.deepEqual([(await first).status, (await second).status], [200, 200]);
    assert.deepEqual(
      app.received.map((r) => r.path).slice(2),
      ['/?delay=300', '/second'],
      'the second reached the target only after the first',
    );
  } finally {
    await gw.close();
    await app.close();
  }
});

test('timeouts.response and health_check.path changed by a reload govern the next request and probe', async () => {
  const app = await startEcho();
  const yaml = (response: string, path: string) =>
    singleUpstream(app.url, {
      upstream: `    timeouts: { response: ${response} }
    health_check: { path: ${path}, interval: 50ms }`,
    });
  const gw = await startTestGateway(yaml('5s', '/first-probe'));
  try {
    await until(() => app.received.some((r) => r.path === '/first-probe'));
    assert.equal((await request(gw.url, { path: '/?delay=300' })).status, 200);

    await reload(gw, yaml('100ms', '/second-probe'));
    const late = await request(gw.url, { path: '/?delay=300' });
    assert.equal(late.status, 504, 'the new response timeout');
    assert.match(String(late.headers['proxy-status']), /error=http_response_timeout/);
    await until(() => app.received.some((r) => r.path === '/second-probe'));
    const probed = app.received.filter((r) => r.path.endsWith('-probe')).map((r) => r.path);
    const switched = probed.indexOf('/second-probe');
    assert.ok(
      probed.slice(switched).every((p) => p === '/second-probe'),
      'after the first probe on the new path, none on the old',
    );
  } finally {
    await gw.close();
    await app.close();
  }
});

test('pool.max_connections lowered by a reload closes the h2c sessions past it', async () => {
  const app = await startH2(h2Answer);
  const yaml = (max: number) =>
    singleUpstream(app.url, {
      upstream: `    protocol: h2c\n    pool: { max_connections: ${max}, max_streams: 1 }`,
    });
  const gw = await startTestGateway(yaml(2));
  try {
    const both = await Promise.all([request(gw.url, { path: '/a' }), request(gw.url, { path: '/b' })]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
    );
    assert.equal(poolOf(gw).stats().open, 2, 'one session a stream: two sessions');

    await reload(gw, yaml(1));
    assert.equal(poolOf(gw).stats().open, 1, 'the session past the new bound closed');
    assert.equal((await request(gw.url, { path: '/c' })).status, 200);
    assert.equal(poolOf(gw).stats().open, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('retries.attempts, balancer and hash_key changed by a reload govern the next requests', async () => {
  const flaky = await startSwitchable();
  const good = await startEcho();
  flaky.setMode('reset');
  const yaml = (extra: string) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${flaky.url}" }, { url: "${good.url}" }]
${extra}
`;
  const gw = await startTestGateway(yaml('    retries: { attempts: 1 }'));
  const four = async (headers: Record<string, string> = {}) => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(gw.url, { path: `/${i}`, headers })).status);
    return statuses;
  };
  try {
    assert.deepEqual(await four(), [502, 200, 502, 200], 'round robin, no retry');

    await reload(gw, yaml('    retries: { attempts: 2 }'));
    assert.deepEqual(await four(), [200, 200, 200, 200], 'each reset retried on the other target');

    flaky.setMode('ok');
    await reload(gw, yaml('    retries: { attempts: 1 }\n    balancer: hash\n    hash_key: header:x-user'));
    const before = good.received.length;
    const flakyBefore = flaky.accepted.ok.length;
    assert.deepEqual(await four({ 'x-user': 'ann' }), [200, 200, 200, 200]);
    const onGood = good.received.length - before;
    assert.ok(
      onGood === 4 || (onGood === 0 && flaky.accepted.ok.length > flakyBefore),
      `one key, one target (good got ${onGood} of 4)`,
    );
  } finally {
    await gw.close();
    await flaky.close();
    await good.close();
  }
});
