/**
 * A list claim told upstream by `claims_to_headers` (a JWT's, an OpenID Connect session's: the
 * same code) is its elements joined with `, `, which the app splits at the commas and trims: an
 * element holding a comma (a group named `staff, admin`) would be read as two, one of them a
 * group the user is not in, and one with a space at either end (` admin`) as another name. Such
 * a list is left out, as a single value with a space at either end is, rather than sent mangled;
 * the client's own copy of the field is dropped all the same.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const keysFile = join(tempDir('candor-claim-list-'), 'jwks.json');
writeFileSync(keysFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
const bearer = async (groups: unknown) =>
  `Bearer ${await new SignJWT({ sub: 'mallory', groups })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey)}`;

const echo = await keep(startEcho());
const gw = await keep(
  startTestGateway(`routes:
  - name: api
    match: { path: /api }
    upstream: app
    auth:
      jwt: { keys_file: ${keysFile}, algorithms: [ES256], claims_to_headers: { groups: X-User-Groups } }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`),
);

/** The X-User-Groups the upstream got (every line of it) for a token whose `groups` claim is `groups`. */
async function told(groups: unknown): Promise<string[]> {
  const res = await request(gw.url, {
    path: '/api',
    headers: { authorization: await bearer(groups), 'x-user-groups': 'admin' },
  });
  assert.equal(res.status, 200, res.text);
  const raw = echo.received.at(-1)?.rawHeaders ?? [];
  return raw.filter(([name]) => name.toLowerCase() === 'x-user-groups').map(([, value]) => value);
}

test('a list of plain names is joined with ", " (the control)', async () => {
  assert.deepEqual(await told(['staff', 'ops']), ['staff, ops']);
});

for (const [what, groups] of [
  ['an element holding a comma', ['staff', 'x, admin']],
  ['an element holding a comma without a space', ['staff', 'x,admin']],
  ['an element with a space at its start', ['staff', ' admin']],
  ['an element with a space at its end', ['admin ', 'staff']],
  ['an empty element', ['', 'staff']],
] as const)
  test(`a list with ${what} is left out, not sent as names the user does not have; the client's copy dropped`, async () => {
    assert.deepEqual(await told(groups), []);
  });
