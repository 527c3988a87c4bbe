/**
 * An auth hop's failure (a forward-auth service or a JWKS endpoint refused, slow, broken) is the
 * gateway's answer for the auth hop (`next-hop="auth:NAME"`), never the route's upstream's: its
 * log line has `auth: failed: <type>` and no `upstream`. `candor explain` must place it at the
 * auth hop of its route, not at an unnamed upstream with "start the upstream process" as the
 * only word (issue 32: every answer of the tools is true; issue 34's auth hop).
 *
 * The lines are a real gateway's: one route whose auth service refuses, one whose upstream does.
 * The hop is named as the line's `auth_hop` names it (`auth:HOST:PORT` for a `url`), as the status
 * page and Proxy-Status do, where explain wrote "auth hop (route app)" (kept for a line of an
 * earlier version, which has no `auth_hop`); each call retried once (`hop_tries`), and its first
 * refused attempt is counted at the hop too.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let report: Report;
let hop: string;
/** The same lines as an earlier version wrote them: no `auth_hop`, no `hop_tries`. */
let older: Report;

before(async () => {
  const echo = await startEcho();
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: { url: "${refusing.url}" }
  - name: down
    match: { path: /down }
    upstream: down
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
  down:
    targets: [{ url: ${refusing.url} }]
    retries: { attempts: 1 }
`);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await request(gw.url, { path: '/app' });
      assert.equal(res.status, 502);
      assert.match(String(res.headers['proxy-status']), /error=connection_refused; .*next-hop="auth:/);
    }
    assert.equal((await request(gw.url, { path: '/down' })).status, 502);
    await gw.accessLine(4);
  } finally {
    await gw.close();
    await echo.close();
    await refusing.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  hop = `auth:${new URL(refusing.url).host}`;
  const failed = lines.filter((line) => line.auth === 'failed: connection_refused');
  assert.deepEqual(
    failed.map((line) => [line.auth_hop, (line.hop_tries as { error: string }[]).map((a) => a.error)]),
    Array(3).fill([hop, ['connection_refused', 'connection_refused']]),
  );
  const file = join(tempDir('candor-explain-auth-'), 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  report = await explain([file]);
  const olderFile = join(tempDir('candor-explain-auth-older-'), 'candor.log');
  writeFileSync(
    olderFile,
    `${lines.map(({ auth_hop: _hop, hop_tries: _tries, ...line }) => JSON.stringify(line)).join('\n')}\n`,
  );
  older = await explain([olderFile]);
});

test("a line with no auth_hop (an earlier version's) is still placed at its route's auth hop", () => {
  const refused = older.shapes.flatMap((s) => s.types).find((t) => t.type === 'connection_refused');
  assert.deepEqual(refused?.upstreams, [
    { upstream: 'auth hop (route app)', count: 3 },
    { upstream: 'down', count: 1 },
  ]);
  assert.match(
    renderText(older),
    /\n {4}where: {2}3 at the auth hop \(route app\): the route's forward-auth/,
  );
});

test("the auth hop's refusals are placed at the auth hop of their route, the upstream's at the upstream", () => {
  const refused = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'connection_refused');
  // Three failed requests and the three refused attempts their calls retried.
  assert.deepEqual(refused?.upstreams, [
    { upstream: hop, count: 6 },
    { upstream: 'down', count: 1 },
  ]);
  assert.equal(report.failedAttempts, 3);
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.failures]),
    [
      [hop, 3],
      ['down', 1],
    ],
  );
});

test("what to check first says which of the failures were the auth hop's, not an upstream's", () => {
  const text = renderText(report);
  assert.match(
    text,
    new RegExp(
      `unreachable \\(7\\): the upstream is not there\n {4}likely: the route's auth hop \\(its forward-auth service or JWKS endpoint\\), not its upstream: .*\n {4}check: {2}The route's auth hop failed, not its upstream .*\n {4}also: {3}connection_refused \\(1, down\\): Start the upstream process.*\n {4}where: {2}6 at auth hop ${hop}: the route's forward-auth service or JWKS endpoint failed, not its upstream \\(see the route's auth\\)\n`,
    ),
  );
});
