/**
 * An upstream that closes idle connections sooner than the pool keeps them and does not say so
 * (no `Keep-Alive: timeout=N`: uvicorn, gunicorn, Tomcat, Puma): the gateway learns its idle
 * timeout from two such closes that agree, says so once, and retires idle connections before
 * it (idle-limit.ts's IdleCloseLearning), so a POST is no longer written on a connection the
 * upstream is closing (a 502 `not_idempotent` no retry may fix). A real node:http upstream
 * closing at 600 ms; retries off, so a stale connection would show as the client's 502.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIdleCloser } from '../../../src/kits/fault-kit/http-servers.ts';
import { IdleCloseLearning } from '../../../src/upstream/connections/http1/idle-limit.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('two idle closes that agree teach the upstream idle timeout: said once, and an idle connection is retired before it', async (t) => {
  const upstream = await startIdleCloser({ idleMs: 600, announce: false });
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
`);
  t.after(async () => {
    await upstream.close();
    await gw.close();
  });
  const post = async (id: string) => {
    const res = await request(gw.url, {
      method: 'POST',
      path: `/${id}`,
      body: 'payload',
      headers: { 'x-request-id': id },
    });
    return { status: res.status, connection: upstream.received.find((r) => r.path === `/${id}`)?.connection };
  };
  const learned = () => gw.logs.find((l) => l.msg.startsWith('upstream closes idle connections'));
  // Two connections left idle until the upstream closes them, at moments apart.
  assert.deepEqual(await post('p1'), { status: 200, connection: 1 });
  assert.equal(await upstream.connectionLog[0].ended, 'local', 'closed by the upstream, idle');
  await sleep(50);
  assert.equal(learned(), undefined, 'one close teaches nothing');
  assert.deepEqual(await post('p2'), { status: 200, connection: 2 });
  await waitUntil('learned', () => learned() !== undefined);
  const line = learned() as Record<string, unknown>;
  assert.equal(line.level, 'warn');
  assert.equal(line.upstream, 'app');
  assert.equal(line.target, new URL(upstream.url).host);
  const idle = line.idle_close_ms as number;
  const kept = line.kept_ms as number;
  assert.ok(idle >= 590 && idle < 900, `idle_close_ms ${idle}`);
  assert.ok(Math.abs(kept - (idle - idle / 4)) <= 1, `kept_ms ${kept} for ${idle}`);
  assert.equal(
    line.msg,
    `upstream closes idle connections after about ${idle} ms without saying so (no Keep-Alive: timeout): idle connections to it are kept ${kept} ms at most for the next 5 minutes; set pool.idle_timeout below its own`,
  );
  // Idle 540 ms: under the upstream's 600, past what is kept now: the POST goes on a new connection.
  assert.deepEqual(await post('p3'), { status: 200, connection: 3 });
  await sleep(540);
  assert.deepEqual(await post('p4'), { status: 200, connection: 4 });
  assert.equal((await gw.logFor('p4')).reused, false);
  // Within what is kept, the connection is reused.
  assert.deepEqual(await post('p5'), { status: 200, connection: 4 });
  assert.equal(
    gw.logs.filter((l) => l.msg.startsWith('upstream closes idle connections')).length,
    1,
    'said once',
  );
});

test('what teaches an idle timeout and what does not', () => {
  const KEPT = 30_000;
  // One restart closing every idle connection at once (ages all over): nothing.
  const restart = new IdleCloseLearning();
  for (const [i, idle] of [1200, 800, 15_000, 900, 3].entries())
    assert.equal(restart.heard(idle, KEPT, 10_000 + i), undefined);
  assert.equal(restart.limit(10_100), Number.POSITIVE_INFINITY);
  // Two that disagree: nothing.
  const apart = new IdleCloseLearning();
  assert.equal(apart.heard(5000, KEPT, 0), undefined);
  assert.equal(apart.heard(1000, KEPT, 7000), undefined);
  // Two that agree, at moments apart: the shorter less a quarter (at most a second).
  const uvicorn = new IdleCloseLearning();
  assert.equal(uvicorn.heard(5020, KEPT, 0), undefined);
  assert.deepEqual(uvicorn.heard(5004, KEPT, 9000), { idleMs: 5004, limitMs: 4004 });
  assert.equal(uvicorn.limit(9001), 4004);
  const quick = new IdleCloseLearning();
  quick.heard(200, KEPT, 0);
  assert.deepEqual(quick.heard(180, KEPT, 400), { idleMs: 180, limitMs: 135 });
  // Only ever shorter, and never above the pool's own idle_timeout.
  assert.equal(quick.heard(190, KEPT, 800), undefined);
  const longer = new IdleCloseLearning();
  longer.heard(3000, 2000, 0);
  assert.equal(longer.heard(3000, 2000, 5000), undefined);
  // Forgotten after five minutes: kept as long as the pool says again, until closes teach it anew.
  assert.equal(uvicorn.limit(9000 + 5 * 60_000 - 1), 4004);
  assert.equal(uvicorn.limit(9000 + 5 * 60_000), Number.POSITIVE_INFINITY);
});
