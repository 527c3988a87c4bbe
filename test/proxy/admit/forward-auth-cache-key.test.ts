/**
 * Forward auth with `cache: { key: "cookie:session" }`: the key is every copy of the cookie the
 * service is sent, the host the request names and its scheme. A second `session` cookie beside one whose
 * verdict is kept is asked of the service, which may read that copy (as Django does, the last),
 * as the upstream may; and so is a kept session on another host of the route (another tenant).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';

test('a second session cookie beside a kept one is asked of the service, not let in on the first one’s verdict', async () => {
  // Reads the last session cookie, as Django's and Python's http.cookies do.
  const service = await startAuthService((req, res) => {
    const sessions = [...String(req.headers.cookie).matchAll(/session=([^;]*)/g)].map((m) => m[1]);
    const last = sessions.at(-1) ?? '';
    if (last.startsWith('good')) return res.writeHead(200, { 'x-user-id': last }).end();
    res.writeHead(401, { 'www-authenticate': 'Cookie realm="sso"' }).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(
      app,
      `{ url: "${service.url}", copy_headers: [X-User-Id], cache: { key: "cookie:session", ttl: 1h } }`,
    ),
  );
  try {
    assert.equal(
      (await request(gw.url, { path: '/app', headers: { cookie: 'session=good-1' } })).status,
      200,
    );
    assert.equal(service.asked.length, 1);
    const res = await request(gw.url, {
      path: '/app',
      headers: { cookie: 'session=good-1; session=revoked' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Cookie realm="sso"');
    assert.equal(service.asked.length, 2);
    assert.equal(echo.received.length, 1, 'the revoked session never reached the upstream');
    // Sent again, the pair's own verdict is kept; the first alone is still let in without a call.
    assert.equal(
      (await request(gw.url, { path: '/app', headers: { cookie: 'session=good-1; session=revoked' } }))
        .status,
      401,
    );
    assert.equal(
      (await request(gw.url, { path: '/app', headers: { cookie: 'a=1; session=good-1' } })).status,
      200,
    );
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

test('a session let in on one host of the route is asked again on another: the service judges each host', async () => {
  // Tenants share an SSO cookie; the service lets alice into a.test only.
  const service = await startAuthService((req, res) => {
    const ok = req.headers.cookie === 'session=alice' && req.headers['x-forwarded-host'] === 'a.test';
    res.writeHead(ok ? 200 : 403).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", cache: { key: "cookie:session", ttl: 1h } }`),
  );
  const ask = (host: string) => request(gw.url, { path: '/app', headers: { host, cookie: 'session=alice' } });
  try {
    assert.equal((await ask('a.test')).status, 200);
    assert.equal((await ask('b.test')).status, 403);
    assert.equal(service.asked.length, 2);
    assert.equal(echo.received.length, 1, 'the other tenant never reached the upstream');
    // Each host's verdict is kept for it.
    assert.equal((await ask('a.test')).status, 200);
    assert.equal((await ask('b.test')).status, 403);
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

test('a session let in from one client address is asked again from another: the service judges the address it is told', async () => {
  // As Authelia's `networks` rules: the session passes from the office network alone.
  const service = await startAuthService((req, res) => {
    const inside = String(req.headers['x-forwarded-for']).startsWith('10.');
    res.writeHead(inside ? 200 : 302, inside ? {} : { location: 'https://sso.test/2fa' }).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", cache: { key: "cookie:session", ttl: 1h } }`).replace(
      'name: edge-1',
      'name: edge-1\ntrust_forwarded_from: [127.0.0.1]',
    ),
  );
  // Through a trusted balancer (this test, at 127.0.0.1), which names the client.
  const ask = (client: string) =>
    request(gw.url, { path: '/app', headers: { cookie: 'session=alice', 'x-forwarded-for': client } });
  try {
    assert.equal((await ask('10.0.0.5')).status, 200);
    assert.equal((await ask('203.0.113.9')).status, 302);
    assert.equal(service.asked.length, 2);
    assert.equal(echo.received.length, 1, 'the outside client never reached the upstream');
    // Each address's verdict is kept for it.
    assert.equal((await ask('10.0.0.5')).status, 200);
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

test('a session let in over https is asked again over http: the service judges the scheme it is told', async () => {
  // Lets a session in over https alone; over http it sends the client to https.
  const service = await startAuthService((req, res) => {
    const secure = req.headers['x-forwarded-proto'] === 'https';
    res.writeHead(secure ? 200 : 302, secure ? {} : { location: 'https://a.test/app' }).end();
  });
  const echo = await startEcho();
  const certs = testCertificates();
  const gw = await startGatewayFromText(
    `listen:
  - { name: plain, address: 127.0.0.1:0 }
  - name: secure
    address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
${forwardAuthConfig(echo.url, `{ url: "${service.url}", cache: { key: "cookie:session", ttl: 1h } }`)}`,
  );
  const tlsPort = gw.gateway.listeners[1].port();
  const overTls = () =>
    new Promise<number>((resolve, reject) => {
      https
        .get(
          {
            host: '127.0.0.1',
            port: tlsPort,
            path: '/app',
            rejectUnauthorized: false,
            agent: false,
            headers: { host: 'a.test', cookie: 'session=alice' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
        .on('error', reject);
    });
  const plain = () => request(gw.url, { path: '/app', headers: { host: 'a.test', cookie: 'session=alice' } });
  try {
    assert.equal(await overTls(), 200);
    const res = await plain();
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, 'https://a.test/app');
    assert.equal(service.asked.length, 2);
    assert.equal(echo.received.length, 1, 'the http request never reached the upstream');
    // Each scheme's verdict is kept for it.
    assert.equal(await overTls(), 200);
    assert.equal(service.asked.length, 2);
  } finally {
    await gw.close();
    await echo.close();
    await service.close();
  }
});
