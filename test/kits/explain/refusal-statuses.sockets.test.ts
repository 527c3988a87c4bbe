/**
 * `candor explain` on a real gateway's refusals (issue 56 item 12): a missing credential's 401
 * and an IP list's 403 are logged with the gateway's denial type (`http_request_denied`), whose
 * row in the failure table is a rate limit's 429. The report's status is what the clients got
 * (401, 403), never the 429 none of them saw; a real rate limit's 429 keeps its own. The
 * 401s and 403s are counted by route and method (issue 59), the gateway's apart from the
 * upstream's own.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let report: Report;

before(async () => {
  const dir = tempDir('candor-explain-refusals-');
  const users = join(dir, 'users');
  writeFileSync(users, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: staff
    match: { path: /staff }
    upstream: app
    auth:
      basic: { users_file: ${users} }
  - name: lan
    match: { path: /lan }
    upstream: app
    deny: [127.0.0.0/8]
  - name: limited
    match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
  - name: app
    match: { path: /app }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  try {
    for (const [method, path, status] of [
      ['GET', '/staff', 401],
      ['GET', '/staff', 401],
      ['GET', '/lan', 403],
      ['POST', '/lan', 403],
      ['GET', '/limited', 200],
      ['GET', '/limited', 429],
      // The upstream's own refusal, passed through.
      ['DELETE', '/app?status=401', 401],
    ] as const)
      assert.equal((await request(gw.url, { method, path })).status, status, path);
    await gw.accessLine(7);
  } finally {
    await gw.close();
    await echo.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  const file = join(dir, 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  report = await explain([file]);
});

test("a refusal's status is the one its clients got: 401 and 403 are not printed as 429", () => {
  const denied = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'http_request_denied');
  assert.deepEqual(denied?.loggedStatuses, [
    { status: 401, count: 2 },
    { status: 403, count: 2 },
    { status: 429, count: 1 },
  ]);
  assert.deepEqual(denied?.answered, [401, 403, 429]);
  const row = renderText(report)
    .split('\n')
    .find((l) => l.trimStart().startsWith('http_request_denied'));
  assert.match(String(row), /^ +http_request_denied +5 +401, 403, 429 +401×2 403×2 429×1 /);
});

test('the 401s and 403s by route and method, the gateway’s apart from the upstream’s own', () => {
  assert.deepEqual(report.refusals, [
    { route: 'staff', method: 'GET', unauthorized: 2, forbidden: 0, byProxy: 2, makerUnknown: 0 },
    { route: 'app', method: 'DELETE', unauthorized: 1, forbidden: 0, byProxy: 0, makerUnknown: 0 },
    { route: 'lan', method: 'GET', unauthorized: 0, forbidden: 1, byProxy: 1, makerUnknown: 0 },
    { route: 'lan', method: 'POST', unauthorized: 0, forbidden: 1, byProxy: 1, makerUnknown: 0 },
  ]);
  const text = renderText(report);
  const at = text.indexOf('Refused (401, 403) by route and method');
  assert.notEqual(at, -1, text);
  assert.deepEqual(text.slice(at).split('\n').slice(1, 6), [
    '  route  method  401  403  by the gateway',
    '  staff  GET       2    0               2',
    '  app    DELETE    1    0               0',
    '  lan    GET       0    1               1',
    '  lan    POST      0    1               1',
  ]);
});
