/**
 * The auth service's `identity_from` field copied upstream (`copy_headers` names it): the app is
 * told the user the gateway logged, or nobody. An answer with the field on two lines names two
 * users, which the gateway logs as nobody; its copy joined (`X-User: alice, admin`) told the app
 * a user list whose first name an app that splits at commas takes as the user.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

test('an identity_from field the service sent on two lines names nobody: neither logged nor copied upstream, and never the client’s', async () => {
  const service = await startAuthService((req, res) => {
    if (req.headers['x-case'] === 'two') res.setHeader('x-user', ['alice', 'admin']);
    else res.setHeader('x-user', 'alice');
    res.setHeader('x-groups', ['staff', 'ops']);
    res.writeHead(200).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(
      app,
      `{ url: "${service.url}", send_headers: [x-case], copy_headers: [X-User, X-Groups], identity_from: X-User }`,
    ),
  );
  try {
    const one = await request(gw.url, { path: '/app/one', headers: { 'x-user': 'root' } });
    assert.equal(one.status, 200);
    const told = (headers: readonly (readonly [string, string])[] | undefined, name: RegExp) =>
      (headers ?? []).filter(([field]) => name.test(field));
    assert.deepEqual(told(echo.received.at(-1)?.rawHeaders, /^x[-_]user$/i), [['x-user', 'alice']]);
    const two = await request(gw.url, {
      path: '/app/two',
      headers: { 'x-case': 'two', 'x-user': 'root', x_user: 'root' },
    });
    assert.equal(two.status, 200);
    const sent = echo.received.at(-1)?.rawHeaders;
    assert.deepEqual(told(sent, /^x[-_]user$/i), [], 'two users named: the app is told none');
    // Another copied field on two lines is the service's list, joined as ever.
    assert.deepEqual(told(sent, /^x-groups$/i), [['x-groups', 'staff, ops']]);
    const lines = gw.logs.filter((l) => l.msg === 'request' && String(l.path).startsWith('/app/'));
    assert.equal(lines.find((l) => l.path === '/app/one')?.user, 'alice');
    assert.equal(lines.find((l) => l.path === '/app/two')?.user, undefined);
  } finally {
    await close(service);
  }
});
