/**
 * `candor diagnose --config UPSTREAM` says what Candor would answer (issue 32: every answer of
 * the tools is true). For an upstream with `hold` (issue 35), a refused connection is not the
 * 502 it is elsewhere: the gateway holds the request for hold.timeout while no target takes it,
 * then answers 503 destination_unavailable with Retry-After. The verdict said "Candor answers
 * 502". Held to a real gateway in front of the same refusing target.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('a refused target of an upstream that holds: the verdict is the hold, then its 503, as the gateway answers', async () => {
  const refused = await startRefusing();
  const upstream = '    hold: { timeout: 300ms }\n';
  const gw = await startTestGateway(singleUpstream(refused.url, { upstream }));
  try {
    const answered = await request(gw.url, { path: '/' });
    assert.equal(answered.status, 503);
    assert.match(String(answered.headers['proxy-status']), /^edge-1; error=destination_unavailable; /);

    const config = parseConfig(
      `listen: [{ address: "127.0.0.1:0" }]\n${singleUpstream(refused.url, { upstream })}`,
      '<diagnose-test>',
      {},
    );
    const report = await diagnose({ target: 'app', config });
    const { verdict } = report.targets[0];
    assert.equal(verdict.failure?.type, 'connection_refused');
    assert.equal(verdict.status, answered.status);
    assert.equal(
      verdict.summary,
      'unreachable / connection_refused → Candor holds the request up to 300 ms (hold.timeout) for a target to take it, then answers 503 destination_unavailable with Retry-After',
    );
  } finally {
    await gw.close();
    await refused.close();
  }
});

test('without hold, a refused target is the 502 the gateway answers', async () => {
  const refused = await startRefusing();
  try {
    const config = parseConfig(
      `listen: [{ address: "127.0.0.1:0" }]\n${singleUpstream(refused.url)}`,
      '<diagnose-test>',
      {},
    );
    const { verdict } = (await diagnose({ target: 'app', config })).targets[0];
    assert.equal(verdict.status, 502);
    assert.equal(verdict.summary, 'unreachable / connection_refused → Candor answers 502');
  } finally {
    await refused.close();
  }
});
