/**
 * `candor diagnose --acme NAME`: the checks a CA makes, against a real gateway that orders from
 * Debian's pebble, through the same DNS pebble asks: every check passing, port 80 (here the
 * port pebble validates on) not reaching the gateway, a name the config does not order, and the
 * last failed order read back from the store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-diagnose-acme-');
const file = join(dir, 'candor.yaml');
let pebble: Pebble;
let gateway: TestGateway;
let httpPort = 0;

before(async () => {
  let tlsPort: number;
  [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  pebble = await startPebble({ httpPort, tlsPort });
  const text = `listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [diag.shop.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  challenges: [http-01]
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;
  writeFileSync(file, text);
  gateway = await startGatewayFromText(text);
  // Its own order done first: a later one would rewrite what the last test puts in the store.
  await waitUntil(
    'the gateway holds its certificate',
    () => gateway.gateway.status().certificates?.[0]?.state === 'valid',
    60_000,
  );
});

after(async () => {
  await gateway?.close();
  await pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function diagnose(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ...args], { timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('every check passes: the name resolves, the CA answers, port 80 reaches this gateway', {
  timeout: 90_000,
}, async () => {
  const run = await diagnose([
    '--acme',
    'diag.shop.test',
    '--config',
    file,
    '--dns-server',
    pebble.dns,
    '--http-port',
    String(httpPort),
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^candor diagnose --acme diag\.shop\.test$/m);
  assert.match(run.stdout, /✓ dns {6}diag\.shop\.test → 127\.0\.0\.1/);
  assert.match(run.stdout, /✓ ca {7}directory read from/);
  assert.match(
    run.stdout,
    new RegExp(`✓ http-01 {2}port ${httpPort} of 127\\.0\\.0\\.1 reaches this gateway`),
  );
  assert.match(run.stdout, /^verdict: nothing found that would make an order for diag\.shop\.test fail$/m);
});

test('port 80 that does not reach the gateway is the verdict, with the fix', {
  timeout: 90_000,
}, async () => {
  const closed = await freePort();
  const run = await diagnose([
    '--acme',
    'diag.shop.test',
    '--config',
    file,
    '--dns-server',
    pebble.dns,
    '--http-port',
    String(closed),
  ]);
  assert.equal(run.code, 2);
  assert.match(run.stdout, new RegExp(`✗ http-01 {2}port ${closed} does not reach this gateway`));
  assert.match(run.stdout, new RegExp(`127\\.0\\.0\\.1:${closed}: ECONNREFUSED`));
  assert.match(run.stdout, /^verdict: the CA's HTTP-01 validation will not reach this gateway/m);
  assert.match(
    run.stdout,
    new RegExp(`^fix: let port ${closed} of 127\\.0\\.0\\.1 reach a plain listener`, 'm'),
  );
});

test('a name the config does not order, and the last failed order read from the store', {
  timeout: 90_000,
}, async () => {
  const other = await diagnose(['--acme', 'other.shop.test', '--config', file]);
  assert.equal(other.code, 2);
  assert.match(other.stdout, /✗ config {3}other\.shop\.test is in no listener's tls\.acme\.names/);
  assert.match(other.stdout, /^fix: add other\.shop\.test to listen\[\]\.tls\.acme\.names/m);
  mkdirSync(join(dir, 'acme/certificates/diag.shop.test'), { recursive: true });
  writeFileSync(
    join(dir, 'acme/certificates/diag.shop.test/last-error.json'),
    JSON.stringify({
      type: 'urn:ietf:params:acme:error:caa',
      detail: 'CAA record forbids issuance',
      at: '2026-11-23T08:00:00.000Z',
    }),
  );
  const run = await diagnose([
    '--acme',
    'diag.shop.test',
    '--config',
    file,
    '--dns-server',
    pebble.dns,
    '--http-port',
    String(httpPort),
    '--json',
  ]);
  const json = JSON.parse(run.stdout);
  const stored = json.steps.find((s: { step: string }) => s.step === 'stored');
  assert.deepEqual(stored.notes, [
    'last failure 2026-11-23T08:00:00.000Z: urn:ietf:params:acme:error:caa: CAA record forbids issuance',
  ]);
  // The CA wrote the detail: its control characters are escaped for the terminal, not obeyed
  // (a window title set, the screen cleared, a line rewritten by a CR).
  writeFileSync(
    join(dir, 'acme/certificates/diag.shop.test/last-error.json'),
    JSON.stringify({
      type: 'urn:ietf:params:acme:error:caa',
      detail: 'CAA\u001b]0;pwned\u0007 record\r\u001b[2Jforbids',
      at: '2026-11-23T08:00:00.000Z',
    }),
  );
  const text = await diagnose([
    '--acme',
    'diag.shop.test',
    '--config',
    file,
    '--dns-server',
    pebble.dns,
    '--http-port',
    String(httpPort),
  ]);
  assert.doesNotMatch(text.stdout, /[\x00-\x09\x0b-\x1f]/);
  assert.match(text.stdout, /caa: CAA\\x1b\]0;pwned\\x07 record\\x0d\\x1b\[2Jforbids\n/);
});

test('a DNS server that fails the lookup (SERVFAIL) is told as that failure, not as a name with no A or AAAA record to add', {
  timeout: 90_000,
}, async () => {
  const dns = await startDnsServer();
  try {
    dns.set('diag.shop.test', 'servfail');
    const run = await diagnose(['--acme', 'diag.shop.test', '--config', file, '--dns-server', dns.address]);
    assert.equal(run.code, 2);
    // The records may well be there: "add an A record" sent the operator to a zone already right.
    assert.doesNotMatch(run.stdout, /has no A or AAAA record|add an A/);
    assert.match(
      run.stdout,
      /✗ dns {6}diag\.shop\.test could not be resolved: SERVFAIL \(A\), SERVFAIL \(AAAA\)/,
    );
    assert.match(
      run.stdout,
      /^verdict: the CA cannot resolve diag\.shop\.test either if its DNS fails so \(ACME error "dns"\)/m,
    );
    assert.match(run.stdout, /^fix: make diag\.shop\.test's DNS answer/m);
  } finally {
    await dns.close();
  }
});

test('a CAA lookup that fails (SERVFAIL) is told as a failure the CA refuses on, not as "no CAA record: any CA may issue"', {
  timeout: 90_000,
}, async () => {
  const dns = await startDnsServer();
  try {
    dns.set('diag.shop.test', [{ type: 'A', address: '127.0.0.1', ttl: 60 }]);
    // The parent's CAA cannot be read: a CA may not take that as leave to issue (RFC 8659 §3,
    // the CA/Browser Forum's rules); Let's Encrypt refuses `SERVFAIL looking up CAA`.
    dns.set('shop.test', 'servfail');
    const run = await diagnose([
      '--acme',
      'diag.shop.test',
      '--config',
      file,
      '--dns-server',
      dns.address,
      '--http-port',
      String(httpPort),
    ]);
    assert.doesNotMatch(run.stdout, /any CA may issue/);
    assert.match(run.stdout, /✗ caa {6}the CAA records of shop\.test could not be read: SERVFAIL/);
    assert.match(
      run.stdout,
      /^verdict: the CA refuses to issue for diag\.shop\.test while its CAA records cannot be read \(ACME error "caa"\)/m,
    );
    assert.equal(run.code, 2);
  } finally {
    await dns.close();
  }
});

test('an IP address is not told to be added to tls.acme.names, which candor check refuses', {
  timeout: 90_000,
}, async () => {
  for (const ip of ['203.0.113.7', '2001:db8::7']) {
    const run = await diagnose(['--acme', ip, '--config', file]);
    assert.equal(run.code, 2);
    assert.match(
      run.stdout,
      new RegExp(`✗ config {3}${ip.replaceAll('.', '\\.')} is in no listener's tls\\.acme\\.names`),
    );
    assert.doesNotMatch(run.stdout, /^fix: add /m);
    assert.match(
      run.stdout,
      /^fix: an IP address is not ordered \(ACME gives it an identifier of its own, RFC 8738, which Candor does not order\): serve it a tls\.cert, or order a DNS name that resolves to it$/m,
    );
  }
});

test('a name written with its final dot is the name ordered; one tls.acme.names would refuse is not told to be added', {
  timeout: 90_000,
}, async () => {
  const dotted = await diagnose([
    '--acme',
    'diag.shop.test.',
    '--config',
    file,
    '--dns-server',
    pebble.dns,
    '--http-port',
    String(httpPort),
  ]);
  assert.match(dotted.stdout, /✓ config {3}ordered from /);
  assert.match(dotted.stdout, /✓ http-01 {2}port \d+ of 127\.0\.0\.1 reaches this gateway/);
  // A wildcard loads only with acme.dns01, which this config has not.
  const wildcard = await diagnose(['--acme', '*.shop.test', '--config', file]);
  assert.match(
    wildcard.stdout,
    /^fix: add \*\.shop\.test to listen\[\]\.tls\.acme\.names of the TLS listener that serves it, with acme\.dns01 \(a wildcard is proven only by DNS-01\)$/m,
  );
  for (const name of ['bad name', 'a_b.shop.test']) {
    const run = await diagnose(['--acme', name, '--config', file]);
    assert.equal(run.code, 2);
    assert.doesNotMatch(run.stdout, /^fix: add /m);
    assert.match(
      run.stdout,
      new RegExp(
        `^fix: ${name} is no name tls\\.acme\\.names takes: a DNS name like www\\.example\\.com, or a wildcard like \\*\\.example\\.com$`,
        'm',
      ),
    );
  }
});
