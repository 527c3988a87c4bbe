/**
 * What a crash mid-write leaves in `acme.storage` is swept at start: the temporary copies of keys
 * (written, not yet renamed), and a certificate's save cut short (its `*.next.pem` pair, or the
 * new key renamed beside the old chain: finished); only files older than the process, never a
 * temporary file a live writer holds for the milliseconds of one call.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeStore } from '../../../src/server/acme/acme-store.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const newKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

/** Last written before this process began, as what a crash of the one before it left. */
const leftByACrash = (path: string) => {
  const before = new Date(Date.now() - process.uptime() * 1000 - 60_000);
  utimesSync(path, before, before);
};

test('temporary key files and half-done certificate saves a crash left in acme.storage are swept at start, and said', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-sweep-');
  const root = join(dir, 'acme');
  const [http, tls, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  const directory = `https://127.0.0.1:${nowhere}/dir`;
  const store = new AcmeStore(root);
  store.open();
  store.saveAccountKey(directory, newKey());
  const accountKey = store.accountKeyFile(directory);
  // A key written whole to its temporary name, the crash before its rename; and one of the
  // earlier form (a pid).
  const copies = [`${accountKey}.0123456789ab.tmp`, `${accountKey}.4242.tmp`];
  for (const copy of copies) {
    writeFileSync(copy, newKey(), { mode: 0o600 });
    leftByACrash(copy);
  }
  // One a live writer holds now (another process's save): not this start's to take.
  const live = `${accountKey}.ba9876543210.tmp`;
  writeFileSync(live, newKey(), { mode: 0o600 });

  // keep.shop.test: its save cut between the renames, the new key beside the old chain.
  const old = certificateFor(['keep.shop.test', 'cut.shop.test']);
  const renewed = certificateFor(['keep.shop.test', 'cut.shop.test']);
  const keep = join(root, 'certificates', 'keep.shop.test');
  mkdirSync(keep, { mode: 0o700 });
  copyFileSync(old.certPath, join(keep, 'chain.pem'));
  copyFileSync(renewed.keyPath, join(keep, 'key.pem'));
  copyFileSync(renewed.certPath, join(keep, 'chain.next.pem'));
  leftByACrash(join(keep, 'chain.next.pem'));
  // cut.shop.test: its save cut before either rename, the old pair whole beside the new one.
  const cut = join(root, 'certificates', 'cut.shop.test');
  mkdirSync(cut, { mode: 0o700 });
  copyFileSync(old.certPath, join(cut, 'chain.pem'));
  copyFileSync(old.keyPath, join(cut, 'key.pem'));
  for (const [from, to] of [
    [renewed.keyPath, 'key.next.pem'],
    [renewed.certPath, 'chain.next.pem'],
  ] as const) {
    copyFileSync(from, join(cut, to));
    leftByACrash(join(cut, to));
  }

  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${http}
  - address: 127.0.0.1:${tls}
    tls:
      acme: { names: [keep.shop.test, cut.shop.test] }
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
    for (const copy of copies) assert.equal(existsSync(copy), false, copy);
    assert.equal(existsSync(live), true, 'a temporary file younger than the process is left');
    const removed = gw.logs.find((l) => l.msg === 'acme.storage held temporary files a crash left: removed');
    assert.equal(removed?.level, 'warn');
    assert.deepEqual(
      [...((removed?.files ?? []) as string[])].sort(),
      [...copies, join(cut, 'key.next.pem'), join(cut, 'chain.next.pem')].sort(),
    );
    // The save cut between its renames is finished: the new key with its own chain.
    assert.equal(readFileSync(join(keep, 'chain.pem'), 'utf8'), readFileSync(renewed.certPath, 'utf8'));
    assert.equal(existsSync(join(keep, 'chain.next.pem')), false);
    const finished = gw.logs.find((l) =>
      l.msg.startsWith('acme.storage held a certificate whose save a crash cut'),
    );
    assert.deepEqual(finished?.folders, [keep]);
    // The save cut before its renames keeps the old pair.
    assert.equal(readFileSync(join(cut, 'key.pem'), 'utf8'), readFileSync(old.keyPath, 'utf8'));
    // Both serve: neither is a key beside another key's chain.
    assert.doesNotThrow(() => store.certificate('keep.shop.test'));
    assert.doesNotThrow(() => store.certificate('cut.shop.test'));
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a live writer's temporary file is judged on the file system's clock: with the gateway's clock two minutes ahead of it, it is left, and a crash's is still swept", {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-sweep-clock-');
  const root = join(dir, 'acme');
  const [http, tls, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  const directory = `https://127.0.0.1:${nowhere}/dir`;
  const store = new AcmeStore(root);
  store.open();
  store.saveAccountKey(directory, newKey());
  const accountKey = store.accountKeyFile(directory);
  const crashed = `${accountKey}.0123456789ab.tmp`;
  writeFileSync(crashed, newKey(), { mode: 0o600 });
  leftByACrash(crashed);
  const live = `${accountKey}.ba9876543210.tmp`;
  writeFileSync(live, newKey(), { mode: 0o600 });
  // The files are stamped by the kernel's clock (a share's, NFS's, behind the gateway's): the
  // gateway's clock moved on two minutes while it starts and sweeps.
  const now = Date.now;
  Date.now = () => now() + 120_000;
  let gw: Awaited<ReturnType<typeof startGatewayFromText>> | undefined;
  try {
    gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${http}
  - address: 127.0.0.1:${tls}
    tls:
      acme: { names: [clock.shop.test] }
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
  } finally {
    Date.now = now;
  }
  try {
    assert.equal(existsSync(crashed), false, crashed);
    assert.equal(existsSync(live), true, 'a temporary file younger than the process is left');
    const removed = gw.logs.find((l) => l.msg === 'acme.storage held temporary files a crash left: removed');
    assert.deepEqual(removed?.files, [crashed]);
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
