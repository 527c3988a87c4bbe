/**
 * nginx's own limits, recorded on loopback (fixtures/peers/nginx-1.22-limits-*.log): nginx
 * 1.22.1 (Debian 12), `combined` and a `timed` log_format (`… ua="$upstream_addr"
 * us="$upstream_status"`), the error log at `info`; `limit_req_zone … rate=1r/m` on /limited,
 * whose five GETs in a row were one 200 and four 503s (`limit_req_status` left at its default,
 * 503) with "limiting requests, excess: 1.000 by zone "one"" in the error log; beside them a
 * pool of a refusing server and a good one (8 × 200, one failed attempt), a single refusing
 * server (5 × 502), a silent one (2 × 504), three clients that left (499) and an upstream's own
 * 503 (4). Recorded by fixtures/record-nginx-limits.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { explain, fixture } from './explain-fixture.ts';

const access = fixture('peers/nginx-1.22-limits-access.log');
const error = fixture('peers/nginx-1.22-limits-error.log');

test("nginx's limit_req answers 503: told as a limit the clients can wait out, never as a deny rule", async () => {
  const report = await explain([access, error]);
  const denied = report.shapes.flatMap((s) => s.types).find((t) => t.type === 'http_request_denied');
  assert.equal(denied?.count, 4);
  assert.deepEqual(denied?.loggedStatuses, [{ status: 503, count: 4 }]);
  // What Candor answers a limit with; not "401, 403, 429", statuses of rules that never acted.
  assert.deepEqual(denied?.answered, [429]);
  const text = renderText(report);
  const checks = text.slice(text.indexOf('What to check first'));
  const gateway = checks.slice(checks.indexOf('  gateway ('), checks.indexOf('\n  5xx, cause unknown ('));
  assert.doesNotMatch(gateway, /waiting will not change the answer|a deny rule, an IP list/, gateway);
  assert.match(gateway, /limit_req/, gateway);
});
