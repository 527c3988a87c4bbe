/**
 * A certificate in the fleet's Redis (`store.redis`) is taken only when it can serve the name:
 * its key is its own, it names the name, it has not ended, it is a chain and a key at all, and
 * it is what this gateway's own CA gives (ca-issuers.ts). One that is not (put there by another
 * hand, another version, a staging gateway, a damaged value) is refused and said, and the
 * gateway orders its own (pebble, validating for real) and publishes it over it. The fleet's
 * entries are its ACME directory's; its locks and failed orders all end.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { directoryId } from '../../../src/server/acme/acme-store.ts';
import { certificateFor, expiredCertificateFor } from '../../helpers/named-certs.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
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
  const dir = tempDir('candor-acme-fleet-');
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

/** The key of a fleet entry of pebble's directory. */
function fleetKey(kind: 'certificate' | 'lock' | 'failed', name: string): string {
  return `candor:acme:${directoryId(pebble.directory)}:${kind}:${name}`;
}

/** A self-signed certificate for `name` valid for `days`, with its key. */
function selfSigned(name: string, days: number): { chain: string; key: string } {
  const dir = tempDir('candor-self-signed-');
  dirs.push(dir);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=DNS:${name}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    chain: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
  };
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
      await client.set(fleetKey('certificate', name), value(name));
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
        const published = JSON.parse((await client.get(fleetKey('certificate', name))) ?? '{}');
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
    await client.set(fleetKey('failed', name), 'garbage', 'PX', 60_000);
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
      const published = JSON.parse((await client.get(fleetKey('certificate', name))) ?? '{}');
      assert.match(String(published.chain), /BEGIN CERTIFICATE/);
    } finally {
      await gw.close();
    }
  } finally {
    client.disconnect();
  }
});

test("a certificate in the fleet's Redis that this gateway's CA did not issue is refused: self-signed for 100 years, or another CA's (a staging gateway's)", {
  timeout: 180_000,
}, async () => {
  const client = new Redis(redis.url);
  const cases: [string, RegExp, (name: string) => { chain: string; key: string }][] = [
    [
      'self-signed for 100 years',
      /lasts 36500 days|does not verify up to/,
      (name) => selfSigned(name, 36_500),
    ],
    [
      "another CA's (a staging CA on the same Redis)",
      /does not verify up to/,
      (name) => {
        const other = certificateFor([name]);
        return { chain: other.cert, key: readFileSync(other.keyPath, 'utf8') };
      },
    ],
  ];
  try {
    for (const [i, [what, reason, value]] of cases.entries()) {
      const name = `foreign${i}.shop.test`;
      const planted = JSON.stringify(value(name));
      // Where gateways of every directory looked before, and where this directory's look now.
      await client.set(`candor:acme:certificate:${name}`, planted);
      await client.set(fleetKey('certificate', name), planted);
      const gw = await startGatewayFromText(config(name));
      try {
        await waitUntil(
          'ordered or taken',
          () => gw.logs.some((l) => /^certificate (issued|order failed|taken)/.test(l.msg)),
          60_000,
        );
        // Before, it was taken ("certificate taken from the fleet"), served to clients, saved
        // over acme.storage and renewed in 2093.
        assert.equal(gw.logs.filter((l) => l.msg === 'certificate taken from the fleet').length, 0, what);
        const refused = gw.logs.filter((l) =>
          l.msg.startsWith("the fleet's certificate cannot serve this name"),
        );
        assert.equal(refused.length, 1, what);
        assert.match(String(refused[0].err), reason, what);
        assert.ok(
          gw.logs.some((l) => l.msg === 'certificate issued'),
          what,
        );
        assert.match(await servedIssuer(name), /Pebble/, what);
        const published = JSON.parse((await client.get(fleetKey('certificate', name))) ?? '{}');
        assert.notEqual(published.chain, JSON.parse(planted).chain, what);
      } finally {
        await gw.close();
      }
    }
  } finally {
    client.disconnect();
  }
});

test("a lock in the fleet's Redis with no expiry is given one; a failed order that would stop the fleet for a week, or is another directory's, does not", {
  timeout: 120_000,
}, async () => {
  const client = new Redis(redis.url);
  const locked = 'locked.shop.test';
  const failed = 'failed-week.shop.test';
  try {
    await client.set(fleetKey('lock', locked), 'someone');
    const week = JSON.stringify({
      type: 'urn:ietf:params:acme:error:rateLimited',
      detail: 'planted',
      until: Date.now() + 7 * 86_400_000,
      by: 'someone',
    });
    await client.set(fleetKey('failed', failed), week, 'PX', 7 * 86_400_000);
    await client.set(`candor:acme:failed:${failed}`, week, 'PX', 3_600_000);
    const gw = await startGatewayFromText(config(`${failed}, ${locked}`));
    try {
      await waitUntil(
        'the week-long failure passed by',
        () => gw.logs.some((l) => /^certificate (issued|order failed)/.test(l.msg) && l.acme === failed),
        60_000,
      );
      // Before, the planted failure was the fleet's: "certificate order failed", retry in a week.
      assert.deepEqual(
        gw.logs.filter((l) => l.acme === failed && l.msg === 'certificate order failed'),
        [],
      );
      assert.ok(gw.logs.some((l) => l.acme === failed && l.msg === 'certificate issued'));
      // The lock with no expiry was held for good before (PTTL -1): now it ends within an order's time.
      let ttl = -1;
      for (let tries = 0; ttl === -1 && tries < 300; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ttl = await client.pttl(fleetKey('lock', locked));
      }
      assert.ok(ttl > 0 && ttl <= 5 * 60_000, `lock expires in ${ttl} ms`);
    } finally {
      await gw.close();
    }
  } finally {
    client.disconnect();
  }
});
