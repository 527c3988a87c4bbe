/**
 * A CA that refuses an order for its rate limit (RFC 8555 §6.6: `rateLimited`, with Retry-After)
 * on a real HTTPS server: the next try waits for the time the CA gave, and the log and /status
 * say that time, not the minute of the backoff that the CA would refuse again. The gateway serves
 * on meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

/** An ACME server that makes accounts and refuses every new order: rate limited for an hour. */
async function rateLimitedCa(): Promise<{ directory: string; orders: () => number; close(): void }> {
  const certs = testCertificates();
  let orders = 0;
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
          }),
        );
      } else if (req.url === '/nonce') res.end();
      else if (req.url === '/acct') {
        res.writeHead(201, { location: `${base}/acct/1`, 'content-type': 'application/json' });
        res.end('{"status":"valid"}');
      } else if (req.url === '/order') {
        orders++;
        res.writeHead(429, { 'retry-after': '3600', 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'urn:ietf:params:acme:error:rateLimited',
            detail: 'too many new orders recently: see https://ca.test/rate-limits',
          }),
        );
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    directory: `https://localhost:${(server.address() as AddressInfo).port}/dir`,
    orders: () => orders,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

test("a rate-limited CA's Retry-After decides the next try, told in the log and /status; the gateway serves on", {
  timeout: 30_000,
}, async () => {
  const ca = await rateLimitedCa();
  const dir = mkdtempSync(join(tmpdir(), 'candor-acme-limited-'));
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
