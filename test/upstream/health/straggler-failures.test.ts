/**
 * A target that hangs has many requests out when the first of them times out and ejects it: the
 * others time out in turn while it is ejected. They are the fault the ejection was for, not new
 * ones: the target is ejected once, logged once, for the time decided then (as Envoy ejects a host
 * that is out already no further).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

test('requests out on a target when it is ejected, failing after, do not eject it again', async () => {
  const hanging = await scriptedUpstream(() => {});
  const answering = await Promise.all([0, 1, 2].map(() => scriptedUpstream((socket) => socket.write(OK))));
  // Four targets at 50%: two may be out at once, so only the rule under test stops a second ejection.
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${[hanging, ...answering].map((t) => `      - url: ${t.url}`).join('\n')}
    retries: { attempts: 1 }
    timeouts: { response: 300ms }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 50 }
    circuit_breaker: { consecutive_failures: 0 }
`);
  try {
    // Round robin over four: three of the twelve go to the hanging target, all out before any times out.
    const answers = await Promise.all(Array.from({ length: 12 }, () => request(gw.url)));
    assert.equal(hanging.requests.length, 3);
    assert.deepEqual(answers.map((a) => a.status).sort(), [...Array(9).fill(200), 504, 504, 504]);
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.equal(ejected.length, 1, JSON.stringify(ejected));
    assert.equal(ejected[0].target, hanging.url);
    assert.equal(ejected[0].ejections, 1);
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    assert.equal(target?.config.origin, hanging.url);
    assert.equal(target?.ejections, 1);
    // Its end is the first ejection's, not pushed on by the stragglers.
    assert.equal(
      new Date(performance.timeOrigin + (target?.ejectedUntil ?? 0)).toISOString(),
      ejected[0].until,
    );
  } finally {
    await gw.close();
    await hanging.close();
    await Promise.all(answering.map((t) => t.close()));
  }
});

test("a dead target's stragglers do not open the upstream's circuit: its ejection answers for them", async () => {
  // Both targets hold every request until told: the one that dies then resets all of its at once,
  // and they come back before the healthy one's answers (as refusals outrun a healthy target's).
  const dying: import('node:net').Socket[] = [];
  const waiting: import('node:net').Socket[] = [];
  const dead = await scriptedUpstream((socket) => dying.push(socket));
  const healthy = await scriptedUpstream((socket) => waiting.push(socket));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${dead.url}
      - url: ${healthy.url}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 5, base_ejection_time: 60s, max_ejected_percent: 50 }
    circuit_breaker: { consecutive_failures: 20, open_time: 60s }
`);
  try {
    // Round robin over two: thirty each, all out before any fails.
    const answers = Promise.all(Array.from({ length: 60 }, () => request(gw.url)));
    await waitUntil('every request out', () => dying.length === 30 && waiting.length === 30);
    for (const socket of dying) socket.resetAndDestroy();
    await waitUntil('the dead target ejected', () => gw.logs.some((l) => l.msg === 'target ejected'));
    // Its thirty failures: five eject it; the twenty-five after are the fault its ejection is for.
    await waitUntil('every failure logged', () => gw.logs.filter((l) => l.status === 502).length === 30);
    for (const socket of waiting) socket.write(OK);
    assert.deepEqual((await answers).map((a) => a.status).sort(), [
      ...Array(30).fill(200),
      ...Array(30).fill(502),
    ]);
    const upstream = gw.gateway.runtime().upstreams.get('app');
    assert.equal(upstream?.circuit.stateAt(performance.now()), 'closed');
    // The next request goes to the healthy target, not to the circuit's 503.
    const next = request(gw.url);
    await waitUntil('the next request at the healthy target', () => waiting.length === 31);
    waiting[30].write(OK);
    assert.equal((await next).status, 200);
  } finally {
    await gw.close();
    await dead.close();
    await healthy.close();
  }
});
