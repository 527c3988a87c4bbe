/**
 * A stored answer is the answer to one URI, scheme included (RFC 9111 §4: the cache key is the
 * target URI): a route served on a plain and a TLS listener never gives a request of one the
 * answer made for the other. An upstream that redirects http to https (by X-Forwarded-Proto)
 * would otherwise send its stored redirect to https clients: a loop.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { type ClientResponse, request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

function overTls(port: number, path: string): Promise<{ status: number; cacheStatus: string; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          port,
          path,
          rejectUnauthorized: false,
          agent: false,
          headers: { host: 'www.test' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, cacheStatus: String(res.headers['cache-status']), body }),
          );
        },
      )
      .on('error', reject);
  });
}

test('a route on a plain and a TLS listener keeps one answer per scheme: the http redirect never reaches an https client', async (t) => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    const proto = String(req.headers['x-forwarded-proto']);
    seen.push(proto);
    if (proto === 'http') {
      res.writeHead(301, { location: `https://www.test${req.url}`, 'cache-control': 'max-age=60' });
      res.end();
    } else {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('secure page');
    }
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
  - name: site
    upstream: app
    cache: {}
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

  const plain: ClientResponse = await request(`http://127.0.0.1:${plainPort}`, {
    path: '/page',
    headers: { host: 'www.test' },
  });
  assert.equal(plain.status, 301);
  const secure = await overTls(tlsPort, '/page');
  assert.equal(secure.status, 200);
  assert.equal(secure.body, 'secure page');
  assert.equal(secure.cacheStatus, 'edge-1; fwd=uri-miss');
  // Each scheme's answer is kept for its own requests.
  assert.match((await overTls(tlsPort, '/page')).cacheStatus, /^edge-1; hit; /);
  const plainAgain = await request(`http://127.0.0.1:${plainPort}`, {
    path: '/page',
    headers: { host: 'www.test' },
  });
  assert.equal(plainAgain.status, 301);
  assert.match(String(plainAgain.headers['cache-status']), /^edge-1; hit; /);
  assert.deepEqual(seen, ['http', 'https']);
});
