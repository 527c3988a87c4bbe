/**
 * A health probe the gateway's own machine could not make (its process out of file descriptors:
 * RLIMIT_NOFILE lowered with prlimit to the descriptors it holds, so the probe's connect fails
 * with a real EMFILE) asked the target nothing: it is no fall. Counted as one, a healthy target
 * went down ("target down", error proxy_resources_exhausted) and, once descriptors were back,
 * every request was the gateway's 503 `destination_unavailable` "1 failing health checks",
 * blaming the upstream, until `rise` probes passed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('a probe that meets EMFILE is no fall: the target stays in rotation and the next request reaches it', async (t) => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { connection: 'close' }).end('ok');
  });
  t.after(() => upstream.close());
  // fall: 1 and no panic: one counted probe would take the only target out of rotation.
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 3, fall: 1 }
    panic_threshold: 0`,
    }),
  );
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/first', agent)).status, 200);
  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  assert.ok(target);

  const release = exhaustDescriptors();
  try {
    await waitUntil('a probe without a descriptor', () => target.lastProbe?.failure !== undefined);
  } finally {
    release();
  }
  // What the probe met is told as it was (the status page reads lastProbe), the gateway's own.
  assert.equal(target.lastProbe?.failure?.type, 'proxy_resources_exhausted');
  assert.equal(target.lastProbe?.failure?.shape, 'gateway');
  assert.equal(target.checkedHealthy, true);
  assert.equal(target.lastFailure, undefined);
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'target down'),
    [],
  );

  const answer = await get(gw.url, '/after', agent);
  assert.equal(answer.status, 200);
  assert.deepEqual(
    seen.filter((path) => path !== '/health'),
    ['/first', '/after'],
  );
});
