/**
 * Which clock cut the wait for a response head, named in the 504's details with its configured
 * value, as the read, send and total clocks name theirs ("read timeout of 300 ms", "total timeout
 * of 600 ms"): `retries.per_try_timeout` where it is the shorter, else `timeouts.response`, the
 * route's own where it writes one. "no response head after 201 ms" alone left an operator guessing
 * whether the 5 s response timeout or the 200 ms per-try one had passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2Hang, startH2 } from '../../src/kits/fault-kit/h2-faults.ts';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { request } from '../helpers/http-client.ts';
import { closeAfterAll } from '../helpers/keep.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** The request's 504: its Proxy-Status details, the log line's, and each try's error. */
async function headTimeout(yaml: string): Promise<{ details: string; line: Record<string, unknown> }> {
  const gw = await keep(startTestGateway(yaml));
  const res = await request(gw.url, { headers: { 'x-request-id': 'slow' } });
  assert.equal(res.status, 504);
  assert.equal(res.headers['retry-after'], undefined, 'a timeout says nothing of when to come back');
  const details = /; details="([^"]*)"; next-hop="app"$/.exec(String(res.headers['proxy-status']))?.[1];
  assert.ok(details !== undefined, String(res.headers['proxy-status']));
  const line = await gw.logFor('slow');
  assert.deepEqual([line.status, line.error, line.details], [504, 'http_response_timeout', details]);
  return { details, line };
}

const upstream = (protocol: string, urls: readonly string[], own: string, route = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
${route}upstreams:
  app:
    protocol: ${protocol}
    balancer: round_robin
    targets: [${urls.map((url) => `{ url: ${url} }`).join(', ')}]
    outlier_detection: { consecutive_failures: 0 }
${own}`;

for (const protocol of ['http1', 'h2c'] as const) {
  const silent = () => (protocol === 'h2c' ? startH2(h2Hang) : startBlackhole());

  test(`${protocol}: each attempt cut at retries.per_try_timeout names the per-try timeout, not the response timeout`, async () => {
    const targets = await Promise.all([silent(), silent()]);
    for (const target of targets) await keep(target);
    const { details, line } = await headTimeout(
      upstream(
        protocol,
        targets.map((t) => t.url),
        `    timeouts: { response: 5s, total: 10s }
    retries: { attempts: 2, per_try_timeout: 200ms, backoff: { base: 1ms, max: 1ms } }
`,
      ),
    );
    assert.match(details, /^no response head \(per-try timeout of 200 ms\) after \d+ ms$/);
    assert.equal(line.attempts, 2);
    assert.deepEqual(
      (line.tries as { error: string }[]).map((t) => t.error),
      ['http_response_timeout', 'http_response_timeout'],
    );
  });

  test(`${protocol}: no per-try timeout written: the response timeout, with its value`, async () => {
    const target = await keep(silent());
    const { details } = await headTimeout(
      upstream(protocol, [target.url], '    timeouts: { response: 300ms }\n    retries: { attempts: 1 }\n'),
    );
    assert.match(details, /^no response head \(response timeout of 300 ms\) after \d+ ms$/);
  });

  test(`${protocol}: a route's own timeouts.response is the one named, with the route's value`, async () => {
    const target = await keep(silent());
    const { details } = await headTimeout(
      upstream(
        protocol,
        [target.url],
        '    timeouts: { response: 5s }\n    retries: { attempts: 1 }\n',
        '    timeouts: { response: 300ms }\n',
      ),
    );
    assert.match(details, /^no response head \(response timeout of 300 ms\) after \d+ ms$/);
  });
}

test("a route's response above the upstream's per_try_timeout: the per-try timeout cuts, and is named", async () => {
  const target = await keep(startBlackhole());
  const { details } = await headTimeout(
    upstream(
      'http1',
      [target.url],
      '    timeouts: { response: 5s }\n    retries: { attempts: 1, per_try_timeout: 250ms }\n',
      '    timeouts: { response: 2s }\n',
    ),
  );
  assert.match(details, /^no response head \(per-try timeout of 250 ms\) after \d+ ms$/);
});

test('an interim (1xx) answer then silence: the clock named, and the interim answer counted', async () => {
  const target = await keep(
    startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
    }),
  );
  const { details } = await headTimeout(
    upstream('http1', [target.url], '    timeouts: { response: 300ms }\n    retries: { attempts: 1 }\n'),
  );
  assert.match(
    details,
    /^no final response head \(response timeout of 300 ms\) after \d+ ms, only 1 interim \(1xx\) answer$/,
  );
});
