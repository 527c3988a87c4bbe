/**
 * Failures that are this gateway's own, not the CA's: an account key in the store that cannot be
 * used, a certificate the CA issued that cannot be saved. They are told as what they are, with
 * the file to look at, never as "the ACME server could not be reached".
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeStore } from '../../../src/server/acme/acme-store.ts';
import { startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

function config(
  name: string,
  ports: { http: number; tls: number },
  directory: string,
  ca: string,
  store: string,
) {
  return `listen:
  - address: 127.0.0.1:${ports.http}
  - address: 127.0.0.1:${ports.tls}
    tls:
      acme: { names: [${name}] }
acme:
  directory: ${directory}
  ca: ${ca}
  challenges: [http-01]
  storage: ${store}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;
}

const lastError = (gw: TestGateway) => (gw.gateway.status().certificates ?? [])[0]?.last_error;

test('an account key in the store that cannot be used is told with its file, not as a CA out of reach', {
  timeout: 30_000,
}, async () => {
  const ca = await startFakeAcmeCa({});
  const dir = tempDir('candor-acme-local-');
  const store = join(dir, 'acme');
  const keyFile = new AcmeStore(store).accountKeyFile(ca.directory);
  mkdirSync(join(store, 'accounts'), { recursive: true });
  writeFileSync(keyFile, 'not a key\n');
  const ports = { http: await freePort(), tls: await freePort() };
  const gw = await startGatewayFromText(
    config('key.shop.test', ports, ca.directory, testCertificates().caPath, store),
  );
  try {
    await waitUntil('the order failed', () => lastError(gw) !== undefined);
    const error = lastError(gw);
    assert.equal(error?.type, 'candor:account-key');
    assert.ok(
      error?.detail.startsWith(`${keyFile}: the stored ACME account key cannot be used (`),
      error?.detail,
    );
    assert.equal(gw.logs.find((l) => l.msg === 'certificate order failed')?.acme_error, 'candor:account-key');
    assert.equal(ca.downloads(), 0);
  } finally {
    await gw.close();
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an account key that cannot be read does not stop the gateway: it serves, and the order fails naming the file', {
  timeout: 30_000,
}, async () => {
  const ca = await startFakeAcmeCa({});
  const dir = tempDir('candor-acme-local-');
  const store = join(dir, 'acme');
  const keyFile = new AcmeStore(store).accountKeyFile(ca.directory);
  // A folder where the key is (as a file of another owner is to a gateway not run as root).
  mkdirSync(keyFile, { recursive: true });
  const upstream = await listenOnLoopback((_req, res) => res.end('app\n'));
  const ports = { http: await freePort(), tls: await freePort() };
  // Before, the start threw a bare "EISDIR: illegal operation on a directory, read" (no file
  // named), its listeners left open.
  const gw = await startGatewayFromText(
    config('unread.shop.test', ports, ca.directory, testCertificates().caPath, store).replace(
      'http://127.0.0.1:9',
      upstream.url,
    ),
  );
  try {
    const answer = await fetch(`http://127.0.0.1:${ports.http}/`);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), 'app\n');
    await waitUntil('the order failed', () => lastError(gw) !== undefined);
    const error = lastError(gw);
    assert.equal(error?.type, 'candor:account-key');
    assert.ok(
      error?.detail.startsWith(`${keyFile}: the stored ACME account key cannot be used (EISDIR`),
      error?.detail,
    );
  } finally {
    await gw.close();
    await ca.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an account key that is a FIFO nobody writes does not stop the gateway: it serves, and the order fails naming the file', {
  timeout: 30_000,
}, async () => {
  const ca = await startFakeAcmeCa({});
  const dir = tempDir('candor-acme-local-');
  const store = join(dir, 'acme');
  const keyFile = new AcmeStore(store).accountKeyFile(ca.directory);
  mkdirSync(dirname(keyFile), { recursive: true });
  // Before, its read waited for a writer: the process stood still, its listeners never served.
  execFileSync('mkfifo', [keyFile]);
  const upstream = await listenOnLoopback((_req, res) => res.end('app\n'));
  const ports = { http: await freePort(), tls: await freePort() };
  const gw = await startGatewayFromText(
    config('fifo.shop.test', ports, ca.directory, testCertificates().caPath, store).replace(
      'http://127.0.0.1:9',
      upstream.url,
    ),
  );
  try {
    const answer = await fetch(`http://127.0.0.1:${ports.http}/`);
    assert.equal(answer.status, 200);
    await waitUntil('the order failed', () => lastError(gw) !== undefined);
    const error = lastError(gw);
    assert.equal(error?.type, 'candor:account-key');
    assert.ok(
      error?.detail.startsWith(
        `${keyFile}: the stored ACME account key cannot be used (${keyFile} is not a regular file)`,
      ),
      error?.detail,
    );
  } finally {
    await gw.close();
    await ca.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a certificate issued that the store cannot keep is the gateway’s own failure (candor:internal)', {
  timeout: 90_000,
}, async () => {
  const ports = { http: await freePort(), tls: await freePort() };
  const pebble = await startPebble({ httpPort: ports.http, tlsPort: ports.tls });
  const dir = tempDir('candor-acme-local-');
  const store = join(dir, 'acme');
  // A folder where the key is to go: the rename of the new key onto it fails.
  mkdirSync(join(store, 'certificates/disk.shop.test/key.pem/in-the-way'), { recursive: true });
  const gw = await startGatewayFromText(
    config('disk.shop.test', ports, pebble.directory, pebble.caPath, store),
  );
  try {
    await waitUntil('the order failed', () => lastError(gw) !== undefined, 60_000);
    const error = lastError(gw);
    assert.equal(error?.type, 'candor:internal');
    assert.match(error?.detail ?? '', /^this gateway failed the order: .*key\.pem/);
  } finally {
    await gw.close();
    await pebble.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a challenge an order left behind (a crash mid-validation) is not answered after a restart', {
  timeout: 30_000,
}, async () => {
  const ca = await startFakeAcmeCa({});
  const dir = tempDir('candor-acme-local-');
  const store = new AcmeStore(join(dir, 'acme'));
  store.open();
  store.setHttpChallenge('left-behind', {
    name: 'stale.shop.test',
    keyAuthorization: 'left-behind.thumbprint',
  });
  const upstream = await listenOnLoopback((req, res) => res.end(`app saw ${req.url}\n`));
  const ports = { http: await freePort(), tls: await freePort() };
  const gw = await startGatewayFromText(
    config('stale.shop.test', ports, ca.directory, testCertificates().caPath, store.root).replace(
      'http://127.0.0.1:9',
      upstream.url,
    ),
  );
  try {
    // Before, it was answered 200 with the old key authorization, for good.
    const answer = await request(`http://127.0.0.1:${ports.http}`, {
      path: '/.well-known/acme-challenge/left-behind',
      headers: { host: 'stale.shop.test' },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'app saw /.well-known/acme-challenge/left-behind\n');
    assert.equal(store.httpChallenge('left-behind'), undefined);
  } finally {
    await gw.close();
    await ca.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
