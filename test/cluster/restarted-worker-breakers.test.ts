/**
 * An open circuit and an ejection are the gateway's, not each worker's (docs/limits.md, "Limits
 * across workers and gateways"), and a worker that replaces one that crashed is one of the
 * gateway's workers too: it starts on the circuits open and the targets ejected at its start,
 * for the time they have left, as it starts on the health verdicts. The primary only relayed the
 * news between the workers alive: a replacement started with every circuit closed and every
 * target in rotation, and its requests went to the upstream the gateway had cut off (a dead
 * upstream's 502s again, a recovering one's load) until it found out for itself.
 * On a real `candor serve --workers 2`, with a real SIGKILL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { adminCall, childPids, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../observe/metrics/scrape.ts';

/** The merged `candor_circuit_state` (the workers' average: 1 = every worker in that state). */
async function state(metricsPort: number, target: string, name: string): Promise<number | undefined> {
  const answer = await scrape(metricsPort);
  return sampleValue(samples(answer.text), 'candor_circuit_state', { upstream: 'app', target, state: name });
}

/** Asks `check` again (each time after a request or a scrape, at most 200 times) until it holds. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`still not ${what}`);
}

const TOKEN = 'restarted-breakers-token-abcdefgh';

/** An admin listener for the config, with its token's file in `dir`. */
function adminLines(dir: string): string {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  return `admin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n`;
}

/**
 * Kills one worker and waits until its replacement answers the admin API beside the other: from
 * then on it is in every scrape (a merged gauge read before is the survivor's alone).
 */
async function replaceOne(serve: Awaited<ReturnType<typeof startServe>>): Promise<void> {
  const [killed] = childPids(serve.child.pid);
  process.kill(killed, 'SIGKILL');
  await serve.waitForLines('listening', 3, 30_000);
  await until('the replacement answering', async () => {
    const status = await adminCall(serve.adminPort as number, 'GET', '/status', { token: TOKEN });
    const workers = status.body.workers as { pid: number | null; answered: boolean }[];
    return workers.length === 2 && workers.every((w) => w.answered && w.pid !== killed);
  });
}

test('a worker started after a crash starts on the open circuit: 503 destination_unavailable, nothing sent upstream', async () => {
  const [upstreamPort, metricsPort] = [await freePort(), await freePort()];
  const dir = tempDir('candor-restart-circuit-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: restart-circuit
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${upstreamPort}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 60s }
`,
  );
  const serve = await startServe(config, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  const received: string[] = [];
  const upstream = http.createServer((req, res) => {
    received.push(String(req.url));
    res.end('answered\n');
  });
  try {
    // Nothing listens upstream: refused until a worker's circuit opens, which tells the other.
    await until('open on every worker', async () => {
      await request(base, { path: '/down' });
      return (await state(metricsPort, '', 'open')) === 1;
    });
    const [killed] = childPids(serve.child.pid);
    process.kill(killed, 'SIGKILL');
    await serve.waitForLines('listening', 3, 30_000);
    assert.equal(childPids(serve.child.pid).length, 2);

    // The upstream answers now: only an open circuit keeps a request from it.
    await new Promise<void>((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));
    assert.equal(await state(metricsPort, '', 'open'), 1, 'the replacement has the circuit open too');
    for (let i = 0; i < 10; i++) {
      const answer = await request(base, { path: `/after${i}`, headers: { accept: 'application/json' } });
      assert.equal(answer.status, 503, `/after${i}: ${answer.text}`);
      // The failure that opened it, named by every worker as by the one that opened it: the one
      // told at the time, and the replacement told by the primary (docs/resilience.md: "whose
      // details name the targets' last failure"). Told workers said only "… is open after repeated failures".
      assert.match(
        String(answer.headers['proxy-status']),
        /; error=destination_unavailable; details="the circuit of \\"app\\" is open after repeated failures \(the last: connection_refused, \d+\.\d s ago\)"/,
      );
      assert.match(String(answer.headers['retry-after']), /^[1-9]\d*$/);
    }
    assert.deepEqual(received, [], 'no request reached the upstream whose circuit is open');
  } finally {
    await closeAll(serve, upstream);
  }
});

test('a worker started after a crash starts on the targets ejected: its requests skip the dead one', async () => {
  const alive = await startEcho();
  const refusing = await startRefusing();
  const [metricsPort] = [await freePort()];
  const dir = tempDir('candor-restart-eject-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: restart-eject
listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${refusing.url}
      - url: ${alive.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 50 }
`,
  );
  const serve = await startServe(config, 2);
  const base = `http://127.0.0.1:${serve.port}`;
  const triedDead = (line: Record<string, unknown>) =>
    Array.isArray(line.tries) && line.tries.some((t: { target: string }) => t.target === refusing.url);
  try {
    await until('ejected on every worker', async () => {
      assert.equal(
        (await request(base, { path: '/first' })).status,
        200,
        'the retry reaches the live target',
      );
      return (await state(metricsPort, refusing.url, 'open')) === 1;
    });
    const [killed] = childPids(serve.child.pid);
    process.kill(killed, 'SIGKILL');
    await serve.waitForLines('listening', 3, 30_000);
    assert.equal(childPids(serve.child.pid).length, 2);

    assert.equal(
      await state(metricsPort, refusing.url, 'open'),
      1,
      'the replacement has the target ejected too',
    );
    const before = serve.lines.filter((l) => l.msg === 'request').length;
    for (let i = 0; i < 10; i++) assert.equal((await request(base, { path: `/after${i}` })).status, 200);
    await serve.waitForLines('request', before + 10);
    const after = serve.lines.filter((l) => l.msg === 'request' && String(l.path).startsWith('/after'));
    assert.equal(after.length, 10);
    assert.deepEqual(
      after.filter(triedDead).map((l) => l.path),
      [],
      'no worker tried the ejected target again',
    );
  } finally {
    await closeAll(serve, alive, refusing);
  }
});

test('a worker started after a crash while the circuit is half-open starts half-open: its first request is the probe, not the first of a new run', async () => {
  const [upstreamPort, metricsPort] = [await freePort(), await freePort()];
  const dir = tempDir('candor-restart-half-open-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: restart-half-open
listen:
  - address: 127.0.0.1:0
${adminLines(dir)}metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${upstreamPort}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 3, open_time: 1s }
`,
  );
  const serve = await startServe(config, 2, { admin: true });
  const base = `http://127.0.0.1:${serve.port}`;
  try {
    // Nothing listens upstream: refused until a worker's circuit opens, which tells the other.
    await until('open on every worker', async () => {
      await request(base, { path: '/down' });
      return (await state(metricsPort, '', 'open')) === 1;
    });
    // Its open time over, with no request since: half-open on both, no probe sent yet.
    await until('half-open on every worker', async () => (await state(metricsPort, '', 'half_open')) === 1);
    await replaceOne(serve);
    // The replacement is half-open too, not closed: a closed one would let three more requests
    // reach the dead upstream (three 502s) before it opened again on its own.
    assert.equal(await state(metricsPort, '', 'half_open'), 1, 'the replacement starts half-open');
    assert.equal(await state(metricsPort, '', 'closed'), 0);
  } finally {
    await closeAll(serve);
  }
});

test('a worker started after a crash while an ejection has run out, no probe yet, starts with the target half-open, not in full rotation', async () => {
  const alive = await startEcho();
  const refusing = await startRefusing();
  const [metricsPort] = [await freePort()];
  const dir = tempDir('candor-restart-eject-half-open-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: restart-eject-half-open
listen:
  - address: 127.0.0.1:0
${adminLines(dir)}metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${refusing.url}
      - url: ${alive.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 1s, max_ejected_percent: 50 }
`,
  );
  const serve = await startServe(config, 2, { admin: true });
  const base = `http://127.0.0.1:${serve.port}`;
  try {
    await until('ejected on every worker', async () => {
      await request(base, { path: '/first' });
      return (await state(metricsPort, refusing.url, 'open')) === 1;
    });
    await until(
      'half-open on every worker',
      async () => (await state(metricsPort, refusing.url, 'half_open')) === 1,
    );
    await replaceOne(serve);
    assert.equal(await state(metricsPort, refusing.url, 'half_open'), 1, 'the replacement has it half-open');
    assert.equal(await state(metricsPort, refusing.url, 'closed'), 0);
  } finally {
    await closeAll(serve, alive, refusing);
  }
});
