/**
 * DNS-01 end to end: Debian's Knot DNS authoritative for example.test on a loopback port,
 * taking updates signed with a TSIG key; Debian's pebble resolving through it, so the TXT
 * record the gateway writes is the one the CA validates; a real gateway ordering one
 * certificate for `*.example.test` and its apex. Then a DNS server that refuses the update, one
 * that cannot be reached and a CA that refuses: each told as that hop's failure, the
 * certificate in service kept, the record gone after.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { updateTxt } from '../../../src/server/acme/dns-update.ts';
import { type Knot, startKnot } from '../../helpers/knot.ts';
import { certificateFor } from '../../helpers/named-certs.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
let knot: Knot;
let pebble: Pebble;
let upstream: http.Server;
let upstreamUrl = '';
let tlsPort = 0;
const dirs: string[] = [];

before(async () => {
  upstream = http.createServer((req, res) => res.end(`app saw ${req.headers.host}${req.url}\n`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  tlsPort = await freePort();
  knot = await startKnot('example.test');
  // No HTTP-01 nor TLS-ALPN-01 port of the gateway's for the CA: DNS-01 needs none.
  const nowhere = await freePort();
  pebble = await startPebble({ httpPort: nowhere, tlsPort: nowhere, dnsServer: knot.address });
  process.env.CANDOR_TEST_TSIG = knot.secret;
  process.env.CANDOR_TEST_TSIG_WRONG = Buffer.alloc(32, 7).toString('base64');
});

after(async () => {
  await pebble?.stop();
  await knot?.stop();
  upstream?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function storage(): string {
  const dir = tempDir('candor-dns01-');
  dirs.push(dir);
  return join(dir, 'acme');
}

function config(
  store: string,
  {
    directory = pebble.directory,
    server = knot.address,
    secretEnv = 'CANDOR_TEST_TSIG',
    extra = '',
    nameservers = knot.address,
    propagation = '10s',
  } = {},
): string {
  return `listen:
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: ["*.example.test", example.test] }
acme:
  directory: ${directory}
  ca: ${pebble.caPath}
  storage: ${store}
${extra}
  dns01:
    server: ${server}
    zone: example.test
    tsig: { name: ${knot.keyName}, algorithm: hmac-sha256, secret_env: ${secretEnv} }
    nameservers: [${nameservers}]
    propagation_timeout: ${propagation}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstreamUrl}" }]
`;
}

/** The TXT records of `_acme-challenge.example.test` as Knot serves them now (kdig, not the gateway's own client). */
function challengeRecords(): string {
  return execFileSync(
    'kdig',
    [`@127.0.0.1`, '-p', String(knot.port), '+short', '+tcp', 'TXT', '_acme-challenge.example.test'],
    { encoding: 'utf8', timeout: 10_000 },
  ).trim();
}

/** The certificate a TLS handshake with this SNI gets, and a GET's answer over it. */
function handshake(
  servername: string,
): Promise<{ serial: string; names: string; issuer: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: tlsPort, servername, rejectUnauthorized: false },
      () => {
        const cert = socket.getPeerX509Certificate();
        socket.write(`GET /where HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => {
          text += chunk;
        });
        socket.on('end', () =>
          resolve({
            serial: cert?.serialNumber ?? '',
            names: cert?.subjectAltName ?? '',
            issuer: cert?.issuer ?? '',
            body: text.slice(text.indexOf('\r\n\r\n') + 4),
          }),
        );
      },
    );
    socket.on('error', reject);
  });
}

async function settled(gw: TestGateway) {
  await waitUntil(
    'the certificate ordered, or its order failed',
    () => {
      const [cert] = gw.gateway.status().certificates ?? [];
      return (
        cert !== undefined &&
        cert.state !== 'ordering' &&
        (cert.failures > 0 || cert.issuer?.includes('Pebble') === true)
      );
    },
    60_000,
  );
  return (gw.gateway.status().certificates ?? [])[0];
}

/** A certificate of both names already in service, due at once (renew_before past its 2 days). */
function storedCertificate(store: string): string {
  const old = certificateFor(['*.example.test', 'example.test']);
  mkdirSync(join(store, 'certificates/_.example.test'), { recursive: true });
  copyFileSync(old.certPath, join(store, 'certificates/_.example.test/chain.pem'));
  copyFileSync(old.keyPath, join(store, 'certificates/_.example.test/key.pem'));
  return new X509Certificate(old.cert).serialNumber;
}

test('*.example.test and its apex on one certificate by DNS-01: the record written, seen, validated and removed', {
  timeout: 120_000,
}, async () => {
  const gw = await startGatewayFromText(config(storage()), process.env);
  try {
    const cert = await settled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    assert.deepEqual(cert.names, ['*.example.test', 'example.test']);
    assert.match(cert.issuer ?? '', /Pebble/);
    const wildcard = await handshake('a.example.test');
    const apex = await handshake('example.test');
    assert.match(wildcard.issuer, /Pebble/);
    assert.equal(apex.serial, wildcard.serial, 'one certificate for both');
    assert.deepEqual(wildcard.names.split(', ').sort(), ['DNS:*.example.test', 'DNS:example.test']);
    assert.equal(wildcard.body, 'app saw a.example.test/where\n');
    assert.equal(apex.body, 'app saw example.test/where\n');
    // Each authorization's record was seen at the zone's server before the CA was asked.
    const seen = gw.logs.filter(
      (l) => l.msg === 'DNS-01 record added and seen at every authoritative server',
    );
    assert.deepEqual(
      seen.map((l) => l.record),
      ['_acme-challenge.example.test', '_acme-challenge.example.test'],
    );
    assert.equal(challengeRecords(), '', 'no TXT record left behind');
    assert.equal(gw.logs.find((l) => l.msg === 'certificate issued')?.acme, '*.example.test');
  } finally {
    await gw.close();
  }
});

/**
 * The most `_acme-challenge.example.test` TXT values the zone held at once, replaying Knot's
 * journal: each changeset's removals, then its additions.
 */
function mostChallengeValuesAtOnce(journal: string): { most: number; left: number } {
  const held = new Set<string>();
  let most = 0;
  let section: 'removed' | 'added' | undefined;
  for (const line of journal.split('\n')) {
    if (/^;;\s*Removed/.test(line)) section = 'removed';
    else if (/^;;\s*Added/.test(line)) section = 'added';
    const record = /^_acme-challenge\.example\.test\.\s+\d+\s+TXT\s+"([^"]+)"/.exec(line);
    if (record === null || section === undefined) continue;
    if (section === 'removed') held.delete(record[1]);
    else held.add(record[1]);
    most = Math.max(most, held.size);
  }
  return { most, left: held.size };
}

test("a wildcard and its apex: both records are in the zone before the CA validates either (its resolver may keep the first one's answer for the record's TTL)", {
  timeout: 120_000,
}, async () => {
  const before = mostChallengeValuesAtOnce(knot.changes());
  assert.equal(before.left, 0, 'no record left by an earlier test');
  const gw = await startGatewayFromText(config(storage()), process.env);
  try {
    const cert = await settled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    const journal = knot.changes();
    const history = mostChallengeValuesAtOnce(journal);
    assert.equal(history.most, 2, `both values in the zone at once:\n${journal}`);
    assert.equal(history.left, 0, 'both removed after');
    assert.equal(challengeRecords(), '');
  } finally {
    await gw.close();
  }
});

test('candor serve with two workers: the primary orders the wildcard once, every worker serves it for any name under it and the apex', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const dir = join(store, '..');
  const adminPort = await freePort();
  writeFileSync(join(dir, 'token'), 'dns01-test-token-0123456789abcdef', { mode: 0o600 });
  const file = join(dir, 'candor.yaml');
  writeFileSync(file, `${config(store)}admin:\n  listen: 127.0.0.1:${adminPort}\n  token_file: token\n`);
  const serve = await startServe(file, 2, { admin: true });
  try {
    await serve.waitForLines('certificate issued', 1, 60_000);
    // The primary logs the order before each worker has read the certificate from the store it
    // tells them of: the handshakes are judged once twelve in a row find one (either worker, as
    // SO_REUSEPORT deals them), bounded.
    let served = 0;
    await waitUntil(
      'twelve handshakes in a row served',
      async () => {
        served = (await handshake('example.test').then(
          () => true,
          () => false,
        ))
          ? served + 1
          : 0;
        return served >= 12;
      },
      10_000,
    );
    const serials = new Set<string>();
    for (const name of [
      'a.example.test',
      'b.example.test',
      'example.test',
      'c.example.test',
      'example.test',
      'd.example.test',
    ]) {
      const answer = await handshake(name);
      assert.match(answer.issuer, /Pebble/, `${name}: every worker serves the ordered certificate`);
      assert.equal(answer.body, `app saw ${name}/where\n`);
      serials.add(answer.serial);
    }
    assert.equal(serials.size, 1, 'one certificate');
    assert.equal(serve.lines.filter((l) => l.msg === 'certificate issued').length, 1, 'ordered once');
    const status = await adminCall(adminPort, 'GET', '/status', {
      token: 'dns01-test-token-0123456789abcdef',
    });
    const [cert] = status.body.certificates as { names: string[]; state: string }[];
    assert.deepEqual(cert.names, ['*.example.test', 'example.test']);
    assert.equal(cert.state, 'valid');
    assert.equal(challengeRecords(), '');
  } finally {
    assert.equal(await serve.stop(), 0, serve.stderr());
  }
});

test('a record a killed gateway left in the zone is removed at the next start, by its value: another record of the name stays', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const dir = join(store, '..');
  // The wait for an unreachable secondary holds the order with its record in the zone.
  const waiting = join(dir, 'waiting.yaml');
  const secondary = `127.0.0.1:${await freePort()}`;
  writeFileSync(waiting, config(store, { nameservers: `${knot.address}, ${secondary}`, propagation: '60s' }));
  const killed = await startServe(waiting, 1);
  let left = '';
  try {
    await waitUntil("the order's record in the zone", () => challengeRecords() !== '', 30_000);
    left = challengeRecords();
  } finally {
    killed.child.kill('SIGKILL');
    await killed.stop();
  }
  const other = { server: { host: '127.0.0.1', port: knot.port }, zone: 'example.test' };
  const key = {
    name: knot.keyName,
    algorithm: 'hmac-sha256' as const,
    secret: Buffer.from(knot.secret, 'base64'),
  };
  const change = { ...other, key, name: '_acme-challenge.example.test', value: 'another-order-of-this-name' };
  await updateTxt(change, 'add');
  try {
    assert.equal(challengeRecords().split('\n').length, 2, "the killed order's record is still there");
    const gw = await startGatewayFromText(config(store), process.env);
    try {
      assert.equal((await settled(gw)).state, 'valid');
      const removed = gw.logs.find((l) => l.msg === 'DNS-01 record an earlier run left in the zone removed');
      assert.deepEqual(
        removed && { record: removed.record, zone: removed.zone, value: `"${removed.value}"` },
        { record: '_acme-challenge.example.test', zone: 'example.test', value: left },
      );
      assert.equal(challengeRecords(), '"another-order-of-this-name"');
      assert.deepEqual(readdirSync(join(store, 'challenges/dns-01')), [], 'nothing listed any more');
    } finally {
      await gw.close();
    }
  } finally {
    await updateTxt(change, 'delete');
  }
});

test('an entry of the list of records left that cannot be read is told at start, and the gateway runs on and orders', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  // A folder where the list keeps a record's file: reading it fails (EISDIR). Unawaited at
  // start, that failure was an unhandled rejection, and the process ended.
  mkdirSync(join(store, 'challenges/dns-01/odd.json'), { recursive: true });
  const path = join(store, '..', 'odd-entry.yaml');
  writeFileSync(path, config(store));
  const serve = await startServe(path, 1);
  try {
    await serve.waitForLines(
      'DNS-01 records an earlier run left could not be listed: any it left stay in the zone',
      1,
      20_000,
    );
    const told = serve.lines.find((l) => String(l.msg).startsWith('DNS-01 records an earlier run left'));
    assert.match(String(told?.err), /EISDIR/);
    await serve.waitForLines('certificate issued', 1, 60_000);
    assert.equal(serve.child.exitCode, null, 'the gateway runs on');
  } finally {
    await serve.stop();
  }
});

test('an entry of the list of records left whose content cannot be read (a damaged file) is told at start, naming it, not dropped in silence', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  mkdirSync(join(store, 'challenges/dns-01'), { recursive: true });
  writeFileSync(
    join(store, 'challenges/dns-01/0123456789abcdef0123456789abcdef.json'),
    '{"record":"_acme-chal',
    {
      mode: 0o600,
    },
  );
  const gw = await startGatewayFromText(config(store), process.env);
  try {
    assert.equal((await settled(gw)).state, 'valid');
    // The record it named, if any, stays in the zone: it was unlisted with nothing said.
    const told = gw.logs.find((l) => l.entry === '0123456789abcdef0123456789abcdef');
    assert.equal(told?.level, 'warn', JSON.stringify(gw.logs.filter((l) => l.level !== 'info')));
    assert.equal(
      told?.msg,
      'DNS-01 record an earlier run left: its entry cannot be read, so any record it named stays in the zone (remove it by hand)',
    );
    assert.deepEqual(readdirSync(join(store, 'challenges/dns-01')), [], 'unlisted all the same');
  } finally {
    await gw.close();
  }
});

test('a DNS server that refuses the update (a wrong TSIG secret) is named with its rcode; the certificate in service is kept', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const serial = storedCertificate(store);
  const gw = await startGatewayFromText(
    config(store, { secretEnv: 'CANDOR_TEST_TSIG_WRONG', extra: '  renew_before: 72h' }),
    process.env,
  );
  try {
    const cert = await settled(gw);
    assert.equal(cert.state, 'valid');
    assert.equal(cert.failures, 1);
    assert.equal(cert.last_error?.type, 'candor:dns-refused');
    assert.equal(
      cert.last_error?.detail,
      `the DNS server ${knot.address} refused the addition of _acme-challenge.example.test TXT in zone example.test: NOTAUTH (TSIG BADSIG)`,
    );
    const failed = gw.logs.find((l) => l.msg === 'certificate renewal failed');
    assert.equal(failed?.acme_error, 'candor:dns-refused');
    assert.equal((await handshake('a.example.test')).serial, serial, 'the old certificate still served');
    assert.equal((await handshake('example.test')).serial, serial);
    assert.equal(challengeRecords(), '');
    const logged = JSON.stringify(gw.logs);
    assert.ok(!logged.includes(knot.secret), 'the TSIG secret is in no log line');
    assert.ok(!logged.includes(process.env.CANDOR_TEST_TSIG_WRONG as string), 'nor the wrong one');
  } finally {
    await gw.close();
  }
});

test("a wrong TSIG secret mended in the environment (the config's file unchanged) orders at once at the restart, not after the backoff", {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const text = config(store, { secretEnv: 'CANDOR_TEST_TSIG_MENDED' });
  process.env.CANDOR_TEST_TSIG_MENDED = process.env.CANDOR_TEST_TSIG_WRONG;
  const first = await startGatewayFromText(text, process.env);
  try {
    assert.equal((await settled(first)).last_error?.type, 'candor:dns-refused');
  } finally {
    await first.close();
  }
  // The only fix for a BADSIG is the secret, which is never in the file: the restart with it
  // mended waited out the backoff (at most 6 hours) as if nothing had changed.
  process.env.CANDOR_TEST_TSIG_MENDED = knot.secret;
  const second = await startGatewayFromText(text, process.env);
  try {
    assert.ok(
      !second.logs.some((l) => /waits out its backoff/.test(l.msg)),
      JSON.stringify(second.logs.filter((l) => l.acme !== undefined)),
    );
    const cert = await settled(second);
    assert.equal(cert.state, 'valid');
    assert.match(cert.issuer ?? '', /Pebble/);
  } finally {
    await second.close();
    delete process.env.CANDOR_TEST_TSIG_MENDED;
  }
});

test("a TSIG key's name written with its final dot (certbot's dns_rfc2136_name = keyname.) is the server's key: the server's signed answers are believed", {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const text = config(store).replace(`name: ${knot.keyName},`, `name: ${knot.keyName}.,`);
  assert.match(text, /name: candor-key\.,/);
  const gw = await startGatewayFromText(text, process.env);
  try {
    // Knot took each update and signed its answer with the key, named without the dot: the
    // answer was told "not signed with the key candor-key. (its MAC does not match)", the order
    // failed candor:dns-bad-answer, and the removal it did apply was logged as not done.
    const cert = await settled(gw);
    assert.equal(cert.state, 'valid', JSON.stringify(cert.last_error));
    assert.equal(cert.failures, 0);
    assert.equal(challengeRecords(), '');
    assert.ok(!gw.logs.some((l) => l.msg.startsWith('DNS-01 record not removed')));
    assert.deepEqual(readdirSync(join(store, 'challenges/dns-01')), [], 'nothing left listed');
  } finally {
    await gw.close();
  }
});

test('a DNS server that cannot be reached is told as unreachable, naming it', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const serial = storedCertificate(store);
  const down = `127.0.0.1:${await freePort()}`;
  const gw = await startGatewayFromText(
    config(store, { server: down, extra: '  renew_before: 72h' }),
    process.env,
  );
  try {
    const cert = await settled(gw);
    assert.equal(cert.last_error?.type, 'candor:dns-unreachable');
    assert.equal(cert.last_error?.detail, `the DNS server ${down} could not be reached: ECONNREFUSED`);
    assert.equal((await handshake('a.example.test')).serial, serial);
  } finally {
    await gw.close();
  }
});

test('a record not seen at every authoritative server in time is told naming the server; the CA is not asked, the record removed', {
  timeout: 120_000,
}, async () => {
  const store = storage();
  const serial = storedCertificate(store);
  const secondary = `127.0.0.1:${await freePort()}`;
  const gw = await startGatewayFromText(
    config(store, {
      nameservers: `${knot.address}, ${secondary}`,
      propagation: '2s',
      extra: '  renew_before: 72h',
    }),
    process.env,
  );
  try {
    const cert = await settled(gw);
    assert.equal(cert.last_error?.type, 'candor:dns-propagation');
    assert.equal(
      cert.last_error?.detail,
      `_acme-challenge.example.test TXT was not seen at ${secondary} (the DNS server ${secondary} could not be reached: ECONNREFUSED) within 2 s of its update: the CA was not asked`,
    );
    assert.equal((await handshake('a.example.test')).serial, serial);
    assert.equal(challengeRecords(), '', 'removed though never validated');
    assert.ok(
      !gw.logs.some((l) => l.msg === 'DNS-01 record added and seen at every authoritative server'),
      'never told seen, so the CA was not asked',
    );
  } finally {
    await gw.close();
  }
});

test('a CA that refuses the validation is told with its problem; the record is removed all the same, the old certificate kept', {
  timeout: 120_000,
}, async () => {
  // This CA resolves through its own DNS (pebble-challtestsrv), which has no such record.
  const nowhere = await freePort();
  const blind = await startPebble({ httpPort: nowhere, tlsPort: nowhere });
  const store = storage();
  const serial = storedCertificate(store);
  const gw = await startGatewayFromText(
    config(store, { directory: blind.directory, extra: '  renew_before: 72h' }),
    process.env,
  );
  try {
    const cert = await settled(gw);
    assert.equal(cert.failures, 1);
    assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:unauthorized', JSON.stringify(cert));
    // Both validations fail: the first the CA lists is told, the wildcard's or the apex's (pebble's order varies).
    assert.match(cert.last_error?.detail ?? '', /^(\*\.)?example\.test \(dns-01\): /);
    assert.equal((await handshake('a.example.test')).serial, serial);
    assert.equal(challengeRecords(), '', 'removed after the failed validation');
    assert.ok(
      gw.logs.some((l) => l.msg === 'DNS-01 record added and seen at every authoritative server'),
      'the record was there when the CA was asked',
    );
  } finally {
    await gw.close();
    await blind.stop();
  }
});

test("a wildcard's validation the CA refuses is told as the wildcard's, not its apex's, which HTTP-01 proved", {
  timeout: 120_000,
}, async () => {
  // The apex by HTTP-01 at the plain listener; the wildcard by DNS-01, which this CA looks for
  // through its own DNS (pebble-challtestsrv), where the record never is.
  const plainPort = await freePort();
  const nowhere = await freePort();
  const blind = await startPebble({ httpPort: plainPort, tlsPort: nowhere });
  const text = config(storage(), {
    directory: blind.directory,
    extra: '  challenges: [http-01, dns-01]',
  }).replace('listen:\n', `listen:\n  - address: 127.0.0.1:${plainPort}\n`);
  const gw = await startGatewayFromText(text, process.env);
  try {
    const cert = await settled(gw);
    assert.equal(cert.failures, 1);
    assert.equal(cert.last_error?.type, 'urn:ietf:params:acme:error:unauthorized', JSON.stringify(cert));
    assert.match(cert.last_error?.detail ?? '', /^\*\.example\.test \(dns-01\): /);
    assert.ok(
      gw.logs.some((l) => l.msg === 'request' && l.acme === 'http-01' && l.status === 200),
      "the apex's token was asked for and answered",
    );
    assert.equal(challengeRecords(), '', 'removed after the failed validation');
  } finally {
    await gw.close();
    await blind.stop();
  }
});

test('candor diagnose --acme on a wildcard writes, sees and removes a probe record; a refused update is the verdict, with its rcode and the fix', {
  timeout: 90_000,
}, async () => {
  const store = storage();
  const file = join(store, '..', 'candor.yaml');
  const run = (text: string) => {
    writeFileSync(file, text);
    return new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'diagnose', '--acme', '*.example.test', '--config', file], {
        timeout: 60_000,
      });
      let stdout = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.on('close', (code) => resolve({ code, stdout }));
    });
  };
  const good = await run(config(store));
  assert.equal(good.code, 0, good.stdout);
  assert.match(
    good.stdout,
    new RegExp(
      `✓ dns-01 {3}_acme-challenge\\.example\\.test TXT added at ${knot.address}, seen at every authoritative server, removed`,
    ),
  );
  assert.doesNotMatch(good.stdout, /✓ dns {6}/, 'no address needed of a name proven in its DNS');
  assert.match(good.stdout, /^verdict: nothing found that would make an order for \*\.example\.test fail$/m);
  assert.equal(challengeRecords(), '', 'the probe record removed');
  const refused = await run(config(store, { secretEnv: 'CANDOR_TEST_TSIG_WRONG' }));
  assert.equal(refused.code, 2, refused.stdout);
  assert.match(refused.stdout, /✗ dns-01 {3}_acme-challenge\.example\.test TXT: candor:dns-refused/);
  assert.match(
    refused.stdout,
    /refused the addition of _acme-challenge\.example\.test TXT in zone example\.test: NOTAUTH \(TSIG BADSIG\)/,
  );
  assert.match(
    refused.stdout,
    /^verdict: DNS-01's record for \*\.example\.test cannot be written and seen \(candor:dns-refused\)$/m,
  );
  assert.match(refused.stdout, /^fix: let the key acme\.dns01\.tsig\.name update the zone at the primary/m);
});

test('candor diagnose --acme stopped by Ctrl-C while it waits for its probe record to be seen removes the record before it exits', {
  timeout: 90_000,
}, async () => {
  const store = storage();
  const file = join(store, '..', 'candor.yaml');
  // An authoritative server that cannot be reached holds the wait, the probe record in the zone.
  const secondary = `127.0.0.1:${await freePort()}`;
  writeFileSync(file, config(store, { nameservers: `${knot.address}, ${secondary}`, propagation: '60s' }));
  const child = spawn(process.execPath, [BIN, 'diagnose', '--acme', '*.example.test', '--config', file], {
    timeout: 60_000,
  });
  let output = '';
  child.stdout.on('data', (c) => {
    output += c;
  });
  child.stderr.on('data', (c) => {
    output += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await waitUntil('the probe record in the zone', () => challengeRecords() !== '', 30_000);
  child.kill('SIGINT');
  const code = await exited;
  // It was left in the zone for good: diagnose lists its probe nowhere a gateway would remove it from.
  assert.equal(challengeRecords(), '', `the probe record removed; exit ${code}: ${output}`);
  assert.equal(code, 130, output);
  assert.match(output, /interrupted: the probe record _acme-challenge\.example\.test TXT removed/);
});
