/**
 * What a reload changes in a kept route's access (docs/operations.md, "Reload": every field a
 * reload does not refuse takes effect): the users of `auth.basic`'s file, the keys of
 * `auth.jwt`'s `keys_file` (both read again on each reload, even under the same path), and
 * `rate_limit` (each client's bucket carried, the new rate and burst applied). Each is met by
 * the next request of a connection open across the reload, credentials remembered before it
 * included.
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { fileIssuer } from '../../helpers/jwt-issuer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

/** A gateway config whose one route `app` has `route` (indented under it) added. */
const withRoute = (url: string, route: string) => `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
${route}
upstreams:
  app:
    targets: [{ url: "${url}" }]
`;

/** GETs over one kept-alive connection (the agent's single socket), so a reload meets it open. */
function keptAlive(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (headers: http.OutgoingHttpHeaders = {}) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      http
        .get(`${base}/`, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        })
        .on('error', reject);
    });
  const sockets = () =>
    Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length;
  return { get, sockets, close: () => agent.destroy() };
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

test("auth.basic's file rewritten under the same path: a reload refuses a removed user at once, remembered or not, and admits one added", async (t) => {
  const app = await startEcho();
  t.after(() => app.close());
  const users = join(tempDir('candor-reload-basic-'), 'htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('a', 4)}\nbob:${bcrypt.hashSync('b', 4)}\n`);
  const yaml = withRoute(app.url, `    auth: { basic: { users_file: ${users} } }`);
  const gw = await startTestGateway(yaml);
  t.after(() => gw.close());
  const client = keptAlive(gw.url);
  t.after(() => client.close());
  // Bob's credentials checked once, and remembered for the snapshot's life.
  assert.equal((await client.get(basic('bob', 'b'))).status, 200);
  assert.equal((await client.get(basic('bob', 'b'))).status, 200);
  assert.equal((await client.get(basic('carol', 'c'))).status, 401);

  writeFileSync(users, `alice:${bcrypt.hashSync('a', 4)}\ncarol:${bcrypt.hashSync('c', 4)}\n`);
  await reload(gw, yaml);
  const bob = await client.get(basic('bob', 'b'));
  assert.equal(bob.status, 401, 'bob, removed, is refused at once');
  assert.match(String(bob.headers['www-authenticate']), /^Basic realm="restricted"/);
  assert.equal((await client.get(basic('carol', 'c'))).status, 200, 'carol, added, is let in');
  assert.equal((await client.get(basic('alice', 'a'))).status, 200);
  assert.equal(client.sockets(), 1, 'all on the connection open across the reload');
  assert.equal(app.received.length, 4);
});

test("auth.jwt's keys_file rotated under the same path: after a reload a token of the old key is refused, remembered or not, one of the new admitted", async (t) => {
  const app = await startEcho();
  t.after(() => app.close());
  const [old, fresh] = await Promise.all([fileIssuer(), fileIssuer()]);
  const yaml = withRoute(app.url, `    auth: { jwt: { keys_file: ${old.file} } }`);
  const gw = await startTestGateway(yaml);
  t.after(() => gw.close());
  const client = keptAlive(gw.url);
  t.after(() => client.close());
  const oldToken = { authorization: `Bearer ${await old.sign('alice')}` };
  const freshToken = { authorization: `Bearer ${await fresh.sign('alice')}` };
  assert.equal((await client.get(oldToken)).status, 200);
  assert.equal((await client.get(oldToken)).status, 200, 'remembered');
  assert.equal((await client.get(freshToken)).status, 401);

  // The new key set over the old file (both kid k1), the config as it was.
  copyFileSync(fresh.file, old.file);
  await reload(gw, yaml);
  const refused = await client.get(oldToken);
  assert.equal(refused.status, 401, 'the old key is gone: its token is refused at once');
  assert.match(String(refused.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
  assert.equal((await client.get(freshToken)).status, 200, "the new key's token is admitted");
  assert.equal(client.sockets(), 1, 'all on the connection open across the reload');
  assert.equal(app.received.length, 3);
});

test('rate_limit changed by a reload: the spent bucket is carried (no fresh burst), then refilled at the new rate', async (t) => {
  const app = await startEcho();
  t.after(() => app.close());
  // One token every 1000 s: two requests spend the burst.
  const gw = await startTestGateway(withRoute(app.url, '    rate_limit: { rate: 0.001, burst: 2 }'));
  t.after(() => gw.close());
  const client = keptAlive(gw.url);
  t.after(() => client.close());
  assert.equal((await client.get()).status, 200);
  assert.equal((await client.get()).status, 200);
  assert.equal((await client.get()).status, 429);

  // A larger burst at the same slow rate: the client's spent bucket stays spent.
  await reload(gw, withRoute(app.url, '    rate_limit: { rate: 0.001, burst: 10 }'));
  const carried = await client.get();
  assert.equal(carried.status, 429, 'a reload hands nobody a fresh burst');
  assert.equal(carried.headers['retry-after'], '1000');

  // A fast rate: refilled at it from the last request, up to the new burst.
  await reload(gw, withRoute(app.url, '    rate_limit: { rate: 1000, burst: 1 }'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal((await client.get()).status, 200, 'refilled at the new rate');
  assert.equal(client.sockets(), 1);
  assert.equal(app.received.length, 3);
});
