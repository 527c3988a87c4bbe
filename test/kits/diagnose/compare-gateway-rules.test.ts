/**
 * `candor diagnose --compare` through a real gateway that answers by a rule of its own, without
 * sending the request to the upstream: a rate limit's 429, an authentication's 401, a deny
 * list's 403, a maintenance 503. The comparison said "the gateway's view differs. Check its
 * config (the route and the upstream's targets), its timeouts and its network path to the
 * upstream", none of which is in question; and the fix of every refusal began "Slow down: wait
 * for the time in Retry-After", a 401's and a 403's too.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const echo = await startEcho();
const gateway = await startTestGateway(`name: edge-1
routes:
  - name: limited
    match: { path: /limited }
    upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
  - name: private
    match: { path: /private }
    upstream: app
    deny: [127.0.0.0/8]
  - name: closed
    match: { path: /closed }
    upstream: app
    maintenance: { message: "Back at noon." }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
after(async () => {
  await gateway.close();
  await echo.close();
});

/** diagnose of the echo directly and through the gateway's `path`. */
async function compared(path: string) {
  const report = await diagnose({ target: echo.url, via: `${gateway.url}${path}` });
  assert.equal(report.targets[0].verdict.outcome, 'ok');
  assert.ok(report.via);
  return { via: report.via.verdict, comparison: report.comparison };
}

test("a rate limit's 429: the gateway's own rule, and the fix is its Retry-After", async () => {
  // The first request takes the bucket's one token.
  await fetch(`${gateway.url}/limited`).then((r) => r.arrayBuffer());
  const { via, comparison } = await compared('/limited');
  assert.equal(via.status, 429);
  assert.equal(via.failure?.type, 'http_request_denied');
  assert.match(
    via.fix,
    /^the gateway reports "over the rate limit of 0\.001 requests per second \(burst 1\) for this client address"\. Slow down: wait for the time in Retry-After \(\d+ s\) before trying again\.$/,
  );
  assert.equal(comparison?.differs, 'gateway');
  assert.equal(
    comparison?.summary,
    "direct is fine (200) but the gateway answers 429 http_request_denied by a rule of its own, without sending the request to the upstream: the route's rules decide it (its access rules, rate limit, maintenance, or no route for this request), not its timeouts or its network path. See the fix above.",
  );
});

test("a deny list's 403: no word of Retry-After, and the same comparison", async () => {
  const { via, comparison } = await compared('/private');
  assert.equal(via.status, 403);
  assert.equal(
    via.fix,
    "the gateway reports \"the client's address may not use this route\". The route's access rules refuse this client (a 401: credentials missing or refused; a 403: this client may not use the route): send valid credentials, or ask the gateway's operators.",
  );
  assert.doesNotMatch(via.fix, /Slow down/);
  assert.match(
    comparison?.summary ?? '',
    /^direct is fine \(200\) but the gateway answers 403 http_request_denied by a rule of its own/,
  );
});

test("a path no route takes: the gateway's 404, by its own rule too", async () => {
  const { via, comparison } = await compared('/nowhere');
  assert.equal(via.status, 404);
  assert.equal(via.failure?.type, 'destination_not_found');
  assert.match(
    comparison?.summary ?? '',
    /^direct is fine \(200\) but the gateway answers 404 destination_not_found by a rule of its own/,
  );
});

test('a maintenance 503: the gateway did not ask the upstream, and the comparison says so', async () => {
  const { via, comparison } = await compared('/closed');
  assert.equal(via.status, 503);
  assert.equal(via.failure?.type, 'proxy_internal_response');
  assert.match(
    comparison?.summary ?? '',
    /^direct is fine \(200\) but the gateway answers 503 proxy_internal_response by a rule of its own, without sending the request to the upstream/,
  );
  assert.doesNotMatch(comparison?.summary ?? '', /Check its config/);
  // The four direct probes, and the request that took the rate limit's one token.
  assert.equal(echo.received.length, 5, 'no probe through the gateway reached the upstream');
});
