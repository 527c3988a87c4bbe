/**
 * `candor explain` on a real gateway's refusals (issue 56 item 12): a missing credential's 401
 * and an IP list's 403 are logged with the gateway's denial type (`http_request_denied`), whose
 * row in the failure table is a rate limit's 429. The report's status is what the clients got
 * (401, 403), never the 429 none of them saw; a real rate limit's 429 keeps its own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let report: Report;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-explain-refusals-'));
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
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  try {
    for (const [path, status] of [
      ['/staff', 401],
      ['/staff', 401],
      ['/lan', 403],
      ['/limited', 200],
      ['/limited', 429],
    ] as const)
      assert.equal((await request(gw.url, { path })).status, status, path);
    await gw.accessLine(5);
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
    { status: 403, count: 1 },
    { status: 429, count: 1 },
  ]);
  assert.deepEqual(denied?.answered, [401, 403, 429]);
  const row = renderText(report)
    .split('\n')
    .find((l) => l.trimStart().startsWith('http_request_denied'));
  assert.match(String(row), /^ +http_request_denied +4 +401, 403, 429 +401×2 403×1 429×1 /);
});
