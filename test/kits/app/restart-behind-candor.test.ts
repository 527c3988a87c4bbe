/**
 * The deploy test: two instances of an app on `candor/app` behind a real `candor serve` with
 * active health checks on `/ready`, restarted in turn 10 times (SIGTERM, the old process
 * drains and exits, a new one starts on the same port and warms up) under steady keep-alive
 * traffic from 4 clients. The gateway retries nothing (`retries.attempts: 1`), so any request
 * the restarts broke would reach a client as a 502 or 503: every answer must be a 200.
 *
 * This is a rolling restart, what a deploy behind a load balancer does: the instance going
 * away says "not ready" while it still serves, the gateway's checks take it out
 * (`fall` × (`interval` + probe) = 2 × (100 + ≤400) ms, under the app's 1.2 s delay), it stops
 * accepting and finishes; the new one is put back once its own check says ready.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { type AppProcess, startAppProcess } from './app-process.ts';

const RESTARTS = 10;
const CLIENTS = 4;
/** A bound on the traffic, whatever the machine's speed. */
const MAX_REQUESTS = 60_000;

test(`${RESTARTS} rolling restarts of two app instances behind candor serve under keep-alive traffic: no non-2xx`, {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir('candor-app-restart-');
  const ports = [await freePort(), await freePort()];
  const env = (i: number, generation: number) => ({
    APP_NAME: `app${i}-gen${generation}`,
    APP_PORT: String(ports[i]),
    APP_START_MS: '200',
    APP_DELAY: '1200',
    APP_TIMEOUT: '5000',
  });
  const apps: AppProcess[] = [await startAppProcess(env(0, 0)), await startAppProcess(env(1, 0))];
  const retired: AppProcess[] = [];
  // Whatever happens next (the gateway failing to start included), no app process outlives the test.
  t.after(async () => {
    await Promise.all([...apps, ...retired].map((app) => app.kill()));
    rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all(apps.map((app) => app.waitFor('ready')));

  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: app-restart-edge
listen:
  - address: 127.0.0.1:0
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${ports[0]}
      - url: http://127.0.0.1:${ports[1]}
    health_check: { path: /ready, interval: 100ms, timeout: 400ms, rise: 1, fall: 2 }
    retries: { attempts: 1 }
drain: { timeout: 2s }
log: { level: info }
`,
  );
  const serve = await startServe(config, 1);
  const base = `http://127.0.0.1:${serve.port}`;
  const targetLines = (msg: string, i: number) =>
    serve.lines.filter((l) => l.msg === msg && String(l.target).endsWith(`:${ports[i]}`)).length;

  let running = true;
  // Run by the finally below, or by the runner if the test times out first: nothing outlives it.
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      running = false;
      const stopped = serve.stop();
      const late = setTimeout(() => serve.child.kill('SIGKILL'), 5_000);
      await stopped;
      clearTimeout(late);
      await Promise.all([...apps, ...retired].map((app) => app.kill()));
    })();
    return cleaned;
  };
  t.after(cleanup);
  let requests = 0;
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const servedBy = new Set<string>();
  const client = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let k = 0; running && requests < MAX_REQUESTS; k++) {
      // Every 25th request takes 300 ms: there is one in flight at most stops.
      const path = k % 25 === 0 ? '/slow' : `/work?c=${n}&k=${k}`;
      requests++;
      try {
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          http
            .get(`${base}${path}`, { agent, timeout: 10_000 }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (chunk) => {
                body += chunk;
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
              res.on('error', reject);
            })
            .on('timeout', function (this: http.ClientRequest) {
              this.destroy(new Error('no answer in 10 s'));
            })
            .on('error', reject);
        });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) servedBy.add(body.split(' ')[0]);
        else failures.push(`${path}: ${status} ${body.slice(0, 200)}`);
      } catch (error) {
        failures.push(`${path}: ${(error as Error).message}`);
      }
    }
    agent.destroy();
  };

  try {
    const traffic = Array.from({ length: CLIENTS }, (_, n) => client(n));
    await waitUntil('traffic flowing', () => requests > 200, 10_000);
    for (let restart = 1; restart <= RESTARTS; restart++) {
      const i = (restart - 1) % 2;
      const old = apps[i];
      const upBefore = targetLines('target up', i);
      old.child.kill('SIGTERM');
      const exit = await Promise.race([
        old.exited,
        new Promise((resolve) => setTimeout(resolve, 10_000, 'still running')),
      ]);
      assert.equal(exit, 0, `restart ${restart}: the old instance exited 0; ${old.stderr()}`);
      retired.push(old);
      apps[i] = await startAppProcess(env(i, restart));
      await apps[i].waitFor('ready');
      // The next instance goes only once the gateway has this one back in rotation.
      await waitUntil(`restart ${restart}: target up`, () => targetLines('target up', i) > upBefore, 10_000);
    }
    await waitUntil('the last instance served', () => servedBy.has(`app1-gen${RESTARTS}`), 10_000);
    running = false;
    await Promise.all(traffic);

    const count = Object.fromEntries([...statuses].sort());
    t.diagnostic(
      `${RESTARTS} restarts, ${requests} requests by ${CLIENTS} keep-alive clients: statuses ${JSON.stringify(count)}, ${failures.length} failures`,
    );
    assert.deepEqual(failures, [], 'no request failed');
    assert.deepEqual([...statuses.keys()], [200], 'every answer a 200');
    assert.ok(requests < MAX_REQUESTS, 'the traffic ran through every restart');
    // Every instance served, old and new: traffic really went through the restarts.
    for (let generation = 0; generation <= RESTARTS; generation++) {
      const i = generation === 0 ? [0, 1] : [(generation - 1) % 2];
      for (const k of i)
        assert.ok(servedBy.has(`app${k}-gen${generation}`), `app${k}-gen${generation} served`);
    }
    // Each old instance drained without cutting anything: not ready, stopped accepting, stopped.
    for (const old of retired) {
      const stopped = old.lines.find((l) => l.msg === 'stopped');
      assert.equal(stopped?.forced, 0, `${old.lines[0]?.name ?? ''} cut nothing`);
      assert.equal(stopped?.reason, 'SIGTERM');
    }
    // One per restart at least (a probe slower than its timeout on a loaded machine may add one).
    assert.ok(targetLines('target down', 0) + targetLines('target down', 1) >= RESTARTS);
    const fiveHundreds = serve.lines.filter((l) => l.msg === 'request' && Number(l.status) >= 500);
    assert.deepEqual(fiveHundreds, [], 'the gateway logged no 5xx');
  } finally {
    await cleanup();
  }
});
