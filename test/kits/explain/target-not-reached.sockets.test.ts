/**
 * `candor explain`'s Targets table counts at a target only what the log says reached it. A
 * request that waited behind its upstream's full pool and got 503 `connection_limit_reached`
 * (`attempts: 0`: no attempt went) and a held request's final 503 (`destination_unavailable`,
 * the gateway's answer once hold.timeout ran out after its tries) were counted as failures at
 * the target its line names, where the metrics count no attempt and /status no failure of it: a
 * hold of 8 refused tries showed 9 failures at the target.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type LogLine, singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { explain } from './explain-fixture.ts';

async function explained(lines: readonly LogLine[]) {
  const file = join(tempDir('candor-explain-not-reached-'), 'candor.log');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  return explain([file]);
}

test('a request that waited behind a full pool is no failure of the target: no attempt reached it', async (t) => {
  const sockets: http.ServerResponse[] = [];
  // Answers once the second request has been refused: the one connection stays busy until then.
  const slow = http.createServer((_req, res) => sockets.push(res));
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => slow.close(resolve)));
  const url = `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`;
  const gw = await startTestGateway(
    singleUpstream(url, {
      upstream: '    pool: { max_connections: 1, max_pending: 1, queue_timeout: 100ms }\n',
    }),
  );
  try {
    const first = request(gw.url, { path: '/first', timeoutMs: 10_000 });
    await waitUntil('the first request at the upstream', () => sockets.length === 1);
    assert.equal((await request(gw.url, { path: '/queued', timeoutMs: 10_000 })).status, 503);
    sockets[0].end('ok');
    assert.equal((await first).status, 200);
    await gw.accessLine(2);
  } finally {
    await gw.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  const queued = lines.find((line) => line.path === '/queued');
  assert.equal(queued?.error, 'connection_limit_reached');
  assert.equal(queued?.attempts, 0);
  const report = await explained(lines);
  const target = report.targets.find((row) => row.name === url);
  // Before: requests 2, 5xx 1, failures 1, mostly connection_limit_reached.
  assert.deepEqual(
    target && { requests: target.requests, errors5xx: target.errors5xx, failures: target.failures },
    { requests: 1, errors5xx: 0, failures: 0 },
  );
});

test("a held request's final 503 is the gateway's: the target counts the tries it refused, not one more", async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gw = await startTestGateway(singleUpstream(url, { upstream: '    hold: { timeout: 300ms }\n' }));
  try {
    assert.equal((await request(gw.url, { path: '/held', timeoutMs: 10_000 })).status, 503);
    await gw.accessLine(1);
  } finally {
    await gw.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  const [held] = lines;
  assert.equal(held.error, 'destination_unavailable');
  const tries = held.tries as { error: string }[];
  assert.ok(tries.length >= 1 && tries.every((a) => a.error === 'connection_refused'), JSON.stringify(held));
  const report = await explained(lines);
  const target = report.targets.find((row) => row.name === url);
  // Before: one failure more than the tries (the hold's own 503). Every failure at the target is
  // a refused connection.
  assert.deepEqual(
    target && { requests: target.requests, failures: target.failures, topType: target.topType },
    { requests: 1, failures: tries.length, topType: 'connection_refused' },
  );
  assert.equal(report.failedAttempts, tries.length);
});
