/**
 * An absolute-form target's authority is the request's Host (RFC 9112 §3.2.2: the Host field
 * received with it is ignored), for everything the gateway reads a Host of, not only for the
 * route's `match.host` and the upstream's Host: a route's condition on the Host field, a rate
 * limit keyed on it (with and without an access rule's edit of the fields). Read from the field
 * as sent, `GET http://admin.example/` with `Host: other.example` passed the admin route's
 * condition by, and a client rotating the field spent one bucket per value, while the upstream
 * got `Host: admin.example` each time.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const usersFile = join(tempDir('candor-absolute-host-'), 'users');
writeFileSync(usersFile, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);
const STAFF = `Basic ${Buffer.from('staff:s3cret').toString('base64')}`;

describe('an absolute-form target: its authority is the Host every rule reads', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(`name: edge-1
routes:
  - name: ops
    match: { headers: { Host: { regex: "^(admin|ops)\\\\.example$" } } }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: exact
    match: { path: /exact, headers: { Host: "Admin.Example." } }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: per-host
    match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1, key: "header:Host" }
  - name: staff-per-host
    match: { path: /staff }
    upstream: app
    auth:
      basic: { users_file: ${usersFile}, realm: Staff }
    rate_limit: { rate: 0.001, burst: 1, key: "header:Host" }
  - name: catch-all
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`);
  });
  after(async () => {
    await gw.close();
    await app.close();
  });

  async function status(requestLine: string, host: string, extra = ''): Promise<number> {
    const { raw } = await rawRequest(
      gw.port,
      `${requestLine}\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`,
    );
    return Number(raw.split(' ')[1]);
  }

  test("a route's condition on Host reads the target's authority, not the Host field", async () => {
    const before = app.received.length;
    assert.equal(await status('GET http://admin.example/x HTTP/1.1', 'other.example'), 503);
    assert.equal(app.received.length, before, 'nothing reached the upstream');
    // And the other way round: the field names the admin host, the target another one.
    assert.equal(await status('GET http://other.example/x HTTP/1.1', 'admin.example'), 200);
    assert.equal(app.received.at(-1)?.headers.host, 'other.example');
  });

  // A host is case-insensitive (RFC 9110 §4.2.3), its trailing dot and port name the same vhost
  // to the upstream: read as sent, each spelling missed the ops route (and its policy) for the
  // catch-all, which handed the upstream the admin host all the same.
  test("a route's condition on Host reads the host as match.host does: any case, a trailing dot, a port", async () => {
    const before = app.received.length;
    for (const host of [
      'ADMIN.example',
      'Ops.Example',
      'admin.example.',
      'admin.example:8080',
      'ADMIN.EXAMPLE.:80',
    ])
      assert.equal(await status('GET /x HTTP/1.1', host), 503, host);
    assert.equal(await status('GET HTTP://ADMIN.EXAMPLE./x HTTP/1.1', 'other.example'), 503);
    assert.equal(app.received.length, before, 'nothing reached the upstream');
    assert.equal(await status('GET /x HTTP/1.1', 'admin.example.org'), 200, 'another host is another host');
    for (const host of ['admin.example', 'ADMIN.example:80'])
      assert.equal(
        await status('GET /exact HTTP/1.1', host),
        503,
        `an exact value as match.host reads one: ${host}`,
      );
  });

  test('a rate limit keyed on Host counts the authority the request went to, whatever the field says', async () => {
    assert.equal(await status('GET http://api.example/limited HTTP/1.1', 'one.example'), 200);
    assert.equal(await status('GET http://api.example/limited HTTP/1.1', 'two.example'), 429);
    assert.equal(await status('GET /limited HTTP/1.1', 'api.example'), 429);
  });

  // As a route's condition reads it: each spelling of one host (its case, a trailing dot, a
  // port) took a bucket of its own, so a client beat a per-host limit by respelling the field.
  test('a rate limit keyed on Host counts every spelling of one host in one bucket', async () => {
    assert.equal(await status('GET /limited HTTP/1.1', 'spelt.example'), 200);
    for (const host of ['SPELT.example', 'spelt.example.', 'spelt.example:80', 'Spelt.Example.:81'])
      assert.equal(await status('GET /limited HTTP/1.1', host), 429, host);
  });

  test('so does one on a route whose access rules edit the fields', async () => {
    const auth = `Authorization: ${STAFF}\r\n`;
    assert.equal(await status('GET http://api.example/staff HTTP/1.1', 'one.example', auth), 200);
    assert.equal(await status('GET http://api.example/staff HTTP/1.1', 'two.example', auth), 429);
    assert.equal(await status('GET /staff HTTP/1.1', 'api.example', auth), 429);
  });

  test('the Host field received is still held to the authority rule (RFC 9112 §3.2)', async () => {
    const before = app.received.length;
    assert.equal(await status('GET http://api.example/x HTTP/1.1', 'user@api.example'), 400);
    assert.equal(await status('GET http://api.example/x HTTP/1.1', ''), 400);
    assert.equal(app.received.length, before, 'nothing reached the upstream');
  });
});
