/**
 * Bearer tokens an attacker crafts against a route that takes RS256 from a key file, judged by
 * RFC 8725 (docs/hostile-peers.md, "Access control against nginx"): each sent raw over a
 * socket, its status and challenge asserted, and what reached a raw recording upstream. The
 * keys are the configured set's only: a key the token names or carries (`jku`, `x5u`, `jwk`)
 * is never fetched nor trusted, and the public key is no HMAC secret.
 */
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A compact JWS of `header` and `claims`: RS256 by `key`, HS256 keyed by `secret`, or no signature. */
function token(header: object, claims: object, sign: KeyObject | { secret: string } | 'unsigned'): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  if (sign === 'unsigned') return `${input}.`;
  if ('secret' in sign)
    return `${input}.${createHmac('sha256', sign.secret).update(input).digest('base64url')}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(sign).toString('base64url')}`;
}

test('forged, confused and misplaced bearer tokens are a 401 invalid_token, no key is fetched from the token, nothing forwarded', async () => {
  const issuer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(tempDir('candor-jwt-shapes-'), 'jwks.json');
  writeFileSync(
    file,
    JSON.stringify({ keys: [{ ...issuer.publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
  );
  // Asked for nothing: a token's jku or x5u naming it must not make the gateway fetch keys there.
  const keyHost = await scriptedUpstream((socket) => socket.destroy());
  const upstream = await scriptedUpstream((socket) =>
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
  );
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    auth:
      jwt: { keys_file: ${file}, issuer: me, audiences: [api], algorithms: [RS256] }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  const claims = { iss: 'me', aud: 'api', sub: 'u1', exp: Math.floor(Date.now() / 1000) + 300 };
  const header = { alg: 'RS256', kid: 'k1', typ: 'JWT' };
  const good = token(header, claims, issuer.privateKey);
  const pem = issuer.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  let n = 0;
  const ask = async (target: string, authorization: string | undefined) => {
    const id = `${++n}`;
    const field = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
    const { raw } = await rawRequest(
      gw.port,
      `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Shape: ${id}\r\n${field}Connection: close\r\n\r\n`,
    );
    return { raw, reached: upstream.requests.some((r) => r.head.includes(`X-Shape: ${id}\r\n`)) };
  };
  try {
    const ok = await ask('/api', `Bearer ${good}`);
    assert.match(ok.raw, /^HTTP\/1\.1 200 /);
    assert.equal(ok.reached, true);
    const refused: [string, string][] = [
      ['alg none', `Bearer ${token({ alg: 'none', kid: 'k1' }, claims, 'unsigned')}`],
      // Key confusion: HS256 with the RSA public key as its secret.
      [
        'HS256 keyed by the public key',
        `Bearer ${token({ ...header, alg: 'HS256' }, claims, { secret: pem })}`,
      ],
      // CVE-2018-0114's shape: the attacker's key in the header, signed by it.
      [
        'an embedded jwk',
        `Bearer ${token({ ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) }, claims, attacker.privateKey)}`,
      ],
      [
        'a jku of the attacker',
        `Bearer ${token({ ...header, jku: `${keyHost.url}/jwks` }, claims, attacker.privateKey)}`,
      ],
      [
        'an x5u of the attacker',
        `Bearer ${token({ ...header, kid: undefined, x5u: `${keyHost.url}/cert` }, claims, attacker.privateKey)}`,
      ],
      ['a kid of ../', `Bearer ${token({ ...header, kid: '../../../dev/null' }, claims, issuer.privateKey)}`],
      [
        'an unknown crit',
        `Bearer ${token({ ...header, crit: ['x-a'], 'x-a': 1 }, claims, issuer.privateKey)}`,
      ],
      [
        'exp as a string',
        `Bearer ${token(header, { ...claims, exp: String(claims.exp) }, issuer.privateKey)}`,
      ],
      ['an empty signature', `Bearer ${good.slice(0, good.lastIndexOf('.') + 1)}`],
      ['Bearer twice', `Bearer Bearer ${good}`],
      ['a comma list', `Bearer ${good}, Basic YTpi`],
    ];
    for (const [name, authorization] of refused) {
      const { raw, reached } = await ask('/api', authorization);
      assert.match(raw, /^HTTP\/1\.1 401 /, name);
      assert.ok(raw.includes('\r\nwww-authenticate: Bearer error="invalid_token"\r\n'), name);
      assert.equal(reached, false, name);
    }
    // A token in the query is not read (RFC 6750 §2.3 advises against it): the bare challenge.
    const query = await ask(`/api?access_token=${good}`, undefined);
    assert.match(query.raw, /^HTTP\/1\.1 401 /);
    assert.ok(query.raw.includes('\r\nwww-authenticate: Bearer\r\n'));
    assert.equal(query.reached, false);
    assert.equal(keyHost.connections(), 0);
  } finally {
    await gw.close();
    await upstream.close();
    await keyHost.close();
  }
});
