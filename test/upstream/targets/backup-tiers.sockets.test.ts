/**
 * Target priorities against real upstreams on loopback: a primary on a closed port, or failing
 * its health check, sends requests to the backups (`priority: 1`, nginx's `backup`), and they
 * go back to the primaries as soon as those pass again. Panic with tiers: healthy backups take
 * the traffic; with every tier failing its checks, the primaries get it. An SRV answer's higher
 * priority, asked of a real DNS server on loopback, is such a backup tier.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import type { Upstream } from '../../../src/upstream/targets/upstream.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

/** A keep-alive upstream answering 200 with its name, except /health, whose status the test switches. */
async function startSwitch(name: string, health = 200): Promise<{ fault: Fault; set(status: number): void }> {
  let status = health;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = req.path.startsWith('/health') ? status : 200;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: ${name.length}\r\n\r\n${name}`);
    }
  });
  return {
    fault,
    set: (next) => {
      status = next;
    },
  };
}

const dataRequests = (fault: Fault) => fault.received.filter((r) => !r.path.startsWith('/health')).length;

function upstreamOf(gw: TestGateway): Upstream {
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  return upstream;
}

async function bodies(gw: TestGateway, n: number): Promise<string[]> {
  const answers = [];
  for (let i = 0; i < n; i++) {
    const res = await request(gw.url, { path: `/p${i}` });
    answers.push(`${res.status} ${res.body}`);
  }
  return answers;
}

test('a primary on a closed port: the retry and the next requests go to the backup', async () => {
  const port = await freePort();
  const backup = await startSwitch('backup');
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
      - { url: ${backup.fault.url}, priority: 1 }
    outlier_detection: { consecutive_failures: 1 }
    retries: { attempts: 2 }
`);
  try {
    assert.deepEqual(await bodies(gw, 3), ['200 backup', '200 backup', '200 backup']);
    assert.equal(
      dataRequests(backup.fault),
      3,
      'the first by its retry, the others as the primary is ejected',
    );
    assert.equal(upstreamOf(gw).targets[0].isEjected(performance.now()), true);
  } finally {
    await gw.close();
    await backup.fault.close();
  }
});

test('a GET reset by the one primary after it was sent is retried on the backup, not told there is no other target', async () => {
  const primary = await startRawFault(async (connection) => {
    await readRequest(connection);
    connection.socket.resetAndDestroy();
  });
  const backup = await startSwitch('backup');
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${primary.url}
      - { url: ${backup.fault.url}, priority: 1 }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 2 }
`);
  try {
    assert.deepEqual(await bodies(gw, 2), ['200 backup', '200 backup']);
    assert.equal(primary.received.length, 2, 'each tried on the primary first');
    assert.equal(dataRequests(backup.fault), 2);
  } finally {
    await gw.close();
    await Promise.all([primary.close(), backup.fault.close()]);
  }
});

test('two tiers of two: the primaries failing their checks send traffic to both backups, and it comes back', async () => {
  const servers = await Promise.all(['a', 'b', 'c', 'd'].map((name) => startSwitch(name)));
  const [a, b, c, d] = servers;
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - { url: ${c.fault.url}, priority: 1 }
      - { url: ${a.fault.url} }
      - { url: ${d.fault.url}, priority: 1 }
      - { url: ${b.fault.url}, priority: 0 }
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
  try {
    const upstream = upstreamOf(gw);
    assert.deepEqual(
      (await bodies(gw, 4)).sort(),
      ['200 a', '200 a', '200 b', '200 b'],
      'the primaries only',
    );

    a.set(500);
    b.set(500);
    await waitUntil(
      'primaries failing',
      () => upstream.targets.filter((t) => !t.checkedHealthy).length === 2,
    );
    assert.equal(upstream.panic.active, false, 'the backups pass: no panic');
    assert.deepEqual((await bodies(gw, 4)).sort(), ['200 c', '200 c', '200 d', '200 d']);
    assert.deepEqual(
      servers.map((s) => dataRequests(s.fault)),
      [2, 2, 2, 2],
    );

    a.set(200);
    await waitUntil('a passing again', () => upstream.targets.filter((t) => !t.checkedHealthy).length === 1);
    assert.deepEqual(await bodies(gw, 3), ['200 a', '200 a', '200 a'], 'back to the primary tier at once');

    // Every tier failing: panic, over the primaries (the first tier, none passing anywhere).
    for (const s of servers) s.set(500);
    await waitUntil('in panic', () => upstream.panic.active);
    assert.deepEqual((await bodies(gw, 4)).sort(), ['200 a', '200 a', '200 b', '200 b']);
  } finally {
    await gw.close();
    await Promise.all(servers.map((s) => s.fault.close()));
  }
});

test('SRV with two priorities: the higher one is the backup tier, used while the lower fails its check', async () => {
  const [primary, backup] = await Promise.all([startSwitch('primary', 500), startSwitch('backup')]);
  const dns = await startDnsServer();
  const portOf = (s: { fault: Fault }) => Number(new URL(s.fault.url).port);
  dns.set('_http._tcp.tiers.test', [
    { type: 'SRV', target: '127.0.0.1', port: portOf(backup), priority: 20, weight: 1, ttl: 30 },
    { type: 'SRV', target: '127.0.0.1', port: portOf(primary), priority: 10, weight: 1, ttl: 30 },
  ]);
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    discovery: { dns: _http._tcp.tiers.test, type: SRV, resolvers: [${dns.address}], interval: 100ms }
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
  try {
    await waitUntil('discovered, the primary failing', () => {
      const targets = gw.gateway.runtime().upstreams.get('app')?.targets ?? [];
      return targets.length === 2 && targets.some((t) => !t.checkedHealthy);
    });
    assert.deepEqual(
      upstreamOf(gw).targets.map((t) => [t.config.url, t.config.priority]),
      [
        [backup.fault.url, 20],
        [primary.fault.url, 10],
      ].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    );
    assert.deepEqual(await bodies(gw, 2), ['200 backup', '200 backup']);
    assert.equal(dataRequests(primary.fault), 0);

    primary.set(200);
    await waitUntil('the primary passing', () => upstreamOf(gw).targets.every((t) => t.checkedHealthy));
    assert.deepEqual(await bodies(gw, 2), ['200 primary', '200 primary']);
    assert.equal(dataRequests(backup.fault), 2);
  } finally {
    await gw.close();
    await Promise.all([primary.fault.close(), backup.fault.close(), dns.close()]);
  }
});
