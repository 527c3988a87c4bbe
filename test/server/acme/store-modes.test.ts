/**
 * `acme.storage` is owner-only, the private keys first of all: a key the gateway writes is
 * created 0600 (never written looser and chmod-ed after), and what the gateway finds looser at
 * start (a backup restored 0644, a key copied in under a umask of 022) is made owner-only and
 * said.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeStore } from '../../../src/server/acme/acme-store.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const modeOf = (path: string) => statSync(path).mode & 0o777;
const newKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });

test('keys, files and folders restored into acme.storage readable by others are made owner-only at start, and said', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-modes-');
  const root = join(dir, 'acme');
  const [http, tls, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  const directory = `https://127.0.0.1:${nowhere}/dir`;
  const store = new AcmeStore(root);
  const accountKey = store.accountKeyFile(directory);
  const folder = join(root, 'certificates', 'keep.shop.test');
  mkdirSync(join(root, 'accounts'), { recursive: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(accountKey, newKey());
  const held = certificateFor(['keep.shop.test']);
  copyFileSync(held.certPath, join(folder, 'chain.pem'));
  copyFileSync(held.keyPath, join(folder, 'key.pem'));
  for (const file of [accountKey, join(folder, 'chain.pem'), join(folder, 'key.pem')]) chmodSync(file, 0o644);
  for (const made of [join(root, 'accounts'), join(root, 'certificates'), folder]) chmodSync(made, 0o755);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${http}
  - address: 127.0.0.1:${tls}
    tls:
      acme: { names: [keep.shop.test] }
acme:
  directory: ${directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${root}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`);
  try {
    // Before, each kept 0644 (0755): the account key and the certificate's key readable by anyone.
    assert.equal(modeOf(accountKey), 0o600);
    assert.equal(modeOf(join(folder, 'key.pem')), 0o600);
    assert.equal(modeOf(join(folder, 'chain.pem')), 0o600);
    assert.equal(modeOf(folder), 0o700);
    const told = gw.logs.find((l) =>
      l.msg.startsWith('acme.storage held files or folders others could read'),
    );
    assert.equal(told?.level, 'warn');
    assert.deepEqual(
      [...((told?.files ?? []) as string[])].sort(),
      [
        join(root, 'accounts'),
        accountKey,
        join(root, 'certificates'),
        folder,
        join(folder, 'chain.pem'),
        join(folder, 'key.pem'),
      ].sort(),
    );
    // The stored certificate still serves (it is not due): nothing else was touched.
    assert.equal(gw.gateway.status().certificates?.[0]?.state, 'valid');
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key the store writes is created 0600, even over a leftover temporary file that was 0644', () => {
  const dir = tempDir('candor-acme-modes-');
  try {
    const store = new AcmeStore(join(dir, 'acme'));
    store.open();
    const file = store.accountKeyFile('https://ca.test/dir');
    // What a crash between the write and the rename left, the pid being the same at the next
    // start (1, in a container): before, the write reused it, kept its 0644 and renamed it over the key.
    writeFileSync(`${file}.${process.pid}.tmp`, 'left over');
    chmodSync(`${file}.${process.pid}.tmp`, 0o644);
    store.saveAccountKey('https://ca.test/dir', newKey() as string);
    assert.equal(modeOf(file), 0o600);
    store.saveCertificate('w.shop.test', 'chain', 'key');
    assert.equal(modeOf(join(dir, 'acme/certificates/w.shop.test/key.pem')), 0o600);
    assert.equal(modeOf(join(dir, 'acme/certificates/w.shop.test/chain.pem')), 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("what root writes into another user's acme.storage (sudo candor diagnose --acme) is that user's, or the gateway could not read it", {
  skip: process.getuid?.() !== 0 ? 'changing owners needs root (CI runs as root)' : false,
}, () => {
  const dir = tempDir('candor-acme-owner-');
  const root = join(dir, 'acme');
  mkdirSync(root, { mode: 0o700 });
  // The gateway's own user (nobody's ids stand for it): the folder is its.
  chownSync(root, 65534, 65534);
  const store = new AcmeStore(root);
  store.open();
  store.setHttpChallenge('candor-diagnose-probe', { name: 'shop.test', keyAuthorization: 'probe.key' });
  const made = [
    join(root, 'accounts'),
    join(root, 'certificates'),
    join(root, 'challenges'),
    join(root, 'challenges/http-01'),
    join(root, 'challenges/tls-alpn-01'),
    join(root, 'challenges/http-01/candor-diagnose-probe'),
  ];
  for (const path of made) assert.deepEqual([statSync(path).uid, statSync(path).gid], [65534, 65534], path);
  assert.equal(modeOf(join(root, 'challenges/http-01/candor-diagnose-probe')), 0o600);
  rmSync(dir, { recursive: true, force: true });
});
