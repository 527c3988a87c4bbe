/**
 * `candor diagnose URL` straight at a real gateway (an operator probing the public URL, not the
 * upstream) that answers a request by a rule of its own, below 500: a rate limit's 429, a deny
 * list's 403, an unclaimed path's 404. Its Proxy-Status names the error it made; diagnose said
 * "the upstream answers 429 → Candor passes it through" and "fix: none needed: the upstream
 * answers as an HTTP server should", of an answer no upstream made.
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
  - name: open
    match: { path: /open }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
after(async () => {
  await gateway.close();
  await echo.close();
});

async function probe(path: string) {
  const report = await diagnose({ target: `${gateway.url}${path}` });
  return report.targets[0].verdict;
}

test("a rate limit's 429 is the proxy's own answer, with its Retry-After as the fix", async () => {
  await fetch(`${gateway.url}/limited`).then((r) => r.arrayBuffer());
  const verdict = await probe('/limited');
  assert.equal(verdict.status, 429);
  assert.equal(verdict.outcome, 'ok', 'below 500: exit 0, as documented');
  assert.match(
    verdict.summary,
    /^the target answers 429, made by the proxy "edge-1" there \(http_request_denied, from its Proxy-Status\), not by an upstream behind it → Candor passes it through$/,
  );
  assert.match(
    verdict.fix,
    /^the proxy "edge-1" reports "over the rate limit of 0\.001 requests per second.*Slow down: wait for the time in Retry-After \(\d+ s\) before trying again\.$/,
  );
  assert.equal(echo.received.filter((r) => r.path.startsWith('/limited')).length, 1, 'only the first');
});

test("a deny list's 403 and an unclaimed path's 404 are the proxy's too, never 'none needed'", async () => {
  const denied = await probe('/private');
  assert.equal(denied.status, 403);
  assert.match(
    denied.summary,
    /^the target answers 403, made by the proxy "edge-1" there \(http_request_denied/,
  );
  assert.match(denied.fix, /The route's access rules refuse this client/);
  const missing = await probe('/nothing');
  assert.equal(missing.status, 404);
  assert.match(
    missing.summary,
    /^the target answers 404, made by the proxy "edge-1" there \(destination_not_found/,
  );
  assert.match(missing.fix, /^the proxy "edge-1" reports "no route for .*Check the URL, or add a route/);
  assert.doesNotMatch(missing.fix, /none needed/);
  // An answer the proxy passed on from its upstream stays the upstream's.
  const open = await probe('/open');
  assert.equal(open.status, 200);
  assert.equal(open.fix, 'none needed: the upstream answers as an HTTP server should.');
});
