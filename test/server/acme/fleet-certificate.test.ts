/**
 * A certificate in the fleet's Redis (`store.redis`) is taken only when it can serve the name:
 * its key is its own, it names the name, it has not ended, it is a chain and a key at all. One
 * that cannot (put there by another hand, another version, a damaged value) is refused and
 * said, and the gateway orders its own (pebble, validating for real) and publishes it over it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { certificateFor, expiredCertificateFor } from '../../helpers/named-certs.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

let pebble: Pebble;
let redis: RedisProcess;
let httpPort = 0;
let tlsPort = 0;
const dirs: string[] = [];

before(async () => {
  [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  [pebble, redis] = await Promise.all([startPebble({ httpPort, tlsPort }), startRedis()]);
});

after(async () => {
  await pebble?.stop();
  await redis?.kill();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function config(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'candor-acme-fleet-'));
  dirs.push(dir);
  return `listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [${name}] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}
store:
  redis: { url: "${redis.url}" }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;
}

/** The issuer of the certificate served for `servername`, trusting pebble's issuing root only. */
async function servedIssuer(servername: string): Promise<string> {
  const ca = await pebble.issuingRoot();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername, ca }, () => {
      resolve(String(socket.getPeerCertificate().issuer?.CN ?? ''));
      socket.end();
    });
    socket.on('error', reject);
  });
}

test("a certificate in the fleet's Redis that cannot serve the name is refused and said; the gateway orders its own and publishes it", {
  timeout: 180_000,
}, async () => {
  const client = new Redis(redis.url);
  const wrongKey = testCertificates().client.key;
  const cases: [string, string, (name: string) => string][] = [
    [
      'a key that is not its own',
      'the key is not the key',
      (name) => JSON.stringify({ chain: certificateFor([name]).cert, key: wrongKey }),
    ],
    [
      'a certificate of another name',
      'does not name',
      () => {
        const other = certificateFor(['elsewhere.shop.test']);
        return JSON.stringify({ chain: other.cert, key: readFileSync(other.keyPath, 'utf8') });
      },
    ],
    [
      'a certificate that ended',
      'it ended',
      (name) => {
        const ended = expiredCertificateFor([name]);
        return JSON.stringify({ chain: ended.cert, key: readFileSync(ended.keyPath, 'utf8') });
      },
    ],
    ['not a chain and a key', 'not the JSON of a chain and a key', () => 'garbage'],
  ];
  try {
    for (const [i, [what, reason, value]] of cases.entries()) {
      const name = `shared${i}.shop.test`;
      await client.set(`candor:acme:certificate:${name}`, value(name));
      const gw = await startGatewayFromText(config(name));
      try {
        await waitUntil(
          'ordered or failed',
          () => gw.logs.some((l) => /^certificate (issued|order failed|taken)/.test(l.msg)),
          60_000,
        );
        // Before, a wrong key or name was taken ("certificate taken from the fleet"), saved over
        // the store's and served by no process, nothing ordered for an hour, then taken again.
        const refused = gw.logs.filter((l) =>
          l.msg.startsWith("the fleet's certificate cannot serve this name"),
        );
        assert.equal(refused.length, 1, what);
        assert.equal(refused[0].level, 'error', what);
        assert.equal(refused[0].acme, name, what);
        assert.match(String(refused[0].err), new RegExp(reason), what);
        assert.equal(gw.logs.filter((l) => l.msg === 'certificate taken from the fleet').length, 0, what);
        assert.ok(
          gw.logs.some((l) => l.msg === 'certificate issued'),
          what,
        );
        assert.equal(gw.gateway.status().certificates?.[0]?.state, 'valid', what);
        assert.match(await servedIssuer(name), /Pebble/, what);
        // The fleet holds the good one now.
        const published = JSON.parse((await client.get(`candor:acme:certificate:${name}`)) ?? '{}');
        assert.match(String(published.chain), /BEGIN CERTIFICATE/, what);
        assert.notEqual(published.key, wrongKey, what);
      } finally {
        await gw.close();
      }
    }
  } finally {
    client.disconnect();
  }
});

test("a failed order in the fleet's Redis that is not JSON is no failure: the gateway still orders under the fleet's lock and publishes", {
  timeout: 120_000,
}, async () => {
  const client = new Redis(redis.url);
  const name = 'failed-garbage.shop.test';
  try {
    await client.set(`candor:acme:failed:${name}`, 'garbage');
    const gw = await startGatewayFromText(config(name));
    try {
      await waitUntil(
        'ordered or failed',
        () => gw.logs.some((l) => /^certificate (issued|order failed)/.test(l.msg)),
        60_000,
      );
      // Before, the value failed the parse, told as "the fleet store did not answer": the
      // gateway ordered alone, without the lock, and shared nothing with the fleet.
      assert.deepEqual(
        gw.logs.filter((l) => l.msg.startsWith('the fleet store did not answer')),
        [],
      );
      assert.ok(gw.logs.some((l) => l.msg === 'certificate issued'));
      const published = JSON.parse((await client.get(`candor:acme:certificate:${name}`)) ?? '{}');
      assert.match(String(published.chain), /BEGIN CERTIFICATE/);
    } finally {
      await gw.close();
    }
  } finally {
    client.disconnect();
  }
});
