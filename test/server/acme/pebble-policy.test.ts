/**
 * Automatic HTTPS against Debian's pebble where its policy and its lifetimes decide: a name its
 * blocklist refuses (`rejectedIdentifier`, as a CA's policy refuses one), told with the CA's
 * problem type in the log and /status, retried after the backoff and never in a loop, the
 * certificate in service kept; a renewal under `candor serve --workers 2` that every worker
 * serves from its next handshake while the connections opened before it go on; a reload that
 * adds a name (ordered at once) and one that takes a name away (no more ordered); a CA whose
 * certificates live under an hour and a half (pebble's `certificateValidityPeriod`), each renewed
 * before it ends.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

let pebble: Pebble;
let upstream: http.Server;
let upstreamUrl = '';
let httpPort = 0;
let tlsPort = 0;
const dirs: string[] = [];
const TOKEN = 'acme-policy-token-0123456789abcdef';

before(async () => {
  upstream = http.createServer((req, res) => res.end(`app saw ${req.headers.host}${req.url}\n`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  pebble = await startPebble({ httpPort, tlsPort, blocklist: ['refused.shop.test'] });
});

after(async () => {
  await pebble?.stop();
  upstream?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function storage(): string {
  const dir = tempDir('candor-acme-policy-');
  dirs.push(dir);
  return join(dir, 'acme');
}

function config(names: string[], store: string, extra = ''): string {
  return `listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [${names.join(', ')}] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  challenges: [http-01]
  storage: ${store}
${extra}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstreamUrl}" }]
`;
}

/** A certificate of `name` already in the store, valid for two days (certificateFor), its serial. */
function stored(store: string, name: string): string {
  const old = certificateFor([name]);
  mkdirSync(join(store, 'certificates', name), { recursive: true });
  copyFileSync(old.certPath, join(store, 'certificates', name, 'chain.pem'));
  copyFileSync(old.keyPath, join(store, 'certificates', name, 'key.pem'));
  return new X509Certificate(old.cert).serialNumber;
}

/** A kept-alive TLS connection with this SNI: its certificate, and GETs one after the other on it. */
async function connection(servername: string): Promise<{
  serial: string;
  issuer: string;
  get(path: string): Promise<string>;
  close(): void;
}> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: tlsPort, servername, rejectUnauthorized: false }, () =>
      resolve(s),
    );
    s.once('error', reject);
  });
  socket.setEncoding('utf8');
  const cert = socket.getPeerX509Certificate();
  return {
    serial: cert?.serialNumber ?? '',
    issuer: cert?.issuer ?? '',
    get: (path) =>
      new Promise((resolve, reject) => {
        if (socket.destroyed) return reject(new Error(`the connection closed before ${path}`));
        let text = '';
        const onData = (chunk: string) => {
          text += chunk;
          const end = text.indexOf('\r\n\r\n');
          const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
          if (end >= 0 && length >= 0 && text.length >= end + 4 + length) {
            socket.removeListener('data', onData);
            socket.removeListener('close', onClose);
            resolve(`${text.slice(9, 12)} ${text.slice(end + 4)}`);
          }
        };
        const onClose = () => reject(new Error(`the connection closed before its answer: ${text}`));
        socket.on('data', onData);
        socket.once('close', onClose);
        socket.write(`GET ${path} HTTP/1.1\r\nhost: ${servername}\r\n\r\n`);
      }),
    close: () => socket.destroy(),
  };
}

test("a name the CA's policy refuses: rejectedIdentifier in the log and /status, the certificate in service kept, retried after the backoff, not in a loop", {
  timeout: 90_000,
}, async () => {
  const store = storage();
  const serial = stored(store, 'refused.shop.test');
  // Due at once: inside a 720h renew_before.
  const gw = await startGatewayFromText(config(['refused.shop.test'], store, '  renew_before: 720h'));
  try {
    await waitUntil(
      'the renewal refused',
      () => gw.logs.some((l) => l.msg === 'certificate renewal failed'),
      30_000,
    );
    const failed = gw.logs.filter((l) => l.msg === 'certificate renewal failed');
    assert.equal(failed[0].level, 'error');
    assert.equal(failed[0].acme_error, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.match(String(failed[0].detail), /refused\.shop\.test/);
    assert.equal(failed[0].retry_in_s, 60);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid');
    assert.equal(cert.failures, 1);
    assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
    assert.ok(Date.parse(cert.next_renewal ?? '') - Date.now() > 50_000, 'the next try a minute off');
    const kept = await connection('refused.shop.test');
    assert.equal(kept.serial, serial, 'the certificate in service is still served');
    assert.equal(await kept.get('/still'), '200 app saw refused.shop.test/still\n');
    kept.close();
    // Three seconds on: no other order (a loop would have asked again and again).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(gw.logs.filter((l) => l.msg === 'certificate renewal failed').length, 1);
  } finally {
    await gw.close();
  }
});

test('candor serve --workers 2: a renewal is served by every worker from the next handshake; connections opened before it go on', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const dir = join(store, '..');
  const adminPort = await freePort();
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const file = join(dir, 'candor.yaml');
  const serial = stored(store, 'renew.shop.test');
  // The connections opened before the renewal wait idle for it: longer than the 5 s default allows.
  const admin = `admin:\n  listen: 127.0.0.1:${adminPort}\n  token_file: token\nlimits:\n  keep_alive_timeout: 5m\n`;
  writeFileSync(file, `${config(['renew.shop.test'], store)}${admin}`);
  const serve = await startServe(file, 2, { admin: true });
  try {
    // Not due (two thirds into two days): served as stored by both workers.
    const before = await Promise.all(Array.from({ length: 6 }, () => connection('renew.shop.test')));
    for (const c of before) assert.equal(c.serial, serial);
    for (const [i, c] of before.entries())
      assert.equal(await c.get(`/b${i}`), `200 app saw renew.shop.test/b${i}\n`);
    // A reload that makes it due: the primary renews it.
    writeFileSync(file, `${config(['renew.shop.test'], store, '  renew_before: 720h')}${admin}`);
    const reloaded = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
    await serve.waitForLines('certificate renewed', 1, 60_000);
    // Each connection opened before goes on with its own certificate.
    for (const [i, c] of before.entries())
      assert.equal(await c.get(`/a${i}`), `200 app saw renew.shop.test/a${i}\n`);
    for (const c of before) c.close();
    // Every new handshake, whichever worker takes it, gets the new one.
    await waitUntil(
      'the renewal served',
      async () => {
        const c = await connection('renew.shop.test');
        c.close();
        return c.issuer.includes('Pebble');
      },
      10_000,
    );
    for (let i = 0; i < 8; i++) {
      const c = await connection('renew.shop.test');
      assert.match(c.issuer, /Pebble/, `handshake ${i} got the renewal`);
      assert.equal(await c.get(`/n${i}`), `200 app saw renew.shop.test/n${i}\n`);
      c.close();
    }
    assert.equal(serve.lines.filter((l) => l.msg === 'certificate renewed').length, 1, 'renewed once');
  } finally {
    assert.equal(await serve.stop(), 0, serve.stderr());
  }
});

test('a reload that adds a name orders it at once; one that takes a name away orders it no more', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const gw = await startGatewayFromText(config(['one.shop.test'], store));
  try {
    await waitUntil('one issued', () => gw.logs.some((l) => l.msg === 'certificate issued'), 60_000);
    await gw.gateway.reload(parseConfig(config(['one.shop.test', 'two.shop.test'], store), '<test>', {}));
    await waitUntil(
      'two issued',
      () => gw.logs.filter((l) => l.msg === 'certificate issued').length === 2,
      60_000,
    );
    const issued = gw.logs.filter((l) => l.msg === 'certificate issued').map((l) => l.acme);
    assert.deepEqual(issued, ['one.shop.test', 'two.shop.test'], 'the kept name not ordered again');
    assert.match((await connection('two.shop.test')).issuer, /Pebble/);
    await gw.gateway.reload(parseConfig(config(['two.shop.test'], store), '<test>', {}));
    assert.deepEqual(
      (gw.gateway.status().certificates ?? []).map((c) => c.names),
      [['two.shop.test']],
    );
  } finally {
    await gw.close();
  }
});

test('a CA whose certificates live 45 s: each is renewed two thirds into its life, before it ends, not an hour after the last order', {
  timeout: 120_000,
}, async () => {
  const short = await startPebble({ httpPort, tlsPort, validitySeconds: 45 });
  const gw = await startGatewayFromText(
    config(['brief.shop.test'], storage()).replace(pebble.directory, short.directory),
  );
  try {
    await waitUntil('issued', () => gw.logs.some((l) => l.msg === 'certificate issued'), 60_000);
    const [first] = gw.gateway.status().certificates ?? [];
    const ends = Date.parse(first.not_after ?? '');
    assert.ok(
      Date.parse(first.next_renewal ?? '') < ends,
      `renewal planned before the end: ${first.next_renewal} < ${first.not_after}`,
    );
    await waitUntil('renewed', () => gw.logs.some((l) => l.msg === 'certificate renewed'), 60_000);
    assert.ok(Date.now() < ends, 'renewed before the first one ended');
    assert.notEqual(gw.logs.find((l) => l.msg === 'certificate renewed')?.not_after, first.not_after);
    assert.equal(gw.logs.filter((l) => l.msg.startsWith('certificate EXPIRED')).length, 0);
  } finally {
    await gw.close();
    await short.stop();
  }
});
