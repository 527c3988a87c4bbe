/**
 * An upstream's circuit is kept across a reload (its thresholds taken anew) while it still
 * stands for the same servers: a reload that keeps one of its targets keeps it open. A reload
 * that replaces every target (the fix deployed to new instances, a move to another port) gave the
 * new targets, which never failed, the old ones' open circuit: every request a 503 "circuit
 * open" until `open_time` ran out, no request tried. They get a closed circuit now.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../src/kits/fault-kit/switchable.ts';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const BREAKER =
  '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 60s }\n    retries: { attempts: 1 }\n';

const yaml = (urls: string[]) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
${BREAKER}`;

test('a reload that replaces every target closes the circuit; one that keeps a target keeps it open', async () => {
  const broken = await startSwitchable();
  broken.setMode('reset');
  const fixed = await startEcho();
  const gw = await startTestGateway(yaml([broken.url]));
  const reload = (urls: string[]) =>
    gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(urls)}`, '<test>', {}));
  try {
    for (let i = 0; i < 2; i++) assert.equal((await request(gw.url, { path: `/fail${i}` })).status, 502);
    const open = await request(gw.url, { path: '/open' });
    assert.equal(open.status, 503);
    assert.match(String(open.headers['proxy-status']), /error=destination_unavailable/);

    // The broken target kept (a reload for anything else): the same server, the circuit stays open.
    await reload([broken.url]);
    assert.equal((await request(gw.url, { path: '/kept' })).status, 503);

    // Every target new: a closed circuit, and the request reaches the new target.
    await reload([fixed.url]);
    const moved = await request(gw.url, { path: '/moved' });
    assert.equal(moved.status, 200);
    assert.deepEqual(
      fixed.received.map((r) => r.path),
      ['/moved'],
    );
    assert.equal(broken.accepted.reset.length, 2);
  } finally {
    await gw.close();
    await broken.close();
    await fixed.close();
  }
});
