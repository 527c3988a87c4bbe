/**
 * What a reload changes in a kept upstream's connections (docs/operations.md, "Reload": a
 * setting an open connection already carries, `pool.idle_timeout` or `tls`, closes the idle
 * ones): the next request is made on a connection of the new settings, the TLS files read again
 * under the same paths included (a CA or client certificate replaced in place).
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startHttpsEcho } from '../../../src/kits/fault-kit/tls-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

const config = (url: string, upstream: string) => `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${url}" }]
    retries: { attempts: 1 }
${upstream}`;

test("tls.ca replaced under the same path: after a reload the kept target's idle connection is not reused, the next one is verified against the new CA", async (t) => {
  const app = await startHttpsEcho();
  t.after(() => app.close());
  const ca = join(tempDir('candor-reload-ca-'), 'ca.pem');
  copyFileSync(app.caPath, ca);
  const yaml = config(app.url, `    tls: { ca: ${ca} }\n`);
  const gw = await startTestGateway(yaml);
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/1' })).status, 200);
  assert.equal(app.connections, 1);

  // The CA that signed the target's certificate is no longer trusted: another in its place.
  copyFileSync(app.certificates.selfSigned.certPath, ca);
  await reload(gw, yaml);
  const res = await request(gw.url, { path: '/2', headers: { 'x-request-id': 'after' } });
  assert.equal(res.status, 502, 'the target is no longer trusted');
  assert.match(String(res.headers['proxy-status']), /^edge-1; error=tls_certificate_error; /);
  assert.deepEqual(
    app.received.map((r) => r.path),
    ['/1'],
    'nothing more went on the connection verified by the old CA',
  );
});

test("tls.cert replaced under the same path: after a reload the kept target's next request comes with the new client certificate", async (t) => {
  const app = await startHttpsEcho({ requireClientCertificate: true });
  t.after(() => app.close());
  const dir = tempDir('candor-reload-cert-');
  const [cert, key] = [join(dir, 'client.pem'), join(dir, 'client.key')];
  copyFileSync(app.certificates.client.certPath, cert);
  copyFileSync(app.certificates.client.keyPath, key);
  const yaml = config(app.url, `    tls: { ca: ${app.caPath}, cert: ${cert}, key: ${key} }\n`);
  const gw = await startTestGateway(yaml);
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/1' })).status, 200);

  // No certificate the target accepts in its place (the server's own, self-signed): the next
  // handshake is refused, which shows the new files were the ones presented.
  copyFileSync(app.certificates.selfSigned.certPath, cert);
  copyFileSync(app.certificates.selfSigned.keyPath, key);
  await reload(gw, yaml);
  const res = await request(gw.url, { path: '/2' });
  assert.equal(res.status, 502, 'the new certificate was presented, and refused');
  assert.deepEqual(
    app.received.map((r) => r.path),
    ['/1'],
    'nothing more went on the connection made with the old certificate',
  );
});

test("tls.servername changed by a reload: the kept target's next request is verified for the new name", async (t) => {
  const app = await startHttpsEcho();
  t.after(() => app.close());
  const yaml = (name: string) => config(app.url, `    tls: { ca: ${app.caPath}, servername: ${name} }\n`);
  const gw = await startTestGateway(yaml('localhost'));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/1' })).status, 200);

  // The target's certificate names localhost, not this.
  await reload(gw, yaml('other.example'));
  const res = await request(gw.url, { path: '/2' });
  assert.equal(res.status, 502);
  assert.match(String(res.headers['proxy-status']), /^edge-1; error=tls_certificate_error; /);
  assert.deepEqual(
    app.received.map((r) => r.path),
    ['/1'],
  );
});

test('pool.idle_timeout lowered by a reload: the idle connection is closed, the next one is closed after the new idle time', async (t) => {
  const app = await startEcho();
  t.after(() => app.close());
  const gw = await startTestGateway(config(app.url, '    pool: { idle_timeout: 60s }\n'));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/1' })).status, 200);

  await reload(gw, config(app.url, '    pool: { idle_timeout: 200ms }\n'));
  await waitUntil(
    'the idle connection of the old settings closed',
    () => app.connectionLog[0]?.closed === true,
  );
  assert.equal((await request(gw.url, { path: '/2' })).status, 200);
  assert.equal(app.connections, 2, 'the next request on a connection of its own');
  // Idle after its answer, closed by the gateway at the new idle time (the old: a minute).
  const second = await app.connectionLog[1]?.ended;
  assert.equal(app.connectionLog[1]?.peerEnd, 'fin', `closed by the gateway: ${JSON.stringify(second)}`);
  assert.deepEqual(
    app.received.map((r) => r.path),
    ['/1', '/2'],
  );
});
