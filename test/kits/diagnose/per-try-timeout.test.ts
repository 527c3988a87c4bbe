/**
 * An upstream with `retries.per_try_timeout` below `timeouts.response`: each of the gateway's
 * attempts waits that long for the head, no longer. `candor diagnose --config FILE NAME` waits
 * as the gateway does, and names the field that set the wait; it waited `timeouts.response`,
 * so a target the gateway answers 504 for was judged ok (exit 0).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** An upstream that answers 200 `ms` after each request came. */
function startSlowHead(ms: number) {
  return startRawFault(async (connection) => {
    await readRequest(connection);
    await sleep(ms);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
}

test('a head slower than per_try_timeout: 504 through the gateway, and the same verdict from diagnose', async () => {
  // Answers, but after every attempt's wait is over.
  const slow = await startSlowHead(800);
  const gw = await startTestGateway(
    singleUpstream(slow.url, {
      upstream: '    timeouts: { response: 20s }\n    retries: { attempts: 1, per_try_timeout: 100ms }',
    }),
  );
  try {
    const res = await request(gw.url, { path: '/slow' });
    assert.equal(res.status, 504);
    assert.match(String(res.headers['proxy-status']), /error=http_response_timeout/);
    const report = await diagnose({ target: 'app', config: gw.gateway.runtime().config, path: '/slow' });
    const { verdict } = report.targets[0];
    assert.equal(verdict.failure?.type, 'http_response_timeout', verdict.summary);
    assert.equal(verdict.status, 504);
    assert.equal(report.exitCode, 2);
    assert.match(verdict.fix, /no response head in 100 ms \(the upstream's retries\.per_try_timeout/);
    assert.match(verdict.fix, /raise retries\.per_try_timeout/);
  } finally {
    await gw.close();
    await slow.close();
  }
});

test('--timeout still sets the wait of the probe, whatever the upstream says', async () => {
  const slow = await startSlowHead(300);
  const gw = await startTestGateway(
    singleUpstream(slow.url, { upstream: '    retries: { per_try_timeout: 100ms }' }),
  );
  try {
    const report = await diagnose({
      target: 'app',
      config: gw.gateway.runtime().config,
      answerTimeout: 5000,
    });
    assert.equal(report.targets[0].verdict.outcome, 'ok', report.targets[0].verdict.summary);
  } finally {
    await gw.close();
    await slow.close();
  }
});
