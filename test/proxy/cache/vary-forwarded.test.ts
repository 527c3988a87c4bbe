/**
 * A stored answer's Vary is matched on the request as the upstream gets it, this hop's own fields
 * included: an upstream that answers by the client's address (read from X-Forwarded-For, which
 * the gateway writes) and says `Vary: X-Forwarded-For` has its answer given to that client alone,
 * not to every client (each of which sent no X-Forwarded-For of its own). Real sockets: clients
 * on two loopback addresses, a node:http origin that names the address it was told.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A GET of `path` from a client bound to `localAddress`: its Cache-Status and body. */
function getFrom(
  port: number,
  localAddress: string,
  path: string,
): Promise<{ status: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: String(res.headers['cache-status']), text }));
      })
      .on('error', reject);
  });
}

for (const field of ['X-Forwarded-For', 'Forwarded']) {
  test(`an answer with Vary: ${field} is given to the client it was made for, never to another address`, async () => {
    const seen: string[] = [];
    const origin = http.createServer((req, res) => {
      const told = String(req.headers[field.toLowerCase()]);
      seen.push(told);
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: field });
      res.end(`for ${told}`);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`);
    try {
      const first = await getFrom(gw.port, '127.0.0.2', '/pages/prices');
      assert.equal(first.status, 'edge-1; fwd=uri-miss');
      assert.match(first.text, /127\.0\.0\.2/);
      const again = await getFrom(gw.port, '127.0.0.2', '/pages/prices');
      assert.match(again.status, /^edge-1; hit; ttl=\d+$/, 'the same client: its stored answer');

      const other = await getFrom(gw.port, '127.0.0.3', '/pages/prices');
      assert.equal(other.status, 'edge-1; fwd=vary-miss');
      assert.match(other.text, /127\.0\.0\.3/);
      assert.doesNotMatch(other.text, /127\.0\.0\.2/);
      assert.equal(seen.length, 2);
    } finally {
      await gw.close();
      await new Promise<void>((resolve) => origin.close(() => resolve()));
    }
  });
}
