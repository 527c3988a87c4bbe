/**
 * An order under way when its gateway stops ordering (a reload that changes `acme` or the
 * names, or the gateway's close), against a real HTTPS CA whose validation stays pending: the
 * order is abandoned at once, not carried on beside the new one (two orders of one name, and the
 * old CA's certificate saved over the new one's) or past the close (the CA polled for minutes).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

/** An ACME server whose validations stay pending: it counts each order's polls. */
async function pendingCa(): Promise<{
  directory: string;
  polls: number[];
  requests: () => number;
  close(): void;
}> {
  const certs = testCertificates();
  const polls: number[] = [];
  let requests = 0;
  const server = https.createServer({ cert: certs.localhost.cert, key: certs.localhost.key }, (req, res) => {
    requests++;
    const base = `https://localhost:${(server.address() as AddressInfo).port}`;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    res.setHeader('replay-nonce', `n${requests}`);
    req.resume();
    req.on('end', () => {
      const [, kind, n] = (req.url ?? '').split('/');
      if (kind === 'dir')
        json(200, { newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` });
      else if (kind === 'nonce') res.end();
      else if (kind === 'acct') json(201, { status: 'valid' }, { location: `${base}/acct/1` });
      else if (kind === 'order' && n === undefined) {
        polls.push(0);
        const id = polls.length;
        json(
          201,
          { status: 'pending', authorizations: [`${base}/authz/${id}`], finalize: `${base}/finalize/${id}` },
          { location: `${base}/order/${id}` },
        );
      } else if (kind === 'authz') {
        polls[Number(n) - 1]++;
        json(200, {
          status: 'pending',
          identifier: { type: 'dns', value: 'slow.shop.test' },
          challenges: [
            { type: 'http-01', url: `${base}/challenge/${n}`, token: `token${n}`, status: 'pending' },
          ],
        });
      } else if (kind === 'challenge') json(200, { type: 'http-01', status: 'processing' });
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    directory: `https://localhost:${(server.address() as AddressInfo).port}/dir`,
    polls,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('an order under way is abandoned when a reload replaces the ordering, and when the gateway closes', {
  timeout: 60_000,
}, async () => {
  const ca = await pendingCa();
  const dir = tempDir('candor-acme-replaced-');
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const text = (email: string) => `listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [slow.shop.test] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  email: ${email}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:1" }]
`;
  const gw = await startGatewayFromText(text('ops@shop.test'));
  try {
    await waitUntil('the first order polls its validation', () => (ca.polls[0] ?? 0) >= 2, 20_000);
    await gw.gateway.reload(parseConfig(text('certs@shop.test'), '<test>', {}));
    await waitUntil('the reload orders anew', () => (ca.polls[1] ?? 0) >= 1, 20_000);
    const first = ca.polls[0];
    await pause(2_500);
    assert.equal(ca.polls[0], first, 'the first order is no longer polled');
    assert.equal(ca.polls.length, 2, 'one order at a time for the name');
    assert.ok(
      gw.logs.some((l) => l.msg === 'certificate order abandoned' && l.acme === 'slow.shop.test'),
      JSON.stringify(gw.logs.filter((l) => l.acme !== undefined)),
    );
    assert.ok(!gw.logs.some((l) => l.msg === 'certificate order failed'), 'an abandoned order is no failure');
  } finally {
    await gw.close();
  }
  try {
    const after = ca.requests();
    await pause(2_500);
    assert.equal(ca.requests(), after, 'nothing asks the CA once the gateway is closed');
  } finally {
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
