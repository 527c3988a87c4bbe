/**
 * A proxy on one thread answers nothing while its event loop is held (a plugin's hook that
 * computes, a burst of TLS handshakes): every request's latency grows by the stall before any
 * upstream is slow, and nothing in the request metrics says why. The scrape says it: how late the
 * loop came back to its timer and how busy it was since the previous scrape, and the process's
 * memory and CPU time.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EventLoopWatch } from '../../../src/observe/metrics/event-loop.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { named, type Sample, samples, sampleValue, scrape } from './scrape.ts';

/** A gateway that watches its loop: one with `metrics`. */
const WATCHING = `
metrics: { listen: 127.0.0.1:0 }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:9 }]
`;

let gw: TestGateway;
let port: number;

before(async () => {
  gw = await startTestGateway(WATCHING);
  port = gw.gateway.metricsPort() as number;
});

after(() => closeAll(gw));

const read = async (): Promise<Sample[]> => {
  const { status, text } = await scrape(port);
  assert.equal(status, 200);
  return samples(text);
};
const value = (all: readonly Sample[], name: string) => {
  const found = sampleValue(all, name, {});
  assert.ok(found !== undefined, `${name} missing:\n${named(all, name)}`);
  return found;
};

test('a stall of the event loop is the longest delay of the scrape after it, and the next scrape starts afresh', async () => {
  await read();
  const until = performance.now() + 300;
  while (performance.now() < until);
  const held = await read();
  const longest = value(held, 'candor_event_loop_delay_max_seconds');
  assert.ok(longest >= 0.25, `longest delay ${longest} s after a 300 ms stall`);
  const p99 = value(held, 'candor_event_loop_delay_p99_seconds');
  assert.ok(p99 >= 0 && p99 <= longest, `p99 ${p99}, longest ${longest}`);
  // The window was the stall and two scrapes' round trips: busy most of it.
  const busy = value(held, 'candor_event_loop_utilization');
  assert.ok(busy > 0.5 && busy <= 1, `busy ${busy}`);

  const next = await read();
  assert.ok(value(next, 'candor_event_loop_delay_max_seconds') < longest);
});

test("the process's resident memory and CPU time, the time only ever growing", async () => {
  const first = await read();
  assert.ok(value(first, 'candor_worker_resident_memory_bytes') > 10 * 1024 * 1024);
  const cpu = value(first, 'candor_worker_cpu_seconds_total');
  assert.ok(cpu > 0);
  const until = performance.now() + 20;
  while (performance.now() < until);
  assert.ok(value(await read(), 'candor_worker_cpu_seconds_total') > cpu);
});

test('a gateway without metrics does not watch its event loop: no delay it did not measure is shown', async () => {
  const plain = await startTestGateway(`
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:9 }]
`);
  try {
    const all = samples((await plain.gateway.metrics.exposition()).text);
    for (const name of [
      'candor_event_loop_delay_p99_seconds',
      'candor_event_loop_delay_max_seconds',
      'candor_event_loop_utilization',
    ])
      assert.equal(sampleValue(all, name, {}), undefined, named(all, name));
  } finally {
    await plain.close();
  }
});

test('a gateway closed stops watching its event loop: a program that starts and closes gateways keeps no timer of theirs', async () => {
  const closed = await startTestGateway(WATCHING);
  const watched = samples((await closed.gateway.metrics.exposition()).text);
  assert.notEqual(sampleValue(watched, 'candor_event_loop_utilization', {}), undefined);
  await closed.close();
  const all = samples((await closed.gateway.metrics.exposition()).text);
  for (const name of [
    'candor_event_loop_delay_p99_seconds',
    'candor_event_loop_delay_max_seconds',
    'candor_event_loop_utilization',
  ])
    assert.equal(sampleValue(all, name, {}), undefined, named(all, name));
});

test('a stall that begins as a scrape ends is the next scrape longest delay: the reading forgets no interval', async () => {
  const loop = new EventLoopWatch();
  loop.watch(true);
  try {
    await new Promise((resolve) => setTimeout(resolve, 50));
    loop.read();
    // At once, before the loop's timer runs again.
    const until = performance.now() + 300;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const longest = loop.read()?.delayMax ?? 0;
    assert.ok(longest >= 0.25, `longest delay ${longest} s after a 300 ms stall`);
  } finally {
    loop.watch(false);
  }
});
