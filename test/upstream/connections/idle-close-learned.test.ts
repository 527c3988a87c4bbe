/**
 * An upstream that closes idle connections sooner than the pool keeps them and does not say so
 * (no `Keep-Alive: timeout=N`: uvicorn, gunicorn, Tomcat, Puma): the gateway learns its idle
 * timeout from two such closes that agree, says so once, and retires idle connections before
 * it (idle-limit.ts's IdleCloseLearning), so a POST is no longer written on a connection the
 * upstream is closing (a 502 `not_idempotent` no retry may fix). A real node:http upstream
 * closing at 1.5 s; retries off, so a stale connection would show as the client's 502.
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
  const upstream = await startIdleCloser({ idleMs: 1500, announce: false });
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
  // Counted from when the gateway parked it, a moment after the upstream's own count began.
  assert.ok(idle >= 1400 && idle < 2500, `idle_close_ms ${idle}`);
  assert.ok(Math.abs(kept - (idle - idle / 4)) <= 1, `kept_ms ${kept} for ${idle}`);
  assert.equal(
    line.msg,
    `upstream closes idle connections after about ${idle} ms without saying so (no Keep-Alive: timeout): idle connections to it are kept ${kept} ms at most for the next 5 minutes; set pool.idle_timeout below its own`,
  );
  // Idle past what is kept now, under the upstream's 1.5 s: the POST goes on a new connection.
  assert.deepEqual(await post('p3'), { status: 200, connection: 3 });
  assert.ok(
    kept + 100 < 1450,
    `kept_ms ${kept} leaves no room under the upstream's 1500 (a loop lagging by ${idle - 1500} ms)`,
  );
  await sleep(kept + 100);
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

test('a connection parked before the timeout was learned is retired by it too, before the upstream closes it', async (t) => {
  const upstream = await startIdleCloser({ idleMs: 2000, announce: false });
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(async () => {
    await upstream.close();
    await gw.close();
  });
  // Three connections at once, parked at moments apart by their answers' delays: the upstream
  // closes the first two (2 s idle, 100 ms apart), which teaches about 1.5 s; the third, parked
  // 900 ms after the first, is then idle for some 1.2 s under a 30 s deadline of its own.
  const answers = await Promise.all(
    ['/c1', '/c2?delay=100', '/c3?delay=900'].map((path) => request(gw.url, { path })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200],
  );
  const connectionOf = (path: string) =>
    upstream.received.find((r) => r.path.startsWith(path))?.connection ?? 0;
  assert.deepEqual(
    new Set([connectionOf('/c1'), connectionOf('/c2'), connectionOf('/c3')]),
    new Set([1, 2, 3]),
  );
  const third = upstream.connectionLog[connectionOf('/c3') - 1];
  await waitUntil('learned', () => gw.logs.some((l) => l.msg.startsWith('upstream closes idle connections')));
  // Retired by the gateway (its FIN) at about 900 + kept_ms, where its old deadline was 30 s
  // away and the upstream's close comes at about 2,900 ms.
  assert.equal(await third.ended, 'fin', 'closed by the gateway, not the upstream');
});

test('what teaches an idle timeout and what does not', () => {
  const KEPT = 30_000;
  // One restart closing every idle connection at once (ages all over): nothing.
  const restart = new IdleCloseLearning();
  for (const [i, idle] of [1200, 1300, 15_000, 1250, 3].entries())
    assert.equal(restart.heard(idle, KEPT, 10_000 + i), undefined);
  assert.equal(restart.limit(10_100), Number.POSITIVE_INFINITY);
  // Closes soon after a response (a cap on requests, a recycled worker): no idle timeout is that short.
  const soon = new IdleCloseLearning();
  assert.equal(soon.heard(3, KEPT, 0), undefined);
  assert.equal(soon.heard(3, KEPT, 5000), undefined);
  assert.equal(soon.heard(900, KEPT, 9000), undefined);
  assert.equal(soon.heard(900, KEPT, 12_000), undefined);
  // Two that disagree: nothing.
  const apart = new IdleCloseLearning();
  assert.equal(apart.heard(5000, KEPT, 0), undefined);
  assert.equal(apart.heard(1000, KEPT, 7000), undefined);
  // Two that agree, at moments apart: the shorter less a quarter (at most a second).
  const uvicorn = new IdleCloseLearning();
  assert.equal(uvicorn.heard(5020, KEPT, 0), undefined);
  assert.deepEqual(uvicorn.heard(5004, KEPT, 9000), { idleMs: 5004, limitMs: 4004, news: true });
  assert.equal(uvicorn.limit(9001), 4004);
  const gunicorn = new IdleCloseLearning();
  gunicorn.heard(2000, KEPT, 0);
  assert.deepEqual(gunicorn.heard(1990, KEPT, 3000), { idleMs: 1990, limitMs: 1492.5, news: true });
  // Only ever shorter, and never above the pool's own idle_timeout.
  assert.equal(gunicorn.heard(1995, KEPT, 6000), undefined);
  const longer = new IdleCloseLearning();
  longer.heard(3000, 2000, 0);
  assert.equal(longer.heard(3000, 2000, 5000), undefined);
  // A close waiting for another longer than a learned limit lasts agrees with none.
  const stale = new IdleCloseLearning();
  stale.heard(5000, KEPT, 0);
  assert.equal(stale.heard(5000, KEPT, 5 * 60_000 + 1), undefined);
  // Forgotten after five minutes: kept as long as the pool says again, until closes teach it
  // anew, which is no news to say when it is as it was.
  assert.equal(uvicorn.limit(9000 + 5 * 60_000 - 1), 4004);
  assert.equal(uvicorn.limit(9000 + 5 * 60_000), Number.POSITIVE_INFINITY);
  assert.equal(uvicorn.limitNow(), Number.POSITIVE_INFINITY);
  const later = 9000 + 5 * 60_000;
  assert.equal(uvicorn.heard(5010, KEPT, later + 1000), undefined);
  assert.deepEqual(uvicorn.heard(5001, KEPT, later + 7000), { idleMs: 5001, limitMs: 4001, news: false });
  assert.deepEqual(uvicorn.heard(2500, KEPT, later + 9000), undefined, 'disagrees with the one before');
  assert.deepEqual(uvicorn.heard(2400, KEPT, later + 12_000), { idleMs: 2400, limitMs: 1800, news: true });
});
