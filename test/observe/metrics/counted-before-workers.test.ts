/**
 * `serve --workers N`: the primary probes the health checks and asks DNS from its start, before
 * any worker has asked for its own start. What it found then is counted all the same, once: a
 * target whose first probes fail is taken out of rotation (`candor_health_transitions_total
 * {to="unhealthy"}`, the probes in `candor_health_checks_total`), and the first DNS answer is a
 * change (`candor_discovery_changes_total`, "the first answer included"), however early it came.
 * On a real process tree; the DNS server answers at once and the health path fails from the start.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';
import { sampleValue, scrapeUntil } from './scrape.ts';

test('what the primary found before any worker started is counted: a target out of rotation, the first DNS answer', async () => {
  // Every path answers 200 but /health, which answers 500 from the start.
  const origin = http.createServer((req, res) => {
    res.statusCode = req.url === '/health' ? 500 : 200;
    res.end('x');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const { port } = origin.address() as AddressInfo;
  const dns = await startDnsServer();
  dns.set('app.test', [{ type: 'A', address: '127.0.0.1', ttl: 3600 }]);
  const metricsPort = await freePort();
  const path = join(tempDir('candor-counted-early-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: counted-early
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - match: { path: /found }
    upstream: found
  - upstream: checked
upstreams:
  found:
    discovery: { dns: app.test, port: ${port}, resolvers: [${dns.address}] }
  checked:
    targets:
      - url: http://127.0.0.1:${port}
    health_check: { path: /health, interval: 100ms, fall: 1 }
`,
  );
  const serve = await startServe(path, 2);
  const target = `http://127.0.0.1:${port}`;
  try {
    const all = await scrapeUntil(
      metricsPort,
      (samples) =>
        sampleValue(samples, 'candor_target_healthy', { upstream: 'checked', target }) === 0 &&
        sampleValue(samples, 'candor_discovery_changes_total', { upstream: 'found' }) !== undefined,
    );
    // Out of rotation in every worker, which the transitions say.
    assert.equal(sampleValue(all, 'candor_target_healthy', { upstream: 'checked', target }), 0);
    assert.equal(
      sampleValue(all, 'candor_health_transitions_total', { upstream: 'checked', target, to: 'unhealthy' }),
      1,
      serve.stderr(),
    );
    assert.equal(sampleValue(all, 'candor_discovery_changes_total', { upstream: 'found' }), 1);
    // Every probe the primary logged a verdict for is counted, the first one included.
    const failed = sampleValue(all, 'candor_health_checks_total', {
      upstream: 'checked',
      target,
      result: 'failure',
      error_type: 'unexpected_status',
    });
    assert.ok(failed !== undefined && failed >= 1, `failed probes counted: ${failed}`);
  } finally {
    await serve.stop();
    await dns.close();
    origin.close();
  }
});
