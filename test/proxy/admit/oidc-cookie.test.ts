/** The session's sealed cookies: opened as jose opens them, split when one cannot hold them, kept from the upstream. */
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { withoutSealed } from '../../../src/proxy/admit/oidc/gateway-cookies.ts';
import {
  CookieSeal,
  clearSealed,
  readSealed,
  setSealed,
} from '../../../src/proxy/admit/oidc/session-cookie.ts';

const SECRET = 'a secret of thirty-two characters or more';
const seal = new CookieSeal(SECRET, 'session');
const key = new Uint8Array(hkdfSync('sha256', SECRET, 'candor oidc', 'session', 32));

/** What jose's compactDecrypt makes of `jwe` with the seal's key: the value, or undefined where it refuses. */
async function joseOpens(jwe: string): Promise<unknown> {
  try {
    const { plaintext } = await compactDecrypt(jwe, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return undefined;
  }
}

test('a sealed value opens to itself, as jose’s compactDecrypt opens it; any byte changed, neither opens it', async () => {
  const value = { c: { sub: 'alice' }, a: 1, e: 2 };
  const sealed = await seal.seal(value);
  assert.deepEqual(seal.open(sealed), value);
  assert.deepEqual(await joseOpens(sealed), value);
  const parts = sealed.split('.');
  for (const index of [0, 2, 3, 4]) {
    const changed = [...parts];
    const text = changed[index];
    const at = Math.floor(text.length / 2);
    changed[index] = `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    const tampered = changed.join('.');
    assert.equal(seal.open(tampered), undefined, `segment ${index}`);
    assert.equal(await joseOpens(tampered), undefined, `segment ${index}`);
  }
  // Another purpose's key (the sign-in's flow cookie) is another key.
  assert.equal(new CookieSeal(SECRET, 'flow').open(sealed), undefined);
  assert.equal(seal.open('garbage'), undefined);
  assert.equal(seal.open(''), undefined);
});

test('a JWE of another header or encryption, even with the right key, is not opened', async () => {
  const plain = new TextEncoder().encode('{"c":{},"a":1,"e":2}');
  const zipped = await new CompactEncrypt(plain)
    .setProtectedHeader({ enc: 'A256GCM', alg: 'dir' })
    .encrypt(key);
  assert.deepEqual(await joseOpens(zipped), { c: {}, a: 1, e: 2 });
  assert.equal(seal.open(zipped), undefined);
  const cbc = await new CompactEncrypt(plain)
    .setProtectedHeader({ alg: 'dir', enc: 'A128CBC-HS256' })
    .encrypt(new Uint8Array(32));
  assert.equal(seal.open(cbc), undefined);
});

test('a value longer than a cookie is split into numbered ones and read back joined; past four it is not sent', () => {
  const value = 'v'.repeat(9000);
  const set = setSealed('s', value, '; Path=/') as string[];
  assert.deepEqual(
    set.map((c) => c.split('=')[0]),
    ['s', 's.1', 's.2', 's.3'],
  );
  assert.equal(set[3], 's.3=; Max-Age=0; Path=/');
  const cookie = set
    .filter((c) => !c.includes('Max-Age=0'))
    .map((c) => c.split(';')[0])
    .join('; ');
  assert.equal(readSealed({ cookie: `other=1; ${cookie}` }, 's'), value);
  assert.equal(setSealed('s', 'v'.repeat(4 * 3800 + 1), '; Path=/'), undefined);
  assert.deepEqual(clearSealed('s', '; Path=/'), [
    's=; Max-Age=0; Path=/',
    's.1=; Max-Age=0; Path=/',
    's.2=; Max-Age=0; Path=/',
    's.3=; Max-Age=0; Path=/',
  ]);
});

test('the request sent upstream keeps every cookie but the session’s parts and the flow’s', () => {
  const edit = withoutSealed('_candor_session', '_candor_session_flow_');
  assert.deepEqual(
    edit([
      'Host',
      'a',
      'Cookie',
      'theme=dark; _candor_session=x; _candor_session.1=y; _candor_session.9=z; _candor_session_flow_abc=f; _candor_session_flow_def=g; lang=en',
    ]),
    ['Host', 'a', 'Cookie', 'theme=dark; _candor_session.9=z; lang=en'],
  );
  assert.deepEqual(edit(['Cookie', '_candor_session=x']), []);
});
