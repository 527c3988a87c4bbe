/**
 * `;` segment parameters: a servlet container (Tomcat, Jetty, Spring) drops them before it
 * resolves a path, so `/admin;x` is its `/admin` and `/api;x/admin` its `/api/admin`. A path
 * whose parameters would make it another route's path to such an upstream, past that route's
 * policy, is refused; one routed the same either way goes on as sent. The upstream here reads
 * paths as a servlet container does and records what it received.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { parseRaw } from '../accept/downstream-fixture.ts';

const keep = closeAfterAll();

const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.url ?? '');
    // As Tomcat reads it: the parameters dropped, then the slashes they leave merged.
    const servlet = new URL(req.url ?? '/', 'http://upstream').pathname
      .replace(/;[^/]*/g, '')
      .replace(/\/{2,}/g, '/');
    res.end(
      servlet.startsWith('/admin') || servlet.startsWith('/api/admin') ? 'ADMIN PAGE' : `served ${servlet}`,
    );
  }),
);

const usersFile = join(tempDir('candor-params-'), 'users');
writeFileSync(usersFile, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);

const gw = await keep(
  startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${usersFile} }
  - name: api-admin
    match: { path: /api/admin }
    upstream: app
    auth:
      basic: { users_file: ${usersFile} }
  - name: catch-all
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
    retries: { attempts: 1 }
`),
);

const get = async (target: string) =>
  parseRaw(
    (await rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).raw,
  );

test('a path whose ";" parameters take it to another route for a servlet container is a 400, never forwarded', async () => {
  const targets = ['/admin;x', '/admin;jsessionid=1/users', '/api;x/admin', '/api;/admin/keys?a=1'];
  // A segment of parameters alone leaves an empty one, which Tomcat and Spring merge away:
  // "/;x/admin" is their "/admin", and "/api/;x/admin" their "/api/admin".
  targets.push('/;x/admin', '/;jsessionid=1/admin/users', '/api/;x/admin', '/;/admin');
  for (const target of targets) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, 400, target);
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=http_request_error; details="the path\'s \\";\\" parameters make it another route\'s path to a server that drops them (a servlet container)"',
      target,
    );
    assert.deepEqual(received, [], target);
  }
});

test('";" parameters that leave the route as it is go on as sent; dot-segments after them are resolved first', async () => {
  const cases = [
    // The same route either way: as sent, the route's policy applies.
    ['/admin/list;x', 401, []],
    ['/public;jsessionid=1/page?q=;', 200, ['/public;jsessionid=1/page?q=;']],
    // "/public;" is a segment the ".." removes: the path is /admin, its route's, for both readers.
    ['/public;/../admin', 401, []],
    // "/admin;x=1/.." is "/": the catch-all's, and the upstream is sent "/".
    ['/admin;x=1/..', 200, ['/']],
  ] as const;
  for (const [target, status, upstream] of cases) {
    received.length = 0;
    const res = await get(target);
    assert.equal(res.status, status, target);
    assert.deepEqual(received, upstream, target);
    assert.doesNotMatch(res.body, /ADMIN PAGE/, target);
  }
});
