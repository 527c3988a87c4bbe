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
