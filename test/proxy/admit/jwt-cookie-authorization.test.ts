/**
 * A JWT route with a token cookie passes on only the token it checked. When it took the token
 * from the cookie, the client's Authorization (another scheme, a bearer spelled so the gateway
 * did not read it) was never checked: with `forward_authorization: true` it must not reach the
 * upstream beside a verified identity, as if it were the credential the gateway vouched for. And
 * a second copy of the token cookie (the gateway reads the first; Django reads the last), or one
 * beside a bearer token, is not the token checked either: it is taken out of the Cookie field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

/** A route /app whose JWT may come in the cookie `session`, passed on with forward_authorization. */
const cookieRoute = (appUrl: string, file: string) => `name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward_authorization: true
      jwt: { keys_file: ${file}, algorithms: [ES256], cookie: session, claims_to_headers: { sub: X-User } }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`;

test('a token from the cookie leaves the client’s Authorization behind; a bearer token checked goes on', async () => {
  const { file, sign } = await fileIssuer();
  const mine = await sign('mallory');
  const echo = await startEcho();
  const gw = await startTestGateway(cookieRoute(echo.url, file));
  const sent = (authorization: string, cookie: string) =>
    rawRequest(
      gw.port,
      `GET /app HTTP/1.1\r\nHost: x\r\n${authorization}Cookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    );
  const upstreamAuthorization = () =>
    echo.received.at(-1)?.rawHeaders.filter(([name]) => name.toLowerCase() === 'authorization');
  try {
    // A bearer after a tab (not the gateway's token: RFC 6750 §2.1 writes one space), and another scheme.
    for (const forged of ['Bearer\tforged.admin.token', 'Basic YWRtaW46eA==']) {
      const res = await sent(`Authorization: ${forged}\r\n`, `session=${mine}`);
      assert.equal(res.status, 200);
      assert.deepEqual(upstreamAuthorization(), []);
      assert.equal(echo.received.at(-1)?.headers['x-user'], 'mallory');
    }
    // The token checked from Authorization goes on, as forward_authorization says.
    const res = await sent(`Authorization: Bearer ${mine}\r\n`, 'theme=dark');
    assert.equal(res.status, 200);
    assert.deepEqual(upstreamAuthorization(), [['Authorization', `Bearer ${mine}`]]);
    assert.equal(echo.received.length, 3);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('only the token cookie that was checked goes upstream: a second copy, or one beside a bearer token, is taken out', async () => {
  const { file, sign } = await fileIssuer();
  const mine = await sign('mallory');
  const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
  const echo = await startEcho();
  const gw = await startTestGateway(cookieRoute(echo.url, file));
  const upstreamCookies = async (head: string) => {
    const res = await rawRequest(gw.port, `GET /app HTTP/1.1\r\nHost: x\r\n${head}Connection: close\r\n\r\n`);
    assert.equal(res.status, 200);
    return echo.received.at(-1)?.rawHeaders.filter(([name]) => name.toLowerCase() === 'cookie');
  };
  try {
    // The checked copy and every other cookie stay, as sent, in their order.
    assert.deepEqual(
      await upstreamCookies(`Cookie: theme=dark; session=${mine}; session=${forged}; lang=en\r\n`),
      [['Cookie', `theme=dark; session=${mine}; lang=en`]],
    );
    // A token in Authorization is the one checked: a cookie of another value is not it.
    assert.deepEqual(
      await upstreamCookies(`Authorization: Bearer ${mine}\r\nCookie: session=${forged}\r\n`),
      [],
    );
    assert.deepEqual(
      await upstreamCookies(`Authorization: Bearer ${mine}\r\nCookie: session=${mine}; theme=dark\r\n`),
      [['Cookie', `session=${mine}; theme=dark`]],
    );
    assert.equal(echo.received.at(-1)?.headers['x-user'], 'mallory');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a cookie whose name PHP reads as the token cookie’s (access.token, "access token" for access_token) is taken out: PHP keeps the first of a name', async () => {
  const { file, sign } = await fileIssuer();
  const mine = await sign('mallory');
  const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
  const echo = await startEcho();
  const gw = await startTestGateway(
    cookieRoute(echo.url, file).replace('cookie: session', 'cookie: access_token'),
  );
  const upstreamCookies = async (cookie: string) => {
    const res = await rawRequest(
      gw.port,
      `GET /app HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(res.status, 200);
    return echo.received.at(-1)?.rawHeaders.filter(([name]) => name.toLowerCase() === 'cookie');
  };
  try {
    // PHP's $_COOKIE makes `.` and ` ` in a name `_`, and keeps the first: access.token's forged value.
    for (const spelling of ['access.token', 'access token', 'access[token'])
      assert.deepEqual(
        await upstreamCookies(`theme=dark; ${spelling}=${forged}; access_token=${mine}; lang=en`),
        [['Cookie', `theme=dark; access_token=${mine}; lang=en`]],
        spelling,
      );
    // Another cookie that PHP reads under its own name stays.
    assert.deepEqual(await upstreamCookies(`access.tokens=1; access_token=${mine}`), [
      ['Cookie', `access.tokens=1; access_token=${mine}`],
    ]);
  } finally {
    await gw.close();
    await echo.close();
  }
});
