/**
 * upstreams.*.tls.crl: an upstream whose certificate its CA has revoked is refused in the
 * handshake (502 tls_certificate_error, "it is revoked"), as nginx's `proxy_ssl_crl` and
 * HAProxy's `crl-file` refuse it; before, Candor had no way to be told of a revocation and
 * served the revoked upstream. One that is not revoked passes. Nothing reaches the refused one,
 * and `candor diagnose` meets the refusal the gateway meets.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { assertGatewayError, onlyLogLine } from '../../helpers/gateway-error.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let ca: ClientCa;
let gw: TestGateway;
const servers: https.Server[] = [];
const received: string[] = [];

async function serve(name: string): Promise<number> {
  const server = https.createServer(ca.issue(name, { server: true, san: 'DNS:localhost' }), (req, res) => {
    received.push(`${name} ${req.url}`);
    res.end('ok');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  ca = makeClientCa();
  const kept = await serve('kept');
  const revoked = await serve('revoked');
  ca.revoke('revoked');
  const upstream = (port: number) =>
    `    targets: [{ url: "https://localhost:${port}" }]\n    retries: { attempts: 1 }\n    tls: { ca: ${ca.ca}, crl: ${ca.crl} }\n`;
  gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: /kept }
    upstream: kept
  - match: { path: /revoked }
    upstream: revoked
upstreams:
  kept:
${upstream(kept)}  revoked:
${upstream(revoked)}`,
  );
});

after(async () => {
  await gw?.close();
  for (const server of servers) server.close();
  ca?.remove();
});

test('a revoked upstream certificate is refused: 502 tls_certificate_error, nothing sent to it', async () => {
  const res = await request(gw.url, { path: '/revoked', headers: { accept: 'application/json' } });
  const details = /^certificate rejected: it is revoked \(CERT_REVOKED\) after [\d.]+ ms$/;
  const id = assertGatewayError(res, {
    status: 502,
    error: 'tls_certificate_error',
    details,
    nextHop: 'revoked',
    retryAfter: null,
    format: 'problem+json',
  });
  const line = await onlyLogLine(gw, id);
  assert.equal(line.error, 'tls_certificate_error');
  assert.equal(line.stage, 'not_sent');
  assert.deepEqual(
    received.filter((r) => r.startsWith('revoked')),
    [],
  );
});

test('a certificate of the same CA that the list does not name is served', async () => {
  const res = await request(gw.url, { path: '/kept' });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'ok');
  assert.deepEqual(received, ['kept /kept']);
});

test('candor diagnose checks the list too: the revoked upstream fails its probe, as through the gateway', async () => {
  const report = await diagnose({ target: 'revoked', config: gw.gateway.runtime().config, path: '/probe' });
  const { verdict } = report.targets[0];
  assert.equal(verdict.outcome, 'failure', verdict.summary);
  assert.match(verdict.summary, /tls_certificate_error → Candor answers 502/);
  assert.match(JSON.stringify(report), /CERT_REVOKED/);
  assert.notEqual(report.exitCode, 0);
});

test('a crl file that holds no revocation list is refused with its field', () => {
  const notCrl = join(ca.crl, '..', 'not-a-crl.pem');
  writeFileSync(notCrl, 'not a list\n');
  const text = `listen: [{ address: 127.0.0.1:0 }]\nroutes: [{ upstream: app }]\nupstreams:\n  app:\n    targets: [{ url: "https://localhost:1" }]\n    tls: { crl: ${notCrl} }\n`;
  assert.throws(
    () => parseConfig(text, '<test>', {}),
    (err: Error & { problems?: { path: string; message: string }[] }) => {
      const problems = (err.problems ?? []).map((p) => `${p.path}: ${p.message}`);
      assert.deepEqual(problems, [
        `upstreams.app.tls.crl: ${JSON.stringify(notCrl)} holds no PEM revocation list (-----BEGIN X509 CRL-----)`,
      ]);
      return true;
    },
  );
});
