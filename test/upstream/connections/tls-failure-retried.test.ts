/**
 * A failed TLS handshake sent nothing to the upstream (DESIGN.md: a request that never reached
 * it may go to another target), so by default it goes to another target, as a refused connect
 * does: one target of two with an expired certificate (a rotation that missed it) answered every
 * other request 502 `tls_certificate_error` until it was ejected, nginx's `proxy_next_upstream
 * error` and HAProxy's `conn-failure` trying the next server. A POST too: nothing of it was sent.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

async function tlsServer(
  cert: { cert: string; key: string },
  seen: string[],
  name: string,
): Promise<https.Server> {
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    seen.push(`${name} ${req.method}`);
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test('one target of two with an expired certificate: every request answered by the other, each failed handshake retried', async (t) => {
  const certs = testCertificates();
  const seen: string[] = [];
  const good = await tlsServer(certs.localhost, seen, 'good');
  const expired = await tlsServer(certs.expired, seen, 'expired');
  const port = (s: https.Server) => (s.address() as AddressInfo).port;
  // The expired target first, so that round robin's first pick is it.
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    tls: { ca: ${JSON.stringify(certs.caPath)}, servername: localhost }
    targets:
      - url: https://127.0.0.1:${port(expired)}
      - url: https://127.0.0.1:${port(good)}
`);
  t.after(async () => {
    await gw.close();
    good.close();
    expired.close();
  });
  for (let i = 0; i < 4; i++) {
    const method = i % 2 === 0 ? 'GET' : 'POST';
    const res = await request(`${gw.url}/r${i}`, {
      method,
      headers: { 'x-request-id': `tls-retry-${i}` },
      body: method === 'POST' ? 'x' : undefined,
    });
    assert.equal(res.status, 200, `request ${i} (${method})`);
    assert.equal(res.body.toString(), 'good');
  }
  // Nothing ever reached the expired target: its handshakes failed before any request.
  assert.deepEqual(seen, ['good GET', 'good POST', 'good GET', 'good POST']);
  // The first request was tried at the expired target and retried: its line says both.
  const line = await gw.logFor('tls-retry-0');
  assert.equal(line.status, 200);
  const tries = line.tries as { target: string; error?: string; stage?: string; status?: number }[];
  assert.deepEqual(
    tries.map((t) => [t.target, t.error ?? t.status, t.stage]),
    [
      [`https://127.0.0.1:${port(expired)}`, 'tls_certificate_error', 'not_sent'],
      [`https://127.0.0.1:${port(good)}`, 200, undefined],
    ],
  );
});
