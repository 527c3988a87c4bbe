/**
 * A route's own `timeouts.response` below its upstream's: the gateway answers that route's
 * requests 504 when the head comes later, whatever the upstream's timeout. `candor diagnose
 * --config FILE NAME` waits the upstream's (it probes the upstream, not a route) and said
 * "fix: none needed" on an answer the route cuts: it now names the routes whose wait the answer
 * came after.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing) await close();
});

test("an answer slower than a route's response timeout: diagnose names the route that answers 504, not 'none needed'", async () => {
  const slow = await startRawFault(async (connection) => {
    await readRequest(connection);
    await sleep(600);
    await connection.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  closing.push(() => slow.close());
  const routes = `routes:
  - { name: api, match: { path: /api }, upstream: app, strip_prefix: true, timeouts: { response: 200ms } }
  - { name: reports, match: { path: /reports }, upstream: app, timeouts: { response: 10s } }
  - { name: other, match: { path: /other }, upstream: other, timeouts: { response: 100ms } }
upstreams:
  other: { targets: [{ url: http://127.0.0.1:9 }] }
  app:
    targets: [{ url: ${slow.url} }]
    timeouts: { response: 5s }
    retries: { attempts: 1 }
`;
  // The gateway itself: the route's 504.
  const gw = await startTestGateway(routes);
  closing.push(() => gw.close());
  assert.equal((await request(gw.url, { path: '/api/x' })).status, 504);

  const config = parseConfig(`listen: [{ address: "127.0.0.1:0" }]\n${routes}`, '<route-test>', {});
  const report = await diagnose({ target: 'app', config });
  const [target] = report.targets;
  assert.equal(target.verdict.outcome, 'ok');
  assert.equal(report.exitCode, 0);
  assert.doesNotMatch(target.verdict.fix, /none needed/);
  assert.match(target.verdict.fix, /route "api" \(timeouts\.response 200 ms\)/);
  assert.match(target.verdict.fix, /504 http_response_timeout/);
  // A route to another upstream keeps timeouts for every upstream: it sends none of its requests here.
  assert.doesNotMatch(target.verdict.fix, /"reports"|"other"/);
  assert.match(target.verdict.summary, /but route "api" answers 504/);
});
