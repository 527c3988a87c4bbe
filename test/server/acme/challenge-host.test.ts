/**
 * The HTTP-01 responder tells a token's key authorization only to a request for the name it
 * validates (RFC 8555 §8.3: the CA asks with that name as Host), as Caddy does: any other Host
 * pointed at the plain listener goes on to routing (alone) or is answered 404 (in a fleet; 503 when
 * the fleet's store does not answer),
 * and is never told it. The challenges are put where an order under way puts them (the store,
 * Redis) while the gateway's own order cannot reach its CA.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { AcmeFleet } from '../../../src/server/acme/acme-fleet.ts';
import { AcmeStore } from '../../../src/server/acme/acme-store.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

async function gatewayOn(store: string, upstream: string, extra = '') {
  const [http, tls, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${http}
  - address: 127.0.0.1:${tls}
    tls:
      acme: { names: [www.shop.test] }
acme:
  directory: https://127.0.0.1:${nowhere}/dir
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  storage: ${store}
${extra}routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream}" }]
`);
  const ask = (token: string, host: string) =>
    request(`http://127.0.0.1:${http}`, { path: `/.well-known/acme-challenge/${token}`, headers: { host } });
  return { gw, ask };
}

test('a token is answered for the name it validates (any case, any port), not for another Host', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-host-');
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(`${req.headers.host}${req.url}`);
    res.end('app answered\n');
  });
  const { gw, ask } = await gatewayOn(join(dir, 'acme'), upstream.url);
  try {
    new AcmeStore(join(dir, 'acme')).setHttpChallenge('tok1', {
      name: 'www.shop.test',
      keyAuthorization: 'tok1.thumbprint',
    });
    for (const host of ['www.shop.test', 'WWW.Shop.Test:80', 'www.shop.test.']) {
      const answer = await ask('tok1', host);
      assert.equal(answer.status, 200, host);
      assert.equal(answer.text, 'tok1.thumbprint', host);
    }
    // The name as the CA's authorization spelt it, in whatever case.
    new AcmeStore(join(dir, 'acme')).setHttpChallenge('tok3', {
      name: 'WWW.shop.test',
      keyAuthorization: 'tok3.thumbprint',
    });
    assert.equal((await ask('tok3', 'www.shop.test')).text, 'tok3.thumbprint');
    assert.deepEqual(seen, [], 'the validation never reached the app');
    // Before, every Host was told the key authorization.
    for (const host of ['attacker.test', '127.0.0.1', 'shop.test']) {
      const answer = await ask('tok1', host);
      assert.equal(answer.status, 200, host);
      assert.equal(answer.text, 'app answered\n', host);
    }
    assert.deepEqual(seen, [
      'attacker.test/.well-known/acme-challenge/tok1',
      '127.0.0.1/.well-known/acme-challenge/tok1',
      'shop.test/.well-known/acme-challenge/tok1',
    ]);
    const answered = gw.logs.filter((l) => l.msg === 'request' && l.acme === 'http-01');
    assert.equal(answered.length, 4, 'only the validations logged as answered by the gateway');
  } finally {
    await gw.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a token too long to be a file name (256 characters) goes on to routing, not a 500', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-host-');
  const upstream = await listenOnLoopback((req, res) => res.end(`app answered ${req.url?.length}\n`));
  const { gw, ask } = await gatewayOn(join(dir, 'acme'), upstream.url);
  try {
    // The store took it for a token (1-256 base64url) and asked the file system, which names
    // files of 255 bytes at most: ENAMETOOLONG, a 500 proxy_internal_error anyone could ask for.
    const answer = await ask('A'.repeat(256), 'www.shop.test');
    assert.equal(answer.status, 200);
    assert.equal(answer.text, `app answered ${'/.well-known/acme-challenge/'.length + 256}\n`);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'request').map((l) => l.status),
      [200],
    );
  } finally {
    await gw.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in a fleet, a token another gateway put in Redis is answered for its name only: another Host gets 404', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-host-');
  const redis = await startRedis();
  const upstream = await listenOnLoopback((_req, res) => res.end('app answered\n'));
  // The gateway's keys: the default prefix.
  const fleet = await AcmeFleet.open(
    { url: redis.url, prefix: 'candor:', onError: 'allow', timeout: 50 },
    'https://ca.test/dir',
  );
  const { gw, ask } = await gatewayOn(
    join(dir, 'acme'),
    upstream.url,
    `store:\n  redis: { url: "${redis.url}" }\n`,
  );
  try {
    await fleet.setHttpChallenge('tok2', { name: 'api.shop.test', keyAuthorization: 'tok2.thumbprint' });
    const right = await ask('tok2', 'api.shop.test');
    assert.equal(right.status, 200);
    assert.equal(right.text, 'tok2.thumbprint');
    for (const host of ['attacker.test', 'www.shop.test']) {
      const wrong = await ask('tok2', host);
      assert.equal(wrong.status, 404, host);
      assert.doesNotMatch(wrong.text, /tok2\.thumbprint/, host);
      // The gateway's own answer, told as every other: its Proxy-Status says why.
      assert.match(
        String(wrong.headers['proxy-status']),
        new RegExp(
          `; error=destination_not_found; details="no gateway of the fleet is validating this ACME token for ${host}"$`,
        ),
        host,
      );
    }
    // A store that does not answer is no proof that no gateway is validating the token: not a 404.
    await redis.kill();
    const unknown = await ask('tok3', 'api.shop.test');
    assert.equal(unknown.status, 503);
    assert.equal(unknown.headers['retry-after'], '1');
    assert.match(
      String(unknown.headers['proxy-status']),
      /; error=proxy_internal_response; details="the fleet's store \(store\.redis\) did not answer/,
    );
    const line = gw.logs.find((l) => l.msg === 'request' && l.status === 503);
    assert.equal(line?.acme, 'http-01');
  } finally {
    fleet.close();
    await gw.close();
    await upstream.close();
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('behind a trusted proxy that says its client used https (the CA followed its redirect), the plain listener still answers the validation', {
  timeout: 30_000,
}, async () => {
  const dir = tempDir('candor-acme-proto-');
  const upstream = await listenOnLoopback((_req, res) => res.end('app answered\n'));
  const { gw } = await gatewayOn(join(dir, 'acme'), upstream.url, 'trust_forwarded_from: [127.0.0.1]\n');
  try {
    new AcmeStore(join(dir, 'acme')).setHttpChallenge('tok9', {
      name: 'www.shop.test',
      keyAuthorization: 'tok9.thumbprint',
    });
    const port = gw.port;
    const answer = await request(`http://127.0.0.1:${port}`, {
      path: '/.well-known/acme-challenge/tok9',
      headers: { host: 'www.shop.test', 'x-forwarded-proto': 'https' },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'tok9.thumbprint');
  } finally {
    await gw.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
