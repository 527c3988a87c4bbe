/**
 * A stored answer that stood in for a failure (stale-if-error) is a 200 whose log line keeps the
 * failure: `cache: stale` with `stale_cause`, the failure's type or `upstream_503` for the
 * upstream's own status. `candor explain` must tell both (issue 32: every answer of the tools is
 * true; issue 35's stale answers): the upstream's own 503s hidden behind 200s were read as
 * answered requests and never told, and a failure "logged as 200" went without its reason.
 *
 * The lines are a real gateway's, in front of an origin that answered once, then said 503, then hung.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let report: Report;

before(async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'ETag', '"v1"'],
    body: 'stored page',
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    timeouts: { response: 300ms }
    targets:
      - url: ${origin.url}
`);
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    origin.mood = 'status_503';
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    origin.mood = 'hang';
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    await gw.accessLine(5);
  } finally {
    await gw.close();
    await origin.stop();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.deepEqual(
    lines.map((line) => line.stale_cause),
    [undefined, 'upstream_503', 'upstream_503', 'upstream_503', 'http_response_timeout'],
  );
  const file = join(tempDir('candor-explain-stale-'), 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  report = await explain([file]);
});

test("the stale answers are counted by what they stood in for: the upstream's own 503 and the timeout", () => {
  assert.deepEqual(report.staleAnswers, [
    { cause: 'upstream_503', count: 3 },
    { cause: 'http_response_timeout', count: 1 },
  ]);
  const timeout = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'http_response_timeout');
  assert.deepEqual(timeout?.loggedStatuses, [{ status: 200, count: 1 }]);
});

test('the text tells the failures the clients did not see, and that a stored answer hid them', () => {
  const text = renderText(report);
  assert.match(text, /\n {2}upstream's own 5xx, a stored answer sent instead +3\n/);
  assert.match(
    text,
    /\n {2}stale answers \(4\): a stored answer went to the client \(a 200\) in place of a failure: upstream_503 ×3, http_response_timeout ×1\n {4}check: {2}the upstream still failed: its own logs at these times; the cache hid it from the clients, it did not mend it\n/,
  );
});
