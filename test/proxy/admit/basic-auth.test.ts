/**
 * Basic authentication on a route against an htpasswd file (bcrypt $2y$/$2a$/$2b$, SHA-crypt
 * $5$/$6$): missing or bad credentials get 401 with the challenge, good ones pass without
 * their Authorization field (unless the route forwards it).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeHeapSnapshot } from 'node:v8';
import bcrypt from 'bcryptjs';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { decoyFor } from '../../../src/proxy/admit/basic-auth.ts';
import { parseShaCrypt, shaCrypt } from '../../../src/proxy/admit/sha-crypt.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** Hashes written by libxcrypt's crypt(3) (bcrypt $2y$ as Apache's htpasswd -B writes it, $2a$, SHA-crypt) and by bcryptjs ($2b$). */
const USERS = `# staff
alice:$2y$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK
bob:$2a$04$zyxwvutsrqponmlkjihgfem7wWFCcNWG2/TQ8BaVVwXB7mvtF/VsW
carol:$5$rounds=1000$saltsalt$R6e4P8ccT9iMqkYg7Z8YtpId/lfsIfnuPkp8WXposU8
dave:$6$pepper$eAQtOs5x0BUdulxAzj/qxBsQ9HFx8qUdjHdmS5FKODGOE8BFTsJrCWsboofymbihUgXKFBAmtfkCIaLiwpYd11
erin:${bcrypt.hashSync('erin pass', 4)}
`;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

function config(url: string, users: string): string {
  return `name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${users}, realm: "Staff area" }
  - name: passthrough
    match: { path: /pass }
    upstream: app
    auth:
      basic: { users_file: ${users} }
      forward_authorization: true
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

function usersFile(): string {
  const file = join(tempDir('candor-basic-'), 'users');
  writeFileSync(file, USERS);
  return file;
}

test('each hash kind lets its user in; the Authorization field stops at the gateway', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, usersFile()));
  try {
    const logins = [
      ['alice', 's3cret'],
      ['bob', 'pässwörd'],
      ['carol', 'correct horse'],
      ['dave', 'correct horse'],
      ['erin', 'erin pass'],
    ] as const;
    for (const [user, password] of logins) {
      const res = await request(gw.url, {
        path: `/admin/${user}`,
        headers: { authorization: basic(user, password), 'x-request-id': `ok-${user}` },
      });
      assert.equal(res.status, 200, user);
      assert.equal((await gw.logFor(`ok-${user}`)).auth, 'allowed');
    }
    assert.equal(echo.received.length, logins.length);
    for (const received of echo.received) assert.equal(received.headers.authorization, undefined);

    // Again: remembered, the same answer.
    const again = await request(gw.url, {
      path: '/admin',
      headers: { authorization: basic('alice', 's3cret') },
    });
    assert.equal(again.status, 200);

    const forwarded = await request(gw.url, {
      path: '/pass',
      headers: { authorization: basic('carol', 'correct horse') },
    });
    assert.equal(forwarded.status, 200);
    assert.equal(echo.received.at(-1)?.headers.authorization, basic('carol', 'correct horse'));
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('missing, malformed and bad credentials get 401 with the challenge, and nothing is forwarded', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, usersFile()));
  try {
    const cases = [
      [undefined, 'denied: basic no credentials', 'this route needs credentials'],
      ['Bearer abc', 'denied: basic no basic credentials', 'this route needs credentials'],
      ['Basic !!!', 'denied: basic malformed credentials', 'the credentials were not accepted'],
      [
        `Basic ${Buffer.from('no-colon').toString('base64')}`,
        'denied: basic malformed credentials',
        'the credentials were not accepted',
      ],
      [
        basic('alice', 'wrong'),
        'denied: basic bad credentials for user "alice"',
        'the credentials were not accepted',
      ],
      [
        basic('carol', 'correct horse!'),
        'denied: basic bad credentials for user "carol"',
        'the credentials were not accepted',
      ],
      [
        basic('mallory', 's3cret'),
        'denied: basic bad credentials for user "mallory"',
        'the credentials were not accepted',
      ],
      [
        basic('alice', ''),
        'denied: basic bad credentials for user "alice"',
        'the credentials were not accepted',
      ],
    ] as const;
    for (const [i, [authorization, note, details]] of cases.entries()) {
      const res = await request(gw.url, {
        path: '/admin/x',
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          accept: 'application/json',
          'x-request-id': `no-${i}`,
        },
      });
      assert.equal(res.status, 401, note);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff area", charset="UTF-8"');
      assert.equal(res.headers['proxy-status'], `edge-1; error=http_request_denied; details="${details}"`);
      assert.equal(JSON.parse(res.text).retryable, false);
      // It said "Retrying will not help until the upstream or the gateway configuration is fixed".
      assert.equal(
        JSON.parse(res.text).advice,
        'Send the request again with valid credentials, as the WWW-Authenticate challenge asks.',
      );
      const line = await gw.logFor(`no-${i}`);
      assert.equal(line.status, 401);
      assert.equal(line.auth, note);
    }
    assert.equal(echo.received.length, 0);
    const metrics = (await gw.gateway.metrics.exposition()).text;
    assert.match(
      metrics,
      new RegExp(`candor_access_decisions_total\\{route="admin",outcome="denied"\\} ${cases.length}\\n`),
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a route rule that removes WWW-Authenticate does not take it off the 401: it says how to authenticate (RFC 9110 §15.5.2: a 401 MUST carry it)', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${usersFile()}, realm: "Staff area" }
    response_headers:
      remove: [WWW-Authenticate, X-Powered-By]
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    const res = await request(gw.url, { path: '/admin/x' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff area", charset="UTF-8"');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an unknown user is checked against a decoy of the scheme, cost and salt length most users have', () => {
  const sha512 = '$6$rounds=20000$pepperpepper$' + 'x'.repeat(86);
  const sha256 = '$5$saltsalt$' + 'y'.repeat(43);
  const decoy = decoyFor(
    new Map([
      ['ann', sha512],
      ['ben', sha512],
      ['cat', sha256],
    ]),
  );
  assert.deepEqual(parseShaCrypt(decoy), {
    variant: '6',
    rounds: 20000,
    explicitRounds: true,
    salt: 'ssssssssssss',
  });
  // The rounds the file leaves implicit (5000) stay implicit, so the decoy's output is as long.
  assert.deepEqual(parseShaCrypt(decoyFor(new Map([['cat', sha256]]))), {
    variant: '5',
    rounds: 5000,
    explicitRounds: false,
    salt: 'ssssssss',
  });
  const cost5 = '$2y$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK';
  assert.match(
    decoyFor(
      new Map([
        ['alice', cost5],
        ['cat', sha256],
        ['bob', cost5],
      ]),
    ),
    /^\$2y\$05\$[./A-Za-z0-9]{53}$/,
  );
  assert.match(decoyFor(new Map()), /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
});

test('an unknown user on a file of SHA-crypt hashes is refused like a wrong password', async () => {
  const echo = await startEcho();
  const file = join(tempDir('candor-basic-'), 'users');
  writeFileSync(
    file,
    `dave:$6$pepper$eAQtOs5x0BUdulxAzj/qxBsQ9HFx8qUdjHdmS5FKODGOE8BFTsJrCWsboofymbihUgXKFBAmtfkCIaLiwpYd11\n`,
  );
  const gw = await startTestGateway(config(echo.url, file));
  try {
    for (const [user, password] of [
      ['mallory', 'x'],
      ['dave', 'x'],
      ['mallory', ''],
    ]) {
      const res = await request(gw.url, {
        path: '/admin/x',
        headers: { authorization: basic(user, password), 'x-request-id': `${user}-${password}` },
      });
      assert.equal(res.status, 401);
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=http_request_denied; details="the credentials were not accepted"',
      );
      assert.equal(
        (await gw.logFor(`${user}-${password}`)).auth,
        `denied: basic bad credentials for user "${user}"`,
      );
    }
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a reload reads the htpasswd file again: a user added logs in, a user removed is refused though remembered', async () => {
  const echo = await startEcho();
  const file = join(tempDir('candor-basic-'), 'users');
  writeFileSync(file, `alice:${bcrypt.hashSync('old pass', 4)}\n`);
  const yaml = `listen:\n  - address: 127.0.0.1:0\n${config(echo.url, file)}`;
  const gw = await startTestGateway(config(echo.url, file));
  const status = async (user: string, password: string) =>
    (await request(gw.url, { path: '/admin', headers: { authorization: basic(user, password) } })).status;
  try {
    assert.equal(await status('alice', 'old pass'), 200);
    writeFileSync(file, `bob:${bcrypt.hashSync('new pass', 4)}\n`);
    assert.equal(await status('alice', 'old pass'), 200, 'the file is read at a reload, not before');
    await gw.gateway.reload(parseConfig(yaml, '<reload>'));
    assert.equal(await status('bob', 'new pass'), 200);
    assert.equal(
      await status('alice', 'old pass'),
      401,
      'her credentials remembered good before do not outlive the reload',
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a SHA-crypt login of many rounds does not hold the gateway: a request on another route is answered meanwhile', async () => {
  const echo = await startEcho();
  const file = join(tempDir('candor-basic-'), 'users');
  // 200,000 rounds: about a second of CPU here, checked for every login with this user's name.
  const setting = parseShaCrypt('$6$rounds=200000$pepperpepper$');
  writeFileSync(file, `slow:${shaCrypt(Buffer.from('right'), setting as NonNullable<typeof setting>)}\n`);
  const gw = await startTestGateway(config(echo.url, file));
  try {
    const order: string[] = [];
    const login = request(gw.url, {
      path: '/admin',
      headers: { authorization: basic('slow', 'wrong') },
    }).then((res) => order.push(`login ${res.status}`));
    // The login's hash is under way; a request that needs none comes in.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const open = request(gw.url, { path: '/elsewhere' }).then((res) => order.push(`open ${res.status}`));
    await Promise.all([login, open]);
    assert.deepEqual(order, ['open 404', 'login 401']);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a remembered login is kept by a keyed hash: no SHA-256 of the user and password is in memory', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, usersFile()));
  try {
    const res = await request(gw.url, {
      path: '/admin',
      headers: { authorization: basic('erin', 'erin pass') },
    });
    assert.equal(res.status, 200);
    const snapshot = readFileSync(writeHeapSnapshot(join(tempDir('candor-heap-'), 'h.heapsnapshot')), 'utf8');
    // A fast hash of a password is what an offline guesser wants from a heap snapshot or a core
    // dump. Made after the snapshot, so the test's own copy is not in it.
    const fast = createHash('sha256').update('erin').update('\0').update('erin pass').digest('base64');
    assert.ok(snapshot.includes(JSON.stringify('edge-1')), 'the snapshot holds the gateway');
    assert.equal(snapshot.includes(fast), false);
  } finally {
    await gw.close();
    await echo.close();
  }
});

// The remembered key once joined user and password with a NUL: "a" with "b\0c" and "a\0b" with
// "c" made the same key, and the second, a user the file does not have, was let in as remembered.
test('a remembered login stands for its own user and password only, whatever bytes they hold', async () => {
  const echo = await startEcho();
  const file = join(tempDir('candor-basic-'), 'users');
  writeFileSync(file, `a:${bcrypt.hashSync('b\0c', 4)}\n`);
  const gw = await startTestGateway(config(echo.url, file));
  const status = async (user: string, password: string) =>
    (await request(gw.url, { path: '/admin', headers: { authorization: basic(user, password) } })).status;
  try {
    assert.equal(await status('a', 'b\0c'), 200);
    assert.equal(await status('a\0b', 'c'), 401);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('credentials that are not UTF-8 are refused, never read with U+FFFD for the bytes', async () => {
  const echo = await startEcho();
  const file = join(tempDir('candor-basic-'), 'users');
  writeFileSync(file, `a:${bcrypt.hashSync('x\uFFFD', 4)}\n`);
  const gw = await startTestGateway(config(echo.url, file));
  const ask = (bytes: Buffer, id: string) =>
    request(gw.url, {
      path: '/admin',
      headers: { authorization: `Basic ${bytes.toString('base64')}`, 'x-request-id': id },
    });
  try {
    // The password as UTF-8 lets its user in; bytes 0xff or 0xfe in its place are no password of the file.
    assert.equal((await ask(Buffer.from('a:x\uFFFD', 'utf8'), 'utf8')).status, 200);
    for (const [i, bad] of [0xff, 0xfe].entries()) {
      const res = await ask(Buffer.concat([Buffer.from('a:x'), Buffer.from([bad])]), `bad-${i}`);
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff area", charset="UTF-8"');
      assert.equal((await gw.logFor(`bad-${i}`)).auth, 'denied: basic credentials that are not UTF-8');
    }
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});
