/**
 * A stored answer's key holds the host in its normal form (RFC 9110 §4.2.3, RFC 9111 §2: the
 * key is the target URI): `a.test`, `A.TEST` and `a.test:80` on a plain listener (`a.test:443`
 * on a TLS one) name one resource, so one entry; a port that is not the scheme's default is
 * another. An unsafe request invalidates every spelling, and a purge finds them by the normal form.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

function overTls(port: number, path: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(
        { host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false, headers: { host } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.headers['cache-status'])));
        },
      )
      .on('error', reject);
  });
}

test('every spelling of a host is one stored answer: case and the default port name the same resource', async (t) => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(`${req.method} ${req.headers['x-forwarded-proto']} ${req.headers.host}`);
    res.writeHead(req.method === 'GET' ? 200 : 204, { 'cache-control': 'max-age=60' });
    res.end(req.method === 'GET' ? 'page' : undefined);
  });
  t.after(() => upstream.close());
  const certs = testCertificates();
  const gateway = await startGateway(
    parseConfig(
      `name: edge-1
listen:
  - { name: plain, address: 127.0.0.1:0 }
  - name: secure
    address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - { name: site, upstream: app, cache: {} }
upstreams:
  app:
    targets: [{ url: ${upstream.url} }]
`,
      '<test>',
      {},
    ),
    { logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1') },
  );
  t.after(() => gateway.close());
  const [plainPort, tlsPort] = gateway.listeners.map((listener) => listener.port());
  const plain = async (host: string, method = 'GET') =>
    request(`http://127.0.0.1:${plainPort}`, { method, path: '/page', headers: { host } });

  assert.equal((await plain('a.test')).headers['cache-status'], 'edge-1; fwd=uri-miss');
  for (const host of ['A.TEST', 'a.test:80', 'A.Test:80', 'a.test:'])
    assert.match(String((await plain(host)).headers['cache-status']), /^edge-1; hit; /, host);
  // Port 443 on a plain listener is not its default: another resource.
  assert.equal((await plain('a.test:443')).headers['cache-status'], 'edge-1; fwd=uri-miss');

  assert.equal(await overTls(tlsPort, '/page', 'a.test'), 'edge-1; fwd=uri-miss');
  for (const host of ['A.TEST', 'a.test:443'])
    assert.match(await overTls(tlsPort, '/page', host), /^edge-1; hit; /, host);

  // A purge names the host in any case, a whole authority with a scheme's default port that
  // scheme's answers: `A.TEST:80 /page` is the http one; `a.test:443 /page` the https one and
  // the one http kept for port 443.
  assert.equal(await gateway.purge({ route: 'site', key: 'A.TEST:80 /page' }), 1);
  assert.match(await overTls(tlsPort, '/page', 'a.test'), /^edge-1; hit; /);
  assert.equal(await gateway.purge({ route: 'site', key: 'a.test:443 /page' }), 2);
  assert.equal(await overTls(tlsPort, '/page', 'a.test'), 'edge-1; fwd=uri-miss');
  assert.equal((await plain('a.test')).headers['cache-status'], 'edge-1; fwd=uri-miss');

  // A DELETE spelled with the default port invalidates what `a.test` stored.
  assert.equal((await plain('A.TEST:80', 'DELETE')).status, 204);
  assert.equal((await plain('a.test')).headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.deepEqual(seen, [
    'GET http a.test',
    'GET http a.test:443',
    'GET https a.test',
    'GET https a.test',
    'GET http a.test',
    'DELETE http A.TEST:80',
    'GET http a.test',
  ]);
});
