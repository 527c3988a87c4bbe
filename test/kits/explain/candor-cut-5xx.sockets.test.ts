/**
 * An upstream's own 5xx whose body then broke (cut by a reset, stalled past the read timeout) is
 * the upstream's: its status line went to the client as it sent it (`Proxy-Status:
 * …; received-status=500`), `candor_responses_total` counts it `origin="upstream"`, the status
 * page's failures say `upstream`. `candor explain` read the line's `error` alone and counted it
 * "made by the proxy", the one surface that said the gateway made a 5xx the upstream sent.
 *
 * The lines are a real gateway's, in front of upstreams that misbehave after their head.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

test("an upstream's 5xx cut after its head is counted as passed through, as the metrics count it", async () => {
  const head = (status: string) =>
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n${'e'.repeat(100)}`;
  const cut = await scriptedUpstream((socket) => {
    socket.write(head('500 Internal Server Error'));
    setTimeout(() => socket.resetAndDestroy(), 20);
  });
  const stalled = await scriptedUpstream((socket) => socket.write(head('503 Service Unavailable')));
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - { name: cut, match: { path: /cut }, upstream: cut }
  - { name: stalled, match: { path: /stalled }, upstream: stalled }
  - { name: down, match: { path: /down }, upstream: down }
upstreams:
  cut: { targets: [{ url: ${cut.url} }] }
  stalled: { targets: [{ url: ${stalled.url} }], timeouts: { read: 200ms } }
  down: { targets: [{ url: ${refusing.url} }], retries: { attempts: 1 } }
`);
  let metrics = '';
  try {
    for (const [path, status] of [
      ['/cut', 500],
      ['/stalled', 503],
      ['/down', 502],
    ] as const) {
      const res = await request(gw.url, { path }).catch(() => undefined);
      // A client may read the cut as an error or as a short body: the status went out either way.
      if (res !== undefined) assert.equal(res.status, status);
    }
    await gw.accessLine(3);
    metrics = (await gw.gateway.metrics.exposition()).text;
  } finally {
    await gw.close();
    await Promise.all([cut.close(), stalled.close(), refusing.close()]);
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  assert.deepEqual(
    lines.map((line) => [line.status, line.error, line.stage]),
    [
      [500, 'http_response_incomplete', 'body_streaming'],
      [503, 'connection_read_timeout', 'body_streaming'],
      [502, 'connection_refused', 'not_sent'],
    ],
  );
  for (const series of [
    'route="cut",code="500",origin="upstream"',
    'route="stalled",code="503",origin="upstream"',
    'route="down",code="502",origin="gateway"',
  ])
    assert.ok(metrics.includes(`candor_responses_total{${series}`), series);
  const file = join(tempDir('candor-explain-cut-5xx-'), 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  const report = await explain([file]);
  assert.deepEqual(report.errors5xx, { byProxy: 1, passedThrough: 2, cannotTell: 0 });
});
