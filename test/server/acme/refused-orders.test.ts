/**
 * A CA that refuses every new order, on a real HTTPS server. Rate limited (RFC 8555 §6.6:
 * `rateLimited`, with Retry-After): the next try waits for the time the CA gave, and the log and
 * /status say that time, not the minute of the backoff that the CA would refuse again; the
 * gateway serves on meanwhile. In a fleet on one Redis: the gateway that held the lock orders
 * once, and the others take its failure and its retry time, not the lock in turn.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeStore } from '../../../src/server/acme/acme-store.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

/** An ACME server that makes accounts and refuses every new order: rate limited for an hour, or `refusal`. */
async function refusingCa(
  refusal: { status: number; type: string; retryAfter?: string } = {
    status: 429,
    type: 'urn:ietf:params:acme:error:rateLimited',
    retryAfter: '3600',
  },
): Promise<{ directory: string; orders: () => number; asked: () => number; close(): void }> {
  const certs = testCertificates();
  let orders = 0;
  let asked = 0;
  const server = https.createServer({ cert: certs.localhost.cert, key: certs.localhost.key }, (req, res) => {
    const base = `https://localhost:${(server.address() as AddressInfo).port}`;
    res.setHeader('replay-nonce', `n${Math.random().toString(36).slice(2)}`);
    req.resume();
    req.on('end', () => {
      if (req.url === '/dir') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            newNonce: `${base}/nonce`,
            newAccount: `${base}/acct`,
            newOrder: `${base}/order`,
            renewalInfo: `${base}/ari`,
          }),
        );
      } else if (req.url === '/nonce') res.end();
      else if (req.url === '/acct') {
        res.writeHead(201, { location: `${base}/acct/1`, 'content-type': 'application/json' });
        res.end('{"status":"valid"}');
      } else if (req.url === '/order') {
        orders++;
        res.writeHead(refusal.status, {
          ...(refusal.retryAfter === undefined ? {} : { 'retry-after': refusal.retryAfter }),
          'content-type': 'application/problem+json',
        });
        res.end(JSON.stringify({ type: refusal.type, detail: 'refused: see https://ca.test/policy' }));
      } else if (req.url?.startsWith('/ari/')) {
        // ACME Renewal Information (RFC 9773), a moment late: a window in the past, renew now.
        asked++;
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '21600' });
          res.end(
            JSON.stringify({
              suggestedWindow: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' },
            }),
          );
        }, 500);
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    directory: `https://localhost:${(server.address() as AddressInfo).port}/dir`,
    orders: () => orders,
    asked: () => asked,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

test("a rate-limited CA's Retry-After decides the next try, told in the log and /status; the gateway serves on", {
  timeout: 30_000,
}, async () => {
  const ca = await refusingCa();
  const dir = tempDir('candor-acme-limited-');
  const upstream = await keep(listenOnLoopback((_req, res) => res.end('app\n')));
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [limited.shop.test] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
`);
  try {
    await waitUntil('the order failed', () => (gw.gateway.status().certificates ?? [])[0]?.failures === 1);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'missing');
    assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:rateLimited');
    const retry = Date.parse(cert.next_renewal ?? '') - Date.now();
    assert.ok(retry > 3_500_000 && retry <= 3_600_000, `the next try after the CA's hour (${retry} ms)`);
    const line = gw.logs.find((l) => l.msg === 'certificate order failed');
    assert.equal(line?.acme_error, 'urn:ietf:params:acme:error:rateLimited');
    assert.equal(line?.retry_in_s, 3600);
    assert.equal(ca.orders(), 1);
    const answer = await fetch(`http://127.0.0.1:${httpPort}/`);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), 'app\n');
  } finally {
    await gw.close();
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a fleet on one Redis: the lock holder's failed order is the fleet's; the others wait for its retry, not the lock in turn", {
  timeout: 60_000,
}, async () => {
  const ca = await refusingCa({ status: 403, type: 'urn:ietf:params:acme:error:unauthorized' });
  const redis = await startRedis();
  const dir = tempDir('candor-acme-fleet-refused-');
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const text = (http: number, tls: number, store: string) => `listen:
  - address: 127.0.0.1:${http}
  - address: 127.0.0.1:${tls}
    tls:
      acme: { names: [refused.shop.test] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${join(dir, store)}
store:
  redis: { url: "${redis.url}" }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:1" }]
`;
  const gateways = await Promise.all([
    startGatewayFromText(text(ports[0], ports[1], 'a')),
    startGatewayFromText(text(ports[2], ports[3], 'b')),
  ]);
  try {
    const certificate = (gw: (typeof gateways)[number]) => (gw.gateway.status().certificates ?? [])[0];
    await waitUntil(
      'both gateways tell the failure',
      () => gateways.every((gw) => certificate(gw)?.failures === 1),
      30_000,
    );
    assert.equal(ca.orders(), 1, 'one order for the fleet');
    const [a, b] = gateways.map(certificate);
    for (const cert of [a, b]) {
      assert.equal(cert.state, 'missing');
      assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:unauthorized');
    }
    const next = [a, b].map((cert) => Date.parse(cert.next_renewal ?? ''));
    assert.ok(Math.abs(next[0] - next[1]) < 5_000, `one retry time for the fleet (${next.join(', ')})`);
    const waiting = gateways
      .flatMap((gw) => gw.logs)
      .find((l) => /made by another gateway/.test(String(l.detail)));
    assert.equal(waiting?.msg, 'certificate order failed');
  } finally {
    await Promise.all(gateways.map((gw) => gw.close()));
    await redis.kill();
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a renewal's failure plans the retry; the CA's renewal window told after it does not order again at once", {
  timeout: 30_000,
}, async () => {
  const ca = await refusingCa();
  const dir = tempDir('candor-acme-ari-limited-');
  // A stored certificate for other.example (valid two days): due now by renew_before.
  const certs = testCertificates();
  const store = new AcmeStore(join(dir, 'acme'));
  store.open();
  store.saveCertificate('other.example', certs.wrongHost.cert, certs.wrongHost.key);
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  let gw: Awaited<ReturnType<typeof startGatewayFromText>> | undefined;
  try {
    gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [other.example] }
acme:
  directory: ${ca.directory}
  ca: ${certs.caPath}
  challenges: [http-01]
  renew_before: 72h
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:1" }]
`);
    const started = gw;
    await waitUntil(
      'the renewal failed',
      () => (started.gateway.status().certificates ?? [])[0]?.failures === 1,
    );
    await waitUntil('the renewal window asked', () => ca.asked() === 1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(ca.orders(), 1, 'no second order before the CA said');
    const [cert] = started.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid');
    const retry = Date.parse(cert.next_renewal ?? '') - Date.now();
    assert.ok(retry > 3_500_000, `the next try after the CA's hour (${retry} ms)`);
  } finally {
    await gw?.close();
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a restart with the same acme config waits out the last run's backoff (a crash loop asks the CA once); a changed config orders at once", {
  timeout: 30_000,
}, async () => {
  const ca = await refusingCa();
  const dir = tempDir('candor-acme-restart-');
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const text = (more = '') => `listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [looping.shop.test] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}${more}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:1" }]
`;
  try {
    const first = await startGatewayFromText(text());
    await waitUntil('the order failed', () => (first.gateway.status().certificates ?? [])[0]?.failures === 1);
    const retryAt = (first.gateway.status().certificates ?? [])[0]?.next_renewal;
    await first.close();
    assert.equal(ca.orders(), 1);

    // The same config again (a restart, a crash loop): no order before the CA's hour is up.
    const second = await startGatewayFromText(text());
    try {
      const line = second.logs.find(
        (l) => l.acme === 'looping.shop.test' && /waits out its backoff/.test(l.msg),
      );
      assert.equal(line?.acme_error, 'urn:ietf:params:acme:error:rateLimited');
      assert.equal(line?.failures, 1);
      const [cert] = second.gateway.status().certificates ?? [];
      assert.equal(cert.failures, 1);
      assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:rateLimited');
      assert.equal(Date.parse(cert.next_renewal ?? ''), Date.parse(retryAt ?? ''));
      // A second's look (the first run's order went within it): nothing more asked of the CA.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(ca.orders(), 1, 'the restart did not order again');
    } finally {
      await second.close();
    }

    // The config changed (the operator mended something): ordered at once.
    const third = await startGatewayFromText(text('\n  email: ops@shop.test'));
    try {
      await waitUntil('ordered again', () => ca.orders() === 2);
    } finally {
      await third.close();
    }
  } finally {
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
