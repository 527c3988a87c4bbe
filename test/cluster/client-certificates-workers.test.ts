/**
 * Client certificates (issue 59, item 3) through `candor serve` with two workers: every worker
 * verifies against the listener's CAs and tells the upstream RFC 9440's Client-Cert; a CRL
 * revised and reloaded is read by each worker, so a revoked certificate gets no worker's 200; the
 * status page's 401/403 counts by route and method are the sum of both workers'.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../helpers/client-ca.ts';
import { adminCall, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TOKEN = 'a-token-for-the-admin-listener-of-this-test';
const server = testCertificates();
let clients: ClientCa;
let app: Fault;
let serve: ServeProcess;
const pairs: Record<string, { cert: Buffer; key: Buffer }> = {};

before(async () => {
  clients = makeClientCa();
  pairs.alice = clients.issue('alice');
  pairs.bob = clients.issue('bob');
  app = await startEcho();
  const dir = tempDir('candor-client-cert-workers-');
  writeFileSync(
    join(dir, 'candor.yaml'),
    `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: ${clients.ca}, crl: ${clients.crl}, mode: optional }
admin:
  listen: 127.0.0.1:0
  token_env: CANDOR_TEST_ADMIN_TOKEN
routes:
  - name: secure
    match: { path: /secure }
    upstream: app
    auth: { client_certificate: {}, identity_header: X-User }
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
  );
  serve = await startServe(join(dir, 'candor.yaml'), 2, {
    admin: true,
    env: { CANDOR_TEST_ADMIN_TOKEN: TOKEN },
  });
  await serve.waitForLines('listening', 2, 15_000);
});

after(async () => {
  await serve?.stop();
  await app?.close();
  clients?.remove();
});

/** One request on a connection of its own (a new handshake), with `who`'s certificate or none. */
function ask(
  path: string,
  who: string | undefined,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: serve.port,
        path,
        method,
        agent: false,
        ca: server.ca,
        servername: 'localhost',
        headers: { accept: 'application/json', connection: 'close' },
        ...(who === undefined ? {} : pairs[who]),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('two workers: each verifies, tells Client-Cert and the user; a CRL reloaded is read by both', async () => {
  for (let i = 0; i < 8; i++) {
    const ok = await ask('/secure', 'alice');
    assert.equal(ok.status, 200, ok.body);
    const echoed = JSON.parse(ok.body) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-user'], 'alice');
    assert.equal(echoed.headers['client-cert'], clients.der('alice'));
  }
  clients.revoke('alice');
  const swapped = serve.lines.filter((l) => l.msg === 'config swapped').length;
  assert.equal((await adminCall(serve.adminPort ?? 0, 'POST', '/reload', { token: TOKEN })).status, 200);
  // Each worker swaps (its own line): both judge the new handshakes by the new list.
  await serve.waitForLines('config swapped', swapped + 2, 15_000);
  for (let i = 0; i < 8; i++) {
    const refused = await ask('/secure', 'alice');
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /it has been revoked/);
    assert.equal((await ask('/secure', 'bob')).status, 200);
  }
});

test("two workers: GET /status sums both workers' 401s and 403s by method", async () => {
  const before = await adminCall(serve.adminPort ?? 0, 'GET', '/status', { token: TOKEN });
  const was =
    (before.body.routes as Record<string, { refused?: Record<string, Record<string, number>> }>).secure
      .refused ?? {};
  for (let i = 0; i < 6; i++) assert.equal((await ask('/secure', undefined, 'POST')).status, 403);
  for (let i = 0; i < 4; i++) assert.equal((await ask('/secure', undefined, 'DELETE')).status, 403);
  const answer = await adminCall(serve.adminPort ?? 0, 'GET', '/status', { token: TOKEN });
  const refused = (answer.body.routes as Record<string, { refused: Record<string, Record<string, number>> }>)
    .secure.refused;
  assert.deepEqual(refused.POST, { 401: 0, 403: (was.POST?.['403'] ?? 0) + 6 });
  assert.deepEqual(refused.DELETE, { 401: 0, 403: (was.DELETE?.['403'] ?? 0) + 4 });
});
