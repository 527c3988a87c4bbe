/**
 * `candor explain` on a real gateway whose pool has a dead target behind retries: every client
 * got its 200 from the good target, the dead one refused each first attempt sent to it. The
 * line's `tries` name that target; the Targets table left it out (it ended no request), so the
 * one target to restart was in no row, while an nginx error log's attempts put theirs in one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

test('a target every retry went around is in the Targets table, with the failures of the attempts it refused', async (t) => {
  const dir = tempDir('candor-explain-retried-targets-');
  const dead = await startRefusing();
  const good = await startEcho();
  t.after(() => Promise.all([dead.close(), good.close()]));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: app
    match: { path: /app }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${dead.url} }, { url: ${good.url} }]
    outlier_detection: { consecutive_failures: 0 }
`);
  try {
    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, { path: `/app/${i}` })).status, 200);
    await gw.accessLine(6);
  } finally {
    await gw.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  const refused = lines
    .flatMap((l) => (Array.isArray(l.tries) ? l.tries : []))
    .filter((a) => a.error === 'connection_refused');
  assert.ok(refused.length >= 2, `the dead target took some first attempts: ${refused.length}`);
  const file = join(dir, 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  const report = await explain([file]);
  assert.equal(report.failedAttempts, refused.length);
  const target = report.targets.find((row) => row.name === dead.url);
  assert.deepEqual(
    target && {
      requests: target.requests,
      errors5xx: target.errors5xx,
      failures: target.failures,
      topType: target.topType,
    },
    { requests: 0, errors5xx: 0, failures: refused.length, topType: 'connection_refused' },
  );
  assert.match(
    renderText(report),
    new RegExp(`\\n  ${dead.url.replaceAll('.', '\\.')} +0 +0 +${refused.length} `),
  );
});
