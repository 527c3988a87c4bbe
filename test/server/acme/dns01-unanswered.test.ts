/**
 * A DNS-01 update the zone's primary applied but never answered (its answer lost, the
 * connection cut): the order fails saying so, and the record that may be in the zone is
 * removed all the same, at once, not left there until the gateway's next start. Debian's Knot
 * DNS holds the zone, behind a TCP relay that, for the first connection only, forwards the
 * update and closes without its answer; pebble resolves through Knot.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Knot, startKnot } from '../../helpers/knot.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

let knot: Knot;
let pebble: Pebble;
let relay: net.Server;
let dir: string;
/** What the relay did with each connection, in order. */
const relayed: ('answer dropped' | 'passed')[] = [];
/** The zone's challenge records when Knot answered the dropped update. */
let inZoneThen = '';

before(async () => {
  dir = tempDir('candor-dns01-lost-');
  knot = await startKnot('example.test');
  const nowhere = await freePort();
  pebble = await startPebble({ httpPort: nowhere, tlsPort: nowhere, dnsServer: knot.address });
  process.env.CANDOR_TEST_TSIG = knot.secret;
  relay = net.createServer((client) => {
    const server = net.connect(knot.port, '127.0.0.1');
    client.pipe(server);
    server.on('error', () => client.destroy());
    client.on('error', () => server.destroy());
    if (relayed.length === 0) {
      relayed.push('answer dropped');
      // Knot has applied the update once it answers: that answer never reaches the gateway.
      server.once('data', () => {
        inZoneThen = challengeRecords();
        client.end();
        server.destroy();
      });
    } else {
      relayed.push('passed');
      server.pipe(client);
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  relay?.close();
  await pebble?.stop();
  await knot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The TXT records of `_acme-challenge.example.test` as Knot serves them now (kdig, not the gateway's own client). */
function challengeRecords(): string {
  return execFileSync(
    'kdig',
    ['@127.0.0.1', '-p', String(knot.port), '+short', '+tcp', 'TXT', '_acme-challenge.example.test'],
    { encoding: 'utf8', timeout: 10_000 },
  ).trim();
}

test('an update applied but not answered fails the order as a bad answer, and its record is removed at once, not at the next start', {
  timeout: 60_000,
}, async () => {
  const store = join(dir, 'acme');
  const tlsPort = await freePort();
  const gw = await startGatewayFromText(
    `listen:
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: ["*.example.test", example.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  storage: ${store}
  dns01:
    server: 127.0.0.1:${(relay.address() as net.AddressInfo).port}
    zone: example.test
    tsig: { name: ${knot.keyName}, algorithm: hmac-sha256, secret_env: CANDOR_TEST_TSIG }
    nameservers: [${knot.address}]
    propagation_timeout: 10s
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
    process.env,
  );
  try {
    await waitUntil('the order failed', () => (gw.gateway.status().certificates ?? [])[0]?.failures === 1);
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.last_error?.type, 'candor:dns-bad-answer');
    assert.match(cert.last_error?.detail ?? '', /the connection was closed before a whole answer$/);
    assert.match(inZoneThen, /^"[\w-]{43}"$/, 'the unanswered update was applied');
    assert.deepEqual(relayed, ['answer dropped', 'passed'], 'the update, then its removal');
    assert.equal(challengeRecords(), '', 'the record the unanswered update added is gone');
    const journal = join(store, 'challenges/dns-01');
    assert.deepEqual(existsSync(journal) ? readdirSync(journal) : [], [], 'and unlisted');
  } finally {
    await gw.close();
  }
});
