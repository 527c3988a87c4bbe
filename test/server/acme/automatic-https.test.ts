/**
 * Automatic HTTPS end to end: a real gateway in this process, Debian's pebble as the CA
 * validating for real (its DNS sends every name to 127.0.0.1, its HTTP-01 connections come to
 * the gateway's plain listener), a TLS client that trusts only pebble's root. The first order,
 * a restart that orders nothing, a renewal of an expiring certificate, and a CA that refuses,
 * told with its problem document in the log, /status and the metrics.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { certificateId } from '../../../src/core/tls/certificate-id.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { certificateFor, expiredCertificateFor } from '../../helpers/named-certs.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { balancer } from '../../helpers/proxy-header.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { adminCall, childPids, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { named, samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

let pebble: Pebble;
let upstream: http.Server;
let upstreamUrl = '';
let httpPort = 0;
let tlsPort = 0;
const dirs: string[] = [];

before(async () => {
  upstream = http.createServer((req, res) => res.end(`app saw ${req.headers.host}${req.url}\n`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  pebble = await startPebble({ httpPort, tlsPort });
});

after(async () => {
  await pebble?.stop();
  upstream?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function storage(): string {
  const dir = tempDir('candor-acme-');
  dirs.push(dir);
  return join(dir, 'acme');
}

function config(names: string[], store: string, extra = ''): string {
  return `name: front-door
listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [${names.join(', ')}] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  email: ops@shop.test
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

/** A GET over TLS with this SNI, trusting pebble's issuing root only. */
async function httpsGet(
  servername: string,
  path = '/',
  port = tlsPort,
): Promise<{ status: number; body: string; issuer: string; serial: string }> {
  const root = await pebble.issuingRoot();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: root }, () => {
      const issuer = String(socket.getPeerCertificate().issuer?.CN ?? '');
      const serial = socket.getPeerCertificate().serialNumber;
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('end', () =>
        resolve({
          status: Number(text.slice(9, 12)),
          body: text.slice(text.indexOf('\r\n\r\n') + 4),
          issuer,
          serial,
        }),
      );
    });
    socket.on('error', reject);
  });
}

async function certificateSettled(gw: TestGateway, timeoutMs = 60_000) {
  await waitUntil(
    'a certificate ordered or failed',
    () => {
      const [cert] = gw.gateway.status().certificates ?? [];
      return (
        cert !== undefined &&
        cert.state !== 'ordering' &&
        (cert.state !== 'missing' || cert.failures > 0) &&
        (cert.state === 'valid' || cert.failures > 0)
      );
    },
    timeoutMs,
  );
  return (gw.gateway.status().certificates ?? [])[0];
}

test('a name with no certificate is ordered at start by HTTP-01 and served by SNI; a restart orders nothing', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const gw = await startGatewayFromText(config(['www.shop.test'], store));
  try {
    const cert = await certificateSettled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    assert.deepEqual(cert.names, ['www.shop.test']);
    assert.match(cert.issuer ?? '', /Pebble/);
    assert.ok(Date.parse(cert.next_renewal ?? '') > Date.now(), 'the renewal is planned ahead');
    const issued = gw.logs.find((l) => l.msg === 'certificate issued');
    assert.equal(issued?.acme, 'www.shop.test');
    // The CA's validation came to the plain listener, was answered before routing and logged.
    const validation = gw.logs.find((l) => l.msg === 'request' && l.acme === 'http-01');
    assert.equal(validation?.status, 200);
    assert.equal(validation?.route, undefined, 'answered before routing');
    const answer = await httpsGet('www.shop.test', '/cart');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'app saw www.shop.test/cart\n');
    assert.match(answer.issuer, /Pebble/);
    const { text } = await gw.gateway.metrics.exposition();
    const left = Number(
      /candor_certificate_expiry_seconds\{name="www\.shop\.test"\} (-?\d+)/.exec(text)?.[1],
    );
    assert.ok(
      left > 30 * 86_400 && left <= Date.parse(cert.not_after ?? '') / 1000 - Date.now() / 1000 + 1,
      `${left} s left`,
    );
    const all = samples(text);
    const name = 'www.shop.test';
    assert.equal(sampleValue(all, 'candor_acme_orders_total', { name, result: 'ok' }), 1);
    assert.equal(sampleValue(all, 'candor_acme_orders_total', { name, result: 'failed' }), 0);
    assert.equal(named(all, 'candor_acme_order_failures'), '', 'no failure shown after a success');
    // Owner-only on disk.
    assert.equal(statSync(store).mode & 0o777, 0o700);
    assert.equal(statSync(join(store, 'certificates/www.shop.test/key.pem')).mode & 0o777, 0o600);
  } finally {
    await gw.close();
  }
  const again = await startGatewayFromText(config(['www.shop.test'], store));
  try {
    const [cert] = again.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid', 'served from the store at once');
    assert.equal((await httpsGet('www.shop.test')).status, 200);
    assert.equal(
      again.logs.filter((l) => l.msg.startsWith('certificate')).length,
      0,
      'nothing ordered, nothing to say',
    );
  } finally {
    await again.close();
  }
});

test('a stored certificate past not_after is told loudly, served meanwhile, and renewed', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const expired = expiredCertificateFor(['old.shop.test']);
  mkdirSync(join(store, 'certificates/old.shop.test'), { recursive: true });
  copyFileSync(expired.certPath, join(store, 'certificates/old.shop.test/chain.pem'));
  copyFileSync(expired.keyPath, join(store, 'certificates/old.shop.test/key.pem'));
  const gw = await startGatewayFromText(config(['old.shop.test'], store));
  try {
    const { text } = await gw.gateway.metrics.exposition();
    assert.match(
      text,
      /candor_certificate_expiry_seconds\{name="old\.shop\.test"\} -\d+/,
      'negative once it ended',
    );
    const warning = gw.logs.find((l) => l.msg.startsWith('certificate EXPIRED'));
    assert.equal(warning?.level, 'error');
    assert.equal(warning?.acme, 'old.shop.test');
    await waitUntil('renewed', () => gw.logs.some((l) => l.msg === 'certificate renewed'), 60_000);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid');
    assert.match((await httpsGet('old.shop.test')).issuer, /Pebble/);
  } finally {
    await gw.close();
  }
});

test('renew_before larger than what is left renews a certificate that is still valid', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  // Valid for 2 days: inside a 720h (30-day) renew_before.
  const short = certificateFor(['soon.shop.test']);
  mkdirSync(join(store, 'certificates/soon.shop.test'), { recursive: true });
  copyFileSync(short.certPath, join(store, 'certificates/soon.shop.test/chain.pem'));
  copyFileSync(short.keyPath, join(store, 'certificates/soon.shop.test/key.pem'));
  const gw = await startGatewayFromText(
    config(['soon.shop.test'], store).replace('  challenges:', '  renew_before: 720h\n  challenges:'),
  );
  try {
    await waitUntil('renewed', () => gw.logs.some((l) => l.msg === 'certificate renewed'), 60_000);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.match(cert.issuer ?? '', /Pebble/);
    assert.ok(
      Date.parse(cert.not_after ?? '') - Date.now() > 30 * 86_400_000,
      'the new one outlasts renew_before',
    );
  } finally {
    await gw.close();
  }
});

test('a CA that cannot validate is told with its problem document, in the log and /status, and retried later', {
  timeout: 120_000,
}, async () => {
  // A second CA whose HTTP-01 connections go to a port nobody listens on.
  const nowhere = await freePort();
  const refusing = await startPebble({ httpPort: nowhere, tlsPort: nowhere });
  const store = storage();
  const text = config(['down.shop.test'], store).replace(pebble.directory, refusing.directory);
  const gw = await startGatewayFromText(text);
  try {
    const cert = await certificateSettled(gw);
    assert.equal(cert.state, 'missing');
    assert.equal(cert.failures, 1);
    assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:connection');
    assert.match(cert.last_error?.detail ?? '', /^down\.shop\.test \(http-01\): /);
    const retry = Date.parse(cert.next_renewal ?? '') - Date.now();
    assert.ok(retry > 30_000 && retry <= 60_000, `retried in about a minute (${retry} ms)`);
    const line = gw.logs.find((l) => l.msg === 'certificate order failed');
    assert.equal(line?.level, 'error');
    assert.equal(line?.acme_error, 'urn:ietf:params:acme:error:connection');
    assert.equal(line?.retry_in_s, 60);
    // The metrics tell it too. Before, a name that never had a certificate had no expiry series
    // at all, so the "less than a week left" alert could never fire for it.
    const all = samples((await gw.gateway.metrics.exposition()).text);
    const name = 'down.shop.test';
    assert.equal(
      sampleValue(all, 'candor_certificate_expiry_seconds', { name }),
      0,
      named(all, 'candor_certificate_expiry_seconds'),
    );
    assert.equal(sampleValue(all, 'candor_acme_orders_total', { name, result: 'failed' }), 1);
    assert.equal(sampleValue(all, 'candor_acme_orders_total', { name, result: 'ok' }), 0);
    assert.equal(
      sampleValue(all, 'candor_acme_order_failures', {
        name,
        error_type: 'urn:ietf:params:acme:error:connection',
      }),
      1,
      named(all, 'candor_acme_order_failures'),
    );
  } finally {
    await gw.close();
    await refusing.stop();
  }
});

test('candor serve with two workers: the primary orders once, every worker serves the certificate, /status shows it', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const dir = join(store, '..');
  const [adminPort, metricsPort] = await Promise.all([freePort(), freePort()]);
  writeFileSync(join(dir, 'token'), 'acme-test-token-0123456789abcdef', { mode: 0o600 });
  const file = join(dir, 'candor.yaml');
  writeFileSync(
    file,
    `${config(['fleet.shop.test'], store)}admin:\n  listen: 127.0.0.1:${adminPort}\n  token_file: token\nmetrics:\n  listen: 127.0.0.1:${metricsPort}\nlog: { level: info }\n`,
  );
  const serve = await startServe(file, 2, { admin: true });
  try {
    await serve.waitForLines('certificate issued', 1, 60_000);
    // The primary logs the order, then tells its workers: a handshake right after the line can
    // reach a worker that has not heard yet (no certificate for the name: alert 40, seen in a run).
    await waitUntil(
      'the certificate served',
      async () => {
        try {
          return /Pebble/.test((await httpsGet('fleet.shop.test', '/first')).issuer);
        } catch {
          return false;
        }
      },
      10_000,
    );
    for (let i = 0; i < 8; i++) {
      const answer = await httpsGet('fleet.shop.test', `/n${i}`);
      assert.equal(answer.status, 200);
      assert.match(answer.issuer, /Pebble/, 'every worker serves the ordered certificate');
    }
    assert.equal(serve.lines.filter((l) => l.msg === 'certificate issued').length, 1, 'ordered once');
    // A worker killed (kill -9, the OOM killer): its replacement serves the certificate from its
    // first handshake, read from acme.storage, and nothing is ordered again.
    const listening = serve.lines.filter((l) => l.msg === 'listening').length;
    process.kill(childPids(serve.child.pid)[0] as number, 'SIGKILL');
    await serve.waitForLines('listening', listening + 1, 30_000);
    for (let i = 0; i < 8; i++) {
      const answer = await httpsGet('fleet.shop.test', `/k${i}`);
      assert.equal(answer.status, 200);
      assert.match(answer.issuer, /Pebble/, 'the replacement serves the ordered certificate too');
    }
    assert.equal(serve.lines.filter((l) => l.msg === 'certificate issued').length, 1, 'not ordered again');
    const status = await adminCall(adminPort, 'GET', '/status', {
      token: 'acme-test-token-0123456789abcdef',
    });
    const [cert] = status.body.certificates as { names: string[]; state: string }[];
    assert.deepEqual(cert.names, ['fleet.shop.test']);
    assert.equal(cert.state, 'valid');
    // The primary's order is counted once, by one worker, in the merged metrics.
    const orders = async () =>
      sampleValue(samples((await scrape(metricsPort)).text), 'candor_acme_orders_total', {
        name: 'fleet.shop.test',
        result: 'ok',
      });
    // The primary tells the counting worker after its log line: a scrape may come first.
    for (let tries = 0; (await orders()) !== 1; tries++) {
      assert.ok(tries < 50, 'the order counted once in the merged metrics');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    assert.equal(await serve.stop(), 0, serve.stderr());
  }
});

test('two gateways on one Redis order once: one holds the lock and orders, the other takes its certificate; the CA may validate through either', {
  timeout: 120_000,
}, async () => {
  const redis = await startRedis();
  const [otherHttp, otherTls] = await Promise.all([freePort(), freePort()]);
  const fleet = `store:\n  redis: { url: "${redis.url}" }\n`;
  const stores = [storage(), storage()];
  // Each gateway ordered from pebble before, alone: it knows the CA's issuers, the ground for
  // taking another's certificate from Redis (ca-issuers.ts). Pebble's root is no public one: a
  // gateway that never ordered from it would order its own.
  for (const [i, store] of stores.entries()) {
    const alone = await startGatewayFromText(config([`own${i}.shop.test`], store));
    try {
      await waitUntil('ordered alone', () => alone.logs.some((l) => l.msg === 'certificate issued'), 60_000);
    } finally {
      await alone.close();
    }
  }
  const first = config(['fleet2.shop.test'], stores[0], fleet);
  // The second gateway listens elsewhere: the CA's validations all come to the first one's
  // ports, which answers from Redis a token the second one put there.
  const second = config(['fleet2.shop.test'], stores[1], fleet)
    .replace(`127.0.0.1:${httpPort}`, `127.0.0.1:${otherHttp}`)
    .replace(`127.0.0.1:${tlsPort}`, `127.0.0.1:${otherTls}`);
  const [a, b] = await Promise.all([startGatewayFromText(first), startGatewayFromText(second)]);
  try {
    const settled = (gw: TestGateway) =>
      gw.logs.some((l) => l.msg === 'certificate issued' || l.msg === 'certificate taken from the fleet');
    await waitUntil('both gateways hold a certificate', () => settled(a) && settled(b), 60_000);
    const lines = [...a.logs, ...b.logs];
    assert.equal(lines.filter((l) => l.msg === 'certificate issued').length, 1, 'one order for the fleet');
    assert.equal(lines.filter((l) => l.msg === 'certificate taken from the fleet').length, 1);
    const [one, two] = await Promise.all([
      httpsGet('fleet2.shop.test', '/', tlsPort),
      httpsGet('fleet2.shop.test', '/', otherTls),
    ]);
    assert.equal(one.serial, two.serial, 'the same certificate on both gateways');
    assert.match(one.issuer, /Pebble/);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await redis.kill();
  }
});

test('a CA that offers ACME Renewal Information decides the renewal: a window moved into the past renews at once', {
  timeout: 120_000,
}, async () => {
  // Pebble has no ARI: a directory of its own adds renewalInfo, and sends the rest to pebble.
  const asked: string[] = [];
  const certs = testCertificates();
  const pebbleDirectory = await new Promise<Record<string, unknown>>((resolve, reject) =>
    https
      .get(pebble.directory, { ca: pebble.ca }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject),
  );
  const ari = https.createServer({ cert: certs.localhost.cert, key: certs.localhost.key }, (req, res) => {
    if (req.url === '/dir') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ ...pebbleDirectory, renewalInfo: `https://127.0.0.1:${port()}/renewal-info/` }),
      );
      return;
    }
    asked.push(String(req.url).replace('/renewal-info/', ''));
    const now = Date.now();
    res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '3600' });
    res.end(
      JSON.stringify({
        suggestedWindow: {
          start: new Date(now - 7_200_000).toISOString(),
          end: new Date(now - 3_600_000).toISOString(),
        },
      }),
    );
  });
  await new Promise<void>((resolve) => ari.listen(0, '127.0.0.1', resolve));
  const port = () => (ari.address() as AddressInfo).port;
  const store = storage();
  // Valid for 2 days: not due by the default schedule (two thirds in).
  const held = certificateFor(['ari.shop.test']);
  mkdirSync(join(store, 'certificates/ari.shop.test'), { recursive: true });
  copyFileSync(held.certPath, join(store, 'certificates/ari.shop.test/chain.pem'));
  copyFileSync(held.keyPath, join(store, 'certificates/ari.shop.test/key.pem'));
  const gw = await startGatewayFromText(
    config(['ari.shop.test'], store).replace(pebble.directory, `https://127.0.0.1:${port()}/dir`),
  );
  try {
    await waitUntil('renewed', () => gw.logs.some((l) => l.msg === 'certificate renewed'), 60_000);
    assert.equal(
      asked[0],
      certificateId(new X509Certificate(held.cert).raw),
      'asked for the held certificate by its ARI id',
    );
    const renewed = gw.gateway.status().certificates?.[0];
    assert.match(renewed?.issuer ?? '', /Pebble/);
    // Then the new certificate's window is asked for, and followed.
    await waitUntil('asked about the new one', () => asked.length >= 2, 30_000);
    assert.notEqual(asked[1], asked[0]);
  } finally {
    await gw.close();
    ari.close();
  }
});

test('a name ordered by TLS-ALPN-01: the TLS listener answers the validation before its own handshake, and serves the certificate', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const gw = await startGatewayFromText(
    config(['alpn.shop.test'], store).replace('challenges: [http-01]', 'challenges: [tls-alpn-01]'),
  );
  try {
    const cert = await certificateSettled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    // No HTTP-01 request came: the validation was the TLS listener's.
    assert.equal(gw.logs.filter((l) => l.msg === 'request' && l.acme === 'http-01').length, 0);
    const answer = await httpsGet('alpn.shop.test', '/after');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'app saw alpn.shop.test/after\n');
    assert.match(answer.issuer, /Pebble/);
  } finally {
    await gw.close();
  }
});

test('an http → https redirect route on the plain listener does not send the CA away: HTTP-01 is answered before routing', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const gw = await startGatewayFromText(
    config(['redirect.shop.test'], store).replace(
      'routes:\n',
      'routes:\n  - match: { scheme: http }\n    redirect: { scheme: https }\n',
    ),
  );
  try {
    const cert = await certificateSettled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    const validation = gw.logs.find((l) => l.msg === 'request' && l.acme === 'http-01');
    assert.equal(validation?.status, 200);
    // Any other plain request is redirected.
    const plain = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .get(`http://127.0.0.1:${httpPort}/cart?x=1`, { headers: { host: 'redirect.shop.test' } }, resolve)
        .on('error', reject),
    );
    plain.resume();
    assert.equal(plain.statusCode, 308);
    assert.equal(plain.headers.location, 'https://redirect.shop.test/cart?x=1');
    assert.equal((await httpsGet('redirect.shop.test', '/cart')).status, 200);
  } finally {
    await gw.close();
  }
});

test('TLS-ALPN-01 through a TCP load balancer that sends the PROXY header: validated, then served', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const gatewayPort = await freePort();
  const text = config(['lb.shop.test'], store)
    .replace('challenges: [http-01]', 'challenges: [tls-alpn-01]')
    .replace(
      `  - address: 127.0.0.1:${tlsPort}\n    tls:\n`,
      `  - address: 127.0.0.1:${gatewayPort}\n    proxy_protocol: { from: [127.0.0.1] }\n    tls:\n`,
    );
  // The CA connects to tlsPort: the balancer there puts a header before each connection's ClientHello.
  const lb = await balancer(gatewayPort, 'PROXY TCP4 198.51.100.30 10.0.0.1 40000 443\r\n', tlsPort);
  const gw = await startGatewayFromText(text);
  try {
    const cert = await certificateSettled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    const answer = await httpsGet('lb.shop.test', '/through');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'app saw lb.shop.test/through\n');
    const line = gw.logs.find((l) => l.msg === 'request' && l.path === '/through');
    assert.equal(line?.client, '198.51.100.30');
  } finally {
    await gw.close();
    await lb.close();
  }
});

test('a stored certificate that cannot serve (garbage, a key that is not its own, another name) is told, not served, and ordered anew', {
  timeout: 120_000,
}, async () => {
  const certs = testCertificates();
  const other = certificateFor(['other.shop.test']);
  for (const [what, chain, key] of [
    ['garbage', 'not a certificate\n', certs.localhost.key],
    ['a key that is not its own', certs.localhost.cert, certs.client.key],
    ['a certificate of another name', other.cert, readFileSync(other.keyPath, 'utf8')],
  ] as const) {
    const store = storage();
    const dir = join(store, 'certificates', 'stored.shop.test');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'chain.pem'), chain);
    writeFileSync(join(dir, 'key.pem'), key);
    // Before: garbage failed the start with a bare OpenSSL error; a wrong key started, said
    // "valid" in /status and failed every handshake, without a line; so did another name's
    // certificate, served for this one.
    const gw = await startGatewayFromText(config(['stored.shop.test'], store));
    try {
      const told = gw.logs.find((l) => l.msg === 'stored certificate unusable: ordering a new one');
      assert.equal(told?.acme, 'stored.shop.test', what);
      assert.match(String(told?.err), new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      const cert = await certificateSettled(gw);
      assert.equal(cert.state, 'valid', `${what}: ${JSON.stringify(cert)}`);
      const answer = await httpsGet('stored.shop.test', '/again');
      assert.equal(answer.status, 200, what);
      assert.match(answer.issuer, /Pebble/);
    } finally {
      await gw.close();
    }
  }
});

test('an expired certificate being renewed is shown expired, not ordering: it is still what clients get', {
  timeout: 60_000,
}, async () => {
  // A CA that accepts connections and never answers: the renewal stays under way.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const store = storage();
  const expired = expiredCertificateFor(['late.shop.test']);
  mkdirSync(join(store, 'certificates/late.shop.test'), { recursive: true });
  copyFileSync(expired.certPath, join(store, 'certificates/late.shop.test/chain.pem'));
  copyFileSync(expired.keyPath, join(store, 'certificates/late.shop.test/key.pem'));
  const text = config(['late.shop.test'], store).replace(
    `directory: ${pebble.directory}`,
    `directory: https://127.0.0.1:${(silent.address() as AddressInfo).port}/dir`,
  );
  const gw = await startGatewayFromText(text);
  try {
    await waitUntil('the renewal under way', () => sockets.size > 0);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'expired', JSON.stringify(cert));
  } finally {
    await gw.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
