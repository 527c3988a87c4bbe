/**
 * Forward auth with `cache`: requests of one key that arrive while its verdict is asked wait for
 * that one answer, but an answer that names the request it answered (a redirect to the login
 * page, whose return address is that request's path) is not another request's: it asks again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { rawTogether } from '../../helpers/http-client.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

test('two paths of one session asked together each get their own login address; allowed ones share one call', async () => {
  const service = await startAuthService((req, res) => {
    if (String(req.headers.cookie).includes('session=good')) return res.writeHead(204).end();
    res
      .writeHead(302, { location: `/login?rd=${encodeURIComponent(String(req.headers['x-forwarded-uri']))}` })
      .end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", cache: { key: "cookie:session", ttl: 1h } }`),
  );
  const get = (path: string, session: string) =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: session=${session}\r\nConnection: close\r\n\r\n`;
  try {
    const refused = (await rawTogether(gw.port, [get('/app/a', 'gone'), get('/app/b', 'gone')])).map(
      parseRaw,
    );
    assert.deepEqual(
      refused.map((res) => [res.status, res.headers.location]),
      [
        [302, '/login?rd=%2Fapp%2Fa'],
        [302, '/login?rd=%2Fapp%2Fb'],
      ],
    );
    assert.equal(service.asked.length, 2);

    const allowed = (await rawTogether(gw.port, [get('/app/c', 'good'), get('/app/d', 'good')])).map(
      parseRaw,
    );
    assert.deepEqual(
      allowed.map((res) => res.status),
      [200, 200],
    );
    assert.equal(service.asked.length, 3, 'one call for the two allowed requests');
    assert.equal(echo.received.length, 2);
  } finally {
    await close(service);
  }
});
