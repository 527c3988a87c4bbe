/**
 * A health path may carry a query, as HAProxy's `option httpchk GET /_cluster/health?…`, nginx's
 * `health_check uri=` and Caddy's `health_uri` take one: Elasticsearch's cluster health
 * (`/_cluster/health?local=true`) and many readiness endpoints are asked so. The probe sends it
 * as written; a query that is no query (a space, a fragment, a broken escape) is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const upstreamWith = (path: string) => `listen: [{ address: "127.0.0.1:8080" }]
routes: [{ upstream: app }]
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:3001" }]
    health_check: { path: "${path}" }
`;

test('a health path with a query is probed as written', async () => {
  const paths: string[] = [];
  const upstream = await startRawFault(async (connection) => {
    const req = await readRequest(connection);
    paths.push(req.path);
    await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(`routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    health_check: { path: "/_cluster/health?local=true&timeout=1s", interval: 50ms, rise: 1, fall: 1 }
`);
  try {
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    await waitUntil('probed', () => target?.lastProbe !== undefined);
    assert.equal(paths[0], '/_cluster/health?local=true&timeout=1s');
    assert.equal(target?.lastProbe?.ok, true);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a health path whose query is no query is refused, naming the field', () => {
  for (const path of ['/health?a b', '/health?a#b', '/health?a=%zz', '/health?a=%4']) {
    assert.throws(
      () => parseConfig(upstreamWith(path), 'candor.yaml', {}),
      (err: Error & { problems?: { path: string; message: string }[] }) => {
        const problem = (err.problems ?? []).find((p) => p.path === 'upstreams.app.health_check.path');
        assert.ok(problem, `${path}: ${JSON.stringify(err.problems)}`);
        return true;
      },
      path,
    );
  }
  // The path before it is checked as before.
  assert.throws(() => parseConfig(upstreamWith('health?a=1'), 'candor.yaml', {}));
  assert.throws(() => parseConfig(upstreamWith('/a/../health?a=1'), 'candor.yaml', {}));
  const config = parseConfig(upstreamWith('/health/?full=1'), 'candor.yaml', {});
  assert.equal(config.upstreams.app.healthCheck?.path, '/health/?full=1');
});
