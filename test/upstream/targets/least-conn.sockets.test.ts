/**
 * balancer: least_conn on a real gateway, beside nginx's least_conn (docs/hostile-peers.md, "Load
 * balancing against nginx and HAProxy"): idle targets are tied at 0 in flight, so their weights
 * share the requests (3:1 goes a,a,b,a, where the weight-1 target got nothing at all), and tied
 * targets take them in turn, whatever a busy one or a retry does to the order of the candidates
 * (a slow target's traffic went 2:1 to the target listed after it, and a target that resets
 * every request took 5 first attempts of 6).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let a: Fault;
let b: Fault;
let c: Fault;
let resetting: ScriptedUpstream;
before(async () => {
  [a, b, c] = await Promise.all([startEcho(), startEcho(), startEcho()]);
  resetting = await scriptedUpstream((socket) => socket.resetAndDestroy());
});
after(() => closeAll(a, b, c, resetting));

const name = (url: unknown) =>
  url === a.url ? 'a' : url === b.url ? 'b' : url === c.url ? 'c' : url === resetting.url ? 'r' : String(url);

/** Sends one request and waits for its log line (the request is over, its target's count given back). */
async function send(gw: TestGateway, path = '/') {
  const res = await request(gw.url, { path });
  const line = await gw.logFor(String(res.headers['x-request-id']));
  return { status: res.status, line };
}

const upstream = (targets: string, more = '') => `routes:
  - upstream: app
upstreams:
  app:
    targets: [${targets}]
    balancer: least_conn
${more}`;

test('weights share idle targets: 3:1 goes a,a,b,a, as nginx does', async () => {
  const gw = await startTestGateway(upstream(`{ url: ${a.url}, weight: 3 }, { url: ${b.url} }`));
  try {
    const picks: string[] = [];
    for (let i = 0; i < 8; i++) picks.push(name((await send(gw)).line.target));
    assert.equal(picks.join(''), 'aabaaaba');
  } finally {
    await gw.close();
  }
});

test('a slow target holding a request: the two others take the rest in turn', async () => {
  const gw = await startTestGateway(upstream(`{ url: ${a.url} }, { url: ${b.url} }, { url: ${c.url} }`));
  try {
    const slow = request(gw.url, { path: '/?delay=2000' });
    // Wait until one target holds it (the first pick of idle targets: a, the first listed).
    while (a.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) picks.push(name((await send(gw)).line.target));
    assert.equal(
      picks.join(''),
      'bcbcbc',
      'not bbcbbc: the target listed after the slow one got two of three',
    );
    assert.equal((await slow).status, 200);
  } finally {
    await gw.close();
  }
});

test('a target that resets every request takes its turn of first attempts, no more', async () => {
  const gw = await startTestGateway(
    upstream(
      `{ url: ${a.url} }, { url: ${resetting.url} }, { url: ${c.url} }`,
      // Nothing takes it out of rotation: the balancer alone decides where first attempts go.
      `    retries: { attempts: 2 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
`,
    ),
  );
  try {
    const firsts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { status, line } = await send(gw);
      assert.equal(status, 200, 'the retry went to another target');
      const tries = line.tries as { target: string }[] | undefined;
      firsts.push(name(tries?.[0].target ?? line.target));
      if (tries !== undefined) assert.notEqual(tries[1].target, resetting.url);
    }
    assert.equal(
      firsts.filter((t) => t === 'r').length,
      2,
      `first attempts ${firsts.join('')}: the resetting target was every other request's first`,
    );
  } finally {
    await gw.close();
  }
});
