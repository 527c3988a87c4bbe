import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigFile } from '../../../src/core/config/load.ts';

const DEMO = join(import.meta.dirname, '../../../src/server/demo/demo.yaml');

test('the demo config validates with no environment set, on ports 9101..9115', async () => {
  const config = await loadConfigFile(DEMO, {});
  assert.equal(config.name, 'candor-demo');
  assert.deepEqual(
    config.listen.map((listener) => listener.address),
    ['127.0.0.1:8080'],
  );
  assert.deepEqual(
    config.routes.map((route) => [route.path, route.upstream, route.stripPrefix]),
    [
      ['/healthy', 'healthy', true],
      ['/compressed', 'healthy', true],
      ['/refused', 'refused', true],
      ['/slow', 'slow', true],
      ['/reset', 'reset', true],
      ['/garbage', 'garbage', true],
      ['/badheader', 'badheader', true],
      ['/truncated', 'truncated', true],
      ['/unresolvable', 'unresolvable', true],
      ['/tls-mismatch', 'tls-mismatch', true],
      ['/pool', 'pool', true],
      ['/', 'healthy', false],
    ],
  );
  for (const upstream of Object.values(config.upstreams)) {
    for (const target of upstream.targets) {
      if (target.hostname === '127.0.0.1') assert.ok(target.port >= 9101 && target.port <= 9115, target.url);
    }
  }
  assert.equal(config.upstreams.slow.timeouts.response, 2_000);
  assert.equal(config.upstreams.unresolvable.targets[0].origin, 'http://candor-demo-nowhere.invalid:80');
  assert.equal(config.upstreams['tls-mismatch'].targets[0].origin, 'https://127.0.0.1:9101');
});

test('the demo ports follow the environment', async () => {
  const config = await loadConfigFile(DEMO, {
    CANDOR_PORT: '0',
    DEMO_HEALTHY_PORT: '39101',
    DEMO_SLOW_PORT: '39103',
  });
  assert.equal(config.listen[0].port, 0);
  assert.equal(config.upstreams.healthy.targets[0].port, 39101);
  assert.equal(config.upstreams['tls-mismatch'].targets[0].port, 39101);
  assert.equal(config.upstreams.slow.targets[0].port, 39103);
});
