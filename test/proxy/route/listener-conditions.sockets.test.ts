/**
 * Routes know their listener (issue 31, item 6): `match.listener` (one name or several) and
 * `match.scheme` pick the route on the listener the request came in on, for HTTP/1.1 and for
 * HTTP/2 (h2c and over TLS) alike; what the client says of its scheme (`X-Forwarded-Proto`) is
 * not read. A real gateway with three listeners, and upstreams that say who they are.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';
import { h2Status, request } from '../../helpers/http-client.ts';

function overTls(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
  });
}

describe('routes on listener and scheme', () => {
  const apps: Record<string, Fault> = {};
  let gateway: Gateway;
  let publicPort: number;
  let internalPort: number;
  let tlsPort: number;

  before(async () => {
    for (const name of ['internal', 'secure', 'plain', 'both']) apps[name] = await startEcho();
    const certs = testCertificates();
    const text = `listen:
  - { name: public, address: 127.0.0.1:0, http2: true }
  - { name: internal, address: 127.0.0.1:0 }
  - name: public-tls
    address: 127.0.0.1:0
    http2: true
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - { match: { path: /who, listener: internal }, upstream: internal }
  - { match: { path: /who, scheme: https }, upstream: secure }
  - { match: { path: /who }, upstream: plain }
  - { match: { path: /pair, listener: [internal, public-tls] }, upstream: both }
upstreams:
${Object.entries(apps)
  .map(([name, app]) => `  ${name}: { targets: [{ url: ${app.url} }] }`)
  .join('\n')}
`;
    gateway = await startGateway(parseConfig(text, '<test>', {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1'),
    });
    [publicPort, internalPort, tlsPort] = gateway.listeners.map((listener) => listener.port());
  });
  after(async () => {
    await gateway.close();
    for (const app of Object.values(apps)) await app.close();
  });

  /** Which upstream got the last request, after `send` was answered 200. */
  async function reached(send: () => Promise<number>): Promise<string> {
    const counts = Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.received.length]));
    assert.equal(await send(), 200);
    const got = Object.entries(apps).filter(([name, app]) => app.received.length > counts[name]);
    assert.equal(got.length, 1);
    return got[0][0];
  }

  test('match.listener and match.scheme pick by where the request came in', async () => {
    const plainGet =
      (port: number, path: string, headers = {}) =>
      async () =>
        (await request(`http://127.0.0.1:${port}`, { path, headers })).status;
    assert.equal(await reached(plainGet(internalPort, '/who')), 'internal');
    assert.equal(await reached(plainGet(publicPort, '/who')), 'plain');
    assert.equal(
      await reached(plainGet(publicPort, '/who', { 'x-forwarded-proto': 'https' })),
      'plain',
      "the client's word on its scheme is not the listener's",
    );
    assert.equal(await reached(() => overTls(tlsPort, '/who')), 'secure');
    assert.equal(await reached(plainGet(internalPort, '/pair')), 'both');
    assert.equal(await reached(() => overTls(tlsPort, '/pair')), 'both');
    assert.equal((await request(`http://127.0.0.1:${publicPort}`, { path: '/pair' })).status, 404);
  });

  test('HTTP/2 streams are routed by their listener too (h2c and h2)', async () => {
    assert.equal(
      await reached(() => h2Status(`http://127.0.0.1:${publicPort}`, '/who', { rejectUnauthorized: false })),
      'plain',
    );
    assert.equal(
      await reached(() => h2Status(`https://127.0.0.1:${tlsPort}`, '/who', { rejectUnauthorized: false })),
      'secure',
    );
    assert.equal(
      await reached(() => h2Status(`https://127.0.0.1:${tlsPort}`, '/pair', { rejectUnauthorized: false })),
      'both',
    );
  });
});
