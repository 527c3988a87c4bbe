/**
 * upstreams.*.tls.crl holding one list from each CA of the upstream's chain (a root's and its
 * intermediate's, the upstream sending its intermediate): every list of the file counts, not the
 * first alone. A good certificate is served, one its intermediate revoked is refused as revoked.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ClientCaChain, makeClientCaChain } from '../../helpers/client-ca-chain.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let chain: ClientCaChain;
let gw: TestGateway;
const servers: https.Server[] = [];

async function serve(name: string): Promise<number> {
  const server = https.createServer(chain.issue(name, { server: true }), (_req, res) => res.end(name));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  chain = makeClientCaChain();
  const kept = await serve('kept');
  const revoked = await serve('revoked');
  chain.revoke('revoked');
  const crl = join(tempDir('candor-upstream-crl-chain-'), 'crl.pem');
  writeFileSync(crl, chain.lists(['root', 'intermediate']));
  const upstream = (port: number) =>
    `    targets: [{ url: "https://localhost:${port}" }]\n    retries: { attempts: 1 }\n    tls: { ca: ${chain.root}, crl: ${crl} }\n`;
  gw = await startTestGateway(`routes:
  - match: { path: /kept }
    upstream: kept
  - match: { path: /revoked }
    upstream: revoked
upstreams:
  kept:
${upstream(kept)}  revoked:
${upstream(revoked)}`);
});

after(async () => {
  await gw?.close();
  for (const server of servers) server.close();
  chain?.remove();
});

test("an upstream certificate of an intermediate, the file holding the root's list and the intermediate's: served", async () => {
  const res = await request(gw.url, { path: '/kept' });
  assert.equal(res.status, 200, String(res.headers['proxy-status']));
  assert.equal(res.text, 'kept');
});

test('one its intermediate revoked: 502 tls_certificate_error, it is revoked', async () => {
  const res = await request(gw.url, { path: '/revoked' });
  assert.equal(res.status, 502);
  assert.match(
    String(res.headers['proxy-status']),
    /error=tls_certificate_error; details="[^"]*revoked \(CERT_REVOKED\)/,
  );
});
