/**
 * A fleet of 50 concurrent callers sharing one createFetch, through a real `candor serve`.
 * An upstream that answers 503 with Retry-After: 2 for 5 s: nothing the fleet sends reaches
 * it inside a window a response announced, and every call ends 200 after the recovery. An
 * upstream that is down (refused): the gateway sees at most (1 + budget) × calls + probes,
 * and the circuit opens, so later calls fail fast without sending anything.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CLIENT_DEFAULTS, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { type ClientGateway, startClientGateway } from './gateway-fixture.ts';

const FLEET = 50;

/** An upstream that is unavailable (503, Retry-After: 2) for 5 s from its first request, then fine. */
interface Recovering {
  readonly url: string;
  /** Every request: when it arrived and when the client says it sent it (performance.now(), one process). */
  readonly arrivals: { at: number; sentAt: number; status: number }[];
  close(): Promise<void>;
}

async function startRecovering(): Promise<Recovering> {
  const arrivals: Recovering['arrivals'] = [];
  let firstAt: number | undefined;
  const { url, close } = await listenOnLoopback((req, res) => {
    const at = performance.now();
    firstAt ??= at;
    const status = at - firstAt < 5000 ? 503 : 200;
    arrivals.push({ at, sentAt: Number(req.headers['x-test-sent-at']), status });
    if (status === 503)
      res.writeHead(503, { 'retry-after': '2', 'content-type': 'text/plain' }).end('busy\n');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  });
  return { url, arrivals, close };
}

let recovering: Recovering;
let refused: Fault;
let gateway: ClientGateway;

before(async () => {
  recovering = await startRecovering();
  refused = await startRefusing();
  gateway = await startClientGateway({
    '/busy': `    targets:\n      - url: ${recovering.url}\n`,
    // The gateway's own defences off, so that every call meets the refusal as a 502 connection_refused.
    '/down': [
      '    targets:',
      `      - url: ${refused.url}`,
      '    outlier_detection: { consecutive_failures: 0 }',
      '    circuit_breaker: { consecutive_failures: 0 }',
      '    retries: { attempts: 1 }',
      '',
    ].join('\n'),
  });
});

after(async () => {
  await gateway?.stop();
  await recovering?.close();
  await refused?.close();
});

test('50 callers, upstream 503 Retry-After: 2 for 5 s: nothing sent inside an announced window, every call ends 200', async (t) => {
  /** Each Retry-After window as the fleet saw it: from the response's arrival, for the seconds it said. */
  const windows: { from: number; to: number }[] = [];
  // The transport stamps when each attempt leaves, so the upstream can tell a request sent inside
  // a window from one already on its way when the window was announced.
  const stamping: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('x-test-sent-at', String(performance.now()));
    const res = await fetch(input, { ...init, headers });
    const retryAfter = res.headers.get('retry-after');
    if (retryAfter !== null)
      windows.push({ from: performance.now(), to: performance.now() + Number(retryAfter) * 1000 });
    return res;
  };
  // The caller that probes for the fleet after each window makes one attempt per window: 4 cover 5 s of 2 s windows.
  const api = createFetch({ fetch: stamping, attempts: 5 });
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: FLEET }, async (_, i) => {
      const res = await api(`${gateway.url}/busy/${i}`);
      return { status: res.status, body: await res.text() };
    }),
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);

  assert.deepEqual(
    results.filter((r) => r.status !== 200 || r.body !== 'ok\n'),
    [],
    'every call ends 200 once the upstream recovers',
  );
  const { arrivals } = recovering;
  const inWindow = arrivals.filter((a) => windows.some((w) => a.at > w.from && a.at < w.to));
  const sentInWindow = arrivals.filter((a) => windows.some((w) => a.sentAt > w.from && a.sentAt < w.to));
  assert.deepEqual(sentInWindow, [], 'no request was sent inside a window a response had announced');
  // What arrived inside a window was already on its way when the window was announced.
  for (const a of inWindow) assert.ok(windows.some((w) => a.at > w.from && a.sentAt <= w.from));
  const firstAnnounced = Math.min(...windows.map((w) => w.from));
  const probes = arrivals.filter((a) => a.sentAt > firstAnnounced && a.status === 503);
  const served = arrivals.filter((a) => a.status === 200);
  assert.equal(served.length, FLEET, 'each call reached the recovered upstream once');
  // One request per announced window while the upstream asked for time, not one per caller.
  assert.ok(
    probes.length <= 3,
    `${probes.length} requests reached the upstream during the outage after the first wave`,
  );
  const report = `${FLEET} calls, ${arrivals.length} requests at the upstream (${arrivals.length - served.length - probes.length} in the first wave, ${probes.length} probes during the outage, ${served.length} after the recovery), ${inWindow.length} arrived inside a window (all sent before it opened), all 200 after ${seconds} s`;
  t.diagnostic(report);
  process.stdout.write(`# fleet, 503 Retry-After: 2 for 5 s: ${report}\n`);
});

test('50 callers, upstream refused: the gateway sees at most (1 + budget) × calls + probes, and the circuit opens', async (t) => {
  // Long enough that the second wave surely meets the circuit still open, even on a loaded machine.
  const openTime = 2000;
  const api = createFetch({ circuitBreaker: { openTime } });
  const call = async () => {
    try {
      const res = await api(`${gateway.url}/down/x`);
      await res.arrayBuffer();
      return { status: res.status, error: res.headers.get('proxy-status') };
    } catch (error) {
      assert.ok(error instanceof UpstreamError, String(error));
      return { code: error.code, sent: error.attempts.length };
    }
  };
  const settled = async (count: number) => {
    await waitUntil(`${count} requests logged`, () => gateway.requestsTo('/down').length >= count);
    // Bounded: nothing more may be on its way.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return gateway.requestsTo('/down').length;
  };

  // The first wave meets the refusal: each call ends with the gateway's 502.
  const first = await Promise.all(Array.from({ length: FLEET }, call));
  for (const r of first) {
    if ('status' in r) {
      assert.equal(r.status, 502);
      assert.match(r.error ?? '', /^client-edge; error=connection_refused; details=".*"; next-hop="u1"$/);
    } else assert.equal(r.code, 'UPSTREAM_CIRCUIT_OPEN');
  }
  const afterFirst = await settled(FLEET);
  const openedAt = performance.now();

  // While open: calls fail fast with the circuit-open error, nothing reaches the gateway.
  const second = await Promise.all(Array.from({ length: FLEET }, call));
  assert.deepEqual(
    new Set(second.map((r) => ('code' in r ? r.code : r.status))),
    new Set(['UPSTREAM_CIRCUIT_OPEN']),
  );
  assert.ok(
    second.every((r) => 'sent' in r && r.sent === 0),
    'a failed-fast call made no attempt',
  );
  assert.equal(
    gateway.requestsTo('/down').length,
    afterFirst,
    'nothing reached the gateway while the circuit was open',
  );

  // After the open time: one probe at a time; it fails, the circuit opens again, the rest failed fast.
  await new Promise((resolve) => setTimeout(resolve, openTime + 50));
  const probeAt = performance.now();
  const third = await Promise.all(Array.from({ length: FLEET }, call));
  const afterThird = await settled(afterFirst + 1);
  assert.equal(afterThird - afterFirst, 1, 'one half-open probe');
  assert.equal(
    third.filter((r) => 'status' in r && r.status === 502).length,
    1,
    'the probe call got the 502',
  );
  assert.equal(third.filter((r) => 'code' in r && r.code === 'UPSTREAM_CIRCUIT_OPEN').length, FLEET - 1);

  const calls = 3 * FLEET;
  const probes = 1;
  const bound = (1 + CLIENT_DEFAULTS.budget.ratio) * calls + probes;
  assert.ok(
    afterThird <= bound,
    `${afterThird} requests reached the gateway for ${calls} calls (bound ${bound})`,
  );
  const report = `${calls} calls, ${afterThird} requests reached the gateway (bound ${bound}): first wave ${afterFirst} for ${FLEET} calls, 0 while open, 1 probe after ${Math.round(probeAt - openedAt)} ms (circuit open time ${openTime} ms)`;
  t.diagnostic(report);
  process.stdout.write(`# fleet, upstream refused: ${report}\n`);
});

test('the budget alone (no circuit): 50 concurrent calls to a refused upstream send at most 1.2 × 50 requests', async (t) => {
  const before = gateway.requestsTo('/down').length;
  const skipped: string[] = [];
  const api = createFetch({
    circuitBreaker: false,
    budget: { minPerSecond: 0 },
    onAttemptFailed: (r) => {
      if (!r.retry) skipped.push(r.reason);
    },
  });
  const results = await Promise.all(
    Array.from({ length: FLEET }, async () => {
      const res = await api(`${gateway.url}/down/budget`);
      await res.arrayBuffer();
      return res.status;
    }),
  );
  assert.deepEqual(new Set(results), new Set([502]));
  await waitUntil('the calls logged', () => gateway.requestsTo('/down').length - before >= FLEET);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const sent = gateway.requestsTo('/down').length - before;
  assert.ok(sent > FLEET, `some calls were retried (${sent} requests)`);
  assert.ok(sent <= 1.2 * FLEET, `${sent} requests for ${FLEET} calls`);
  assert.ok(skipped.includes('budget'), 'the budget stopped some retries');
  t.diagnostic(
    `${FLEET} calls, ${sent} requests (budget 20%, no floor, no circuit; 3 attempts each would be ${3 * FLEET})`,
  );
  process.stdout.write(`# budget alone: ${FLEET} calls, ${sent} requests\n`);
});
