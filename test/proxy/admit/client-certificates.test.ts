/**
 * Client certificates on incoming connections (issue 59, item 3), through a real `candor serve`:
 * a CA made here with the openssl CLI issues a good, an expired and a revoked certificate (its
 * CRL lists the last), another CA an untrusted one; over HTTP/1.1 and HTTP/2 a route that
 * requires a certificate lets in only the good one (403 with a body that says why otherwise,
 * never a TLS alert on an `optional` listener), the upstream is told the certificate in RFC
 * 9440's Client-Cert and Client-Cert-Chain (byte for byte the DER) and never the client's own
 * copies of those fields; a `require` listener refuses the handshake itself; a reload reads the
 * CRL again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const dir = tempDir('candor-client-certs-');
const openssl = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync('openssl', args, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });

const CA_CONFIG = `[ca]
default_ca = own
[own]
dir = .
database = db/index.txt
serial = db/serial
crlnumber = db/crlnumber
new_certs_dir = db
default_md = sha256
default_crl_days = 2
unique_subject = no
policy = any
[any]
commonName = supplied
[leaf]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
`;

/** A self-signed CA (`name`.pem, `name`.key). */
function makeCa(name: string): void {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
  ]);
}

/** A client certificate `name`.pem (and .key) for CN=`cn`, issued by `ca` for these dates. */
function issue(name: string, cn: string, san: string, ca: string, start: string, end: string): void {
  openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  ]);
  openssl(
    ['ca', '-config', 'ca.cnf', '-batch', '-notext', '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`]
      .concat(['-startdate', start, '-enddate', end, '-extensions', 'leaf'])
      .concat(['-in', `${name}.csr`, '-out', `${name}.pem`]),
    { SAN: san },
  );
}

function revoke(name: string): void {
  openssl(
    ['ca', '-config', 'ca.cnf', '-cert', 'root.pem', '-keyfile', 'root.key', '-revoke', `${name}.pem`],
    {
      SAN: 'none',
    },
  );
  openssl(
    ['ca', '-config', 'ca.cnf', '-cert', 'root.pem', '-keyfile', 'root.key', '-gencrl', '-out', 'crl.pem'],
    {
      SAN: 'none',
    },
  );
}

const GOOD_FROM = '20250101000000Z';
const GOOD_TO = '20991231000000Z';
let app: Fault;
let serve: ServeProcess | undefined;
let requirePort = 0;
let adminPort = 0;
const TOKEN = 'client-certificates-token-0123456789';
const server = testCertificates();

before(async () => {
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'db', 'index.txt'), '');
  writeFileSync(join(dir, 'db', 'serial'), '1000\n');
  writeFileSync(join(dir, 'db', 'crlnumber'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  makeCa('root');
  makeCa('other');
  issue('alice', 'alice', 'email:alice@example.com,DNS:alice.example.com', 'root', GOOD_FROM, GOOD_TO);
  issue('bob', 'bob', 'email:bob@example.com', 'root', '20200101000000Z', '20200102000000Z');
  issue('carol', 'carol', 'email:carol@example.com', 'root', GOOD_FROM, GOOD_TO);
  issue('dave', 'dave', 'email:dave@example.com', 'root', GOOD_FROM, GOOD_TO);
  issue('mallory', 'alice', 'email:alice@example.com', 'other', GOOD_FROM, GOOD_TO);
  revoke('carol');
  app = await startEcho();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'users.htpasswd'), `alice:${bcrypt.hashSync('alice pass', 4)}\n`);
  adminPort = await freePort();
  writeFileSync(
    join(dir, 'candor.yaml'),
    `admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }
listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: root.pem, crl: crl.pem, mode: optional }
  - name: strict
    address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
      client_certificates: { ca: root.pem, crl: crl.pem }
routes:
  - match: { path: /secure }
    upstream: app
    auth:
      client_certificate: { subjects: [alice, dave], identity: san:email }
      identity_header: X-User
  - match: { path: /picky }
    upstream: app
    auth:
      client_certificate: { sans: ["dns:zed.example.com"] }
  - match: { path: /open }
    upstream: app
  - name: counted
    match: { path: /counted }
    upstream: app
    auth:
      client_certificate: {}
      basic: { users_file: users.htpasswd }
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
  );
  serve = await startServe(join(dir, 'candor.yaml'), 1, { admin: true });
  await serve.waitForLines('listening', 2);
  const listening = serve.lines.filter((l) => l.msg === 'listening');
  requirePort = Number(String(listening[1]?.address).split(':').at(-1));
});

after(async () => {
  await closeAll(serve, app);
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
  /** HTTP/1.1: the TLS session was resumed. */
  readonly reused?: boolean;
}

type Who = 'alice' | 'bob' | 'carol' | 'dave' | 'erin' | 'frank' | 'mallory' | undefined;

const SPOOFED = {
  'client-cert': ':AAAA:',
  'client-cert-chain': ':AAAA:',
  'x-ssl-client-cert': 'spoofed',
  'x-ssl-client-verify': 'SUCCESS',
  'x-forwarded-client-cert': 'Hash=spoofed',
  'x-user': 'root',
};

function credentials(who: Who) {
  return who === undefined
    ? {}
    : { cert: readFileSync(join(dir, `${who}.pem`)), key: readFileSync(join(dir, `${who}.key`)) };
}

function overHttp1(
  port: number,
  path: string,
  who: Who,
  agent: https.Agent | false = false,
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      path,
      method,
      servername: 'localhost',
      ca: server.ca,
      agent,
      headers: { accept: 'application/json', ...SPOOFED },
      ...credentials(who),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      const reused = (res.socket as TLSSocket).isSessionReused();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body, reused }),
      );
    });
    req.end();
  });
}

function overHttp2(port: number, path: string, who: Who): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, {
      host: '127.0.0.1',
      servername: 'localhost',
      ca: server.ca,
      ...credentials(who),
    });
    session.on('error', reject);
    const stream = session.request({ ':path': path, accept: 'application/json', ...SPOOFED });
    let status = 0;
    let type: string | undefined;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      type = headers['content-type'] as string | undefined;
    });
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    // A connection closed under it (a refused handshake) ends the stream with no answer at all.
    stream.on('end', () => {
      session.close();
      if (status === 0) reject(new Error(`no answer (stream closed, code ${stream.rstCode})`));
      else resolve({ status, type, body });
    });
    stream.on('error', reject);
  });
}

/** The negotiated problem+json's detail for a refusal the gateway explains. */
const refusedFor = (details: string) =>
  `The gateway "candor" answered on its own: the gateway refused to forward this request. Details: ${details}.`;

const der = (name: string) =>
  `:${new X509Certificate(readFileSync(join(dir, `${name}.pem`))).raw.toString('base64')}:`;

/** The fields of the last request the upstream received, as lower-cased name and value. */
function lastReceived(): (readonly [string, string])[] {
  const last = app.received.at(-1);
  assert.ok(last !== undefined, 'the upstream received nothing');
  return last.rawHeaders.map(([name, value]) => [name.toLowerCase(), value] as const);
}

for (const [protocol, ask] of [
  ['HTTP/1.1', overHttp1],
  ['HTTP/2', overHttp2],
] as const) {
  test(`${protocol}: a trusted certificate is let in, told upstream as Client-Cert (its DER) and Client-Cert-Chain, the client's copies dropped`, async () => {
    const port = serve?.port ?? 0;
    const before = app.received.length;
    const answer = await ask(port, '/secure', 'alice');
    assert.equal(answer.status, 200);
    assert.equal(app.received.length, before + 1);
    const fields = lastReceived();
    const of = (name: string) => fields.filter(([n]) => n === name).map(([, v]) => v);
    assert.deepEqual(of('client-cert'), [der('alice')]);
    assert.deepEqual(of('client-cert-chain'), [der('root')]);
    assert.deepEqual(of('x-user'), ['alice@example.com']);
    assert.deepEqual(of('x-ssl-client-cert'), []);
    assert.deepEqual(of('x-ssl-client-verify'), []);
    assert.deepEqual(of('x-forwarded-client-cert'), []);
    // The log's user is the certificate's SAN chosen by `identity`.
    await serve?.waitForLines('request', 1);
    const line = serve?.lines.filter((l) => l.msg === 'request' && l.path === '/secure').at(-1);
    assert.equal(line?.user, 'alice@example.com');
  });

  test(`${protocol}: a route without auth still gets the verified certificate, and nothing for an unverified one`, async () => {
    const port = serve?.port ?? 0;
    assert.equal((await ask(port, '/open', 'dave')).status, 200);
    let fields = lastReceived();
    assert.deepEqual(
      fields.filter(([n]) => n === 'client-cert').map(([, v]) => v),
      [der('dave')],
    );
    assert.equal((await ask(port, '/open', 'mallory')).status, 200);
    fields = lastReceived();
    assert.deepEqual(
      fields.filter(([n]) => n.startsWith('client-cert') || n.includes('ssl-client')),
      [],
    );
  });

  for (const [who, status, says] of [
    [undefined, 403, 'this route needs a client certificate, and the connection sent none'],
    ['bob', 403, 'the client certificate was not accepted: it has expired'],
    ['carol', 403, 'the client certificate was not accepted: it has been revoked'],
    [
      'mallory',
      403,
      'the client certificate was not accepted: it is not issued by a certificate authority this gateway trusts',
    ],
  ] as const) {
    test(`${protocol}: ${who ?? 'no'} certificate on a route that requires one: ${status}, a body that says so, nothing upstream`, async () => {
      const port = serve?.port ?? 0;
      const before = app.received.length;
      const answer = await ask(port, '/secure', who);
      assert.equal(answer.status, status);
      assert.equal(answer.type, 'application/problem+json');
      assert.equal(JSON.parse(answer.body).detail, refusedFor(says));
      assert.equal(app.received.length, before);
    });
  }

  test(`${protocol}: a trusted certificate the route does not allow: 403`, async () => {
    const port = serve?.port ?? 0;
    const answer = await ask(port, '/picky', 'alice');
    assert.equal(answer.status, 403);
    assert.equal(
      JSON.parse(answer.body).detail,
      refusedFor('the client certificate is not one this route allows'),
    );
  });

  test(`${protocol}: mode require refuses the handshake of a client without a good certificate, and serves one with`, async () => {
    assert.equal((await ask(requirePort, '/secure', 'alice')).status, 200);
    for (const who of [undefined, 'bob', 'mallory'] as const)
      await assert.rejects(ask(requirePort, '/secure', who), `${who ?? 'none'} refused at the handshake`);
  });
}

test('a resumed TLS session keeps its certificate: the second connection is let in and told upstream as the first', async () => {
  const port = serve?.port ?? 0;
  // One connection a request, the TLS session kept between them (the agent's session cache).
  const agent = new https.Agent({ keepAlive: false, ...credentials('alice') });
  try {
    for (const reused of [false, true]) {
      const answer = await overHttp1(port, '/secure', 'alice', agent);
      assert.equal(answer.status, 200);
      assert.equal(answer.reused, reused);
      assert.deepEqual(
        lastReceived()
          .filter(([n]) => n === 'client-cert')
          .map(([, v]) => v),
        [der('alice')],
      );
    }
  } finally {
    agent.destroy();
  }
});

/** A certificate time (openssl's GeneralizedTime) `ms` from now, to the second. */
const certificateTime = (ms: number) =>
  `${new Date(Date.now() + ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

test('a TLS session resumed after its certificate expired: the certificate is judged again (403 on optional, no connection on require)', async () => {
  const port = serve?.port ?? 0;
  // CN dave: a subject /secure allows; good for a few seconds (ten: its first two requests, on a
  // loaded machine, must come before it expires).
  issue('erin', 'dave', 'email:erin@example.com', 'root', GOOD_FROM, certificateTime(10_000));
  const expires = new X509Certificate(readFileSync(join(dir, 'erin.pem'))).validToDate.getTime();
  const optional = new https.Agent({ keepAlive: false, ...credentials('erin') });
  const strict = new https.Agent({ keepAlive: false, ...credentials('erin') });
  try {
    assert.equal((await overHttp1(port, '/secure', 'erin', optional)).status, 200);
    assert.equal((await overHttp1(requirePort, '/open', 'erin', strict)).status, 200);
    // Past its notAfter (OpenSSL's clock reads whole seconds).
    while (Date.now() <= expires + 1000) await new Promise((resolve) => setTimeout(resolve, 100));
    const before = app.received.length;
    const answer = await overHttp1(port, '/secure', 'erin', optional);
    assert.equal(answer.reused, true, 'the session was resumed');
    assert.equal(answer.status, 403);
    assert.equal(
      JSON.parse(answer.body).detail,
      refusedFor('the client certificate was not accepted: it has expired'),
    );
    await assert.rejects(
      overHttp1(requirePort, '/open', 'erin', strict),
      'a require listener lets no request in',
    );
    assert.equal(app.received.length, before, 'nothing reached the upstream');
  } finally {
    optional.destroy();
    strict.destroy();
  }
});

test('a reload reads the CRL again: a certificate revoked since is refused', async () => {
  const port = serve?.port ?? 0;
  assert.equal((await overHttp1(port, '/secure', 'dave')).status, 200);
  revoke('dave');
  serve?.child.kill('SIGHUP');
  await serve?.waitForLines('config swapped', 1, 10_000);
  const answer = await overHttp1(port, '/secure', 'dave');
  assert.equal(answer.status, 403);
  assert.equal(
    JSON.parse(answer.body).detail,
    refusedFor('the client certificate was not accepted: it has been revoked'),
  );
});

test('POST /reload reads the CRL again too: a certificate revoked since is refused on a new connection', async () => {
  const port = serve?.port ?? 0;
  // CN dave: a subject /secure allows.
  issue('frank', 'dave', 'email:frank@example.com', 'root', GOOD_FROM, GOOD_TO);
  assert.equal((await overHttp1(port, '/secure', 'frank')).status, 200);
  revoke('frank');
  const swapped = serve?.lines.filter((l) => l.msg === 'config swapped').length ?? 0;
  assert.equal((await adminCall(adminPort, 'POST', '/reload', { token: TOKEN })).status, 200);
  await serve?.waitForLines('config swapped', swapped + 1, 10_000);
  const answer = await overHttp1(port, '/secure', 'frank');
  assert.equal(answer.status, 403);
  assert.equal(
    JSON.parse(answer.body).detail,
    refusedFor('the client certificate was not accepted: it has been revoked'),
  );
});

test("GET /status and the status page count each route's 401s and 403s by method", async () => {
  const port = serve?.port ?? 0;
  // No certificate: 403 before the credentials are looked at; a good one without them: 401.
  assert.equal((await overHttp1(port, '/counted', undefined)).status, 403);
  assert.equal((await overHttp1(port, '/counted', 'bob', false, 'POST')).status, 403);
  assert.equal((await overHttp1(port, '/counted', 'alice', false, 'POST')).status, 401);
  assert.equal((await overHttp1(port, '/counted', 'alice', false, 'POST')).status, 401);
  const answer = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
  assert.equal(answer.status, 200);
  const routes = answer.body.routes as Record<string, { refused: Record<string, unknown> }>;
  assert.deepEqual(routes.counted.refused, { GET: { 401: 0, 403: 1 }, POST: { 401: 2, 403: 1 } });
  if (noChromium) return;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    const row = page.locator('tr[data-route="counted"]');
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.locator('td.refused').textContent(), 'GET 403 ×1; POST 401 ×2, 403 ×1');
  } finally {
    await browser.close();
  }
});
