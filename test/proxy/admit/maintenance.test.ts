/** Maintenance mode: a 503 the gateway makes on its own, with the operator's message and Retry-After. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const MESSAGE = 'Down until 14:00 UTC for a database upgrade.';

function config(url: string, where: 'route' | 'upstream'): string {
  const maintenance = `maintenance: { retry_after: 90s, message: "${MESSAGE}" }`;
  return `name: edge-1
routes:
  - match: { path: /down }
    upstream: app
${where === 'route' ? `    ${maintenance}` : ''}
  - match: { path: /up }
    upstream: other
upstreams:
  app:
    targets:
      - url: ${url}
${where === 'upstream' ? `    ${maintenance}` : ''}
  other:
    targets:
      - url: ${url}
`;
}

for (const where of ['route', 'upstream'] as const) {
  test(`maintenance on the ${where}: 503 proxy_internal_response, Retry-After 90, the message in every format, nothing forwarded`, async () => {
    const echo = await startEcho();
    const gw = await startTestGateway(config(echo.url, where));
    try {
      const json = await request(gw.url, {
        path: '/down/orders',
        headers: { accept: 'application/json', 'x-request-id': `mm-${where}` },
      });
      assert.equal(json.status, 503);
      assert.equal(json.headers['retry-after'], '90');
      assert.equal(json.headers['cache-control'], 'no-store');
      assert.match(
        String(json.headers['x-request-id']),
        /^[0-9a-f-]{36}$/,
        "the gateway's id, not the client's",
      );
      assert.equal(
        json.headers['proxy-status'],
        `edge-1; error=proxy_internal_response; details="${MESSAGE}"; next-hop="app"`,
      );
      assert.equal(json.headers['content-type'], 'application/problem+json');
      const problem = JSON.parse(json.text);
      assert.equal(problem.error, 'proxy_internal_response');
      assert.equal(problem.status, 503);
      assert.equal(problem.details, MESSAGE);
      assert.equal(problem.retry_after, 90);
      assert.ok(problem.detail.includes(MESSAGE), problem.detail);

      const html = await request(gw.url, { path: '/down', headers: { accept: 'text/html' } });
      assert.equal(html.status, 503);
      assert.equal(html.headers['retry-after'], '90');
      assert.match(String(html.headers['content-type']), /^text\/html/);
      assert.ok(html.text.includes(MESSAGE), html.text);

      const text = await request(gw.url, { path: '/down' });
      assert.equal(text.status, 503);
      assert.equal(text.headers['retry-after'], '90');
      assert.match(String(text.headers['content-type']), /^text\/plain/);
      assert.ok(text.text.includes(MESSAGE), text.text);

      const line = await gw.logFor(`mm-${where}`);
      assert.equal(line.level, 'warn');
      assert.equal(line.status, 503);
      assert.equal(line.error, 'proxy_internal_response');
      assert.equal(line.shape, 'gateway');
      assert.equal(line.details, MESSAGE);
      assert.equal(line.upstream, 'app');
      assert.equal(echo.received.length, 0, 'nothing reached the upstream');

      const other = await request(gw.url, { path: '/up' });
      assert.equal(other.status, 200, 'a route to another upstream is not in maintenance');
      assert.equal(echo.received.length, 1);
    } finally {
      await gw.close();
      await echo.close();
    }
  });
}

test('maintenance comes before the rate limit: a request in maintenance spends no token', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    rate_limit: { rate: 1, burst: 1 }
    maintenance: { retry_after: 5s, message: "${MESSAGE}" }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await request(gw.url);
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '5');
      assert.match(String(res.headers['proxy-status']), /error=proxy_internal_response/);
    }
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a Retry-After of 1 reads "1 second" in every body, 90 "90 seconds"', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /one }
    upstream: app
    maintenance: { retry_after: 1s }
  - match: { path: /many }
    upstream: app
    maintenance: { retry_after: 90s }
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  try {
    for (const accept of ['text/plain', 'text/html', 'application/json']) {
      const one = await request(gw.url, { path: '/one', headers: { accept } });
      assert.equal(one.headers['retry-after'], '1');
      assert.ok(one.text.includes('You may retry after 1 second (see Retry-After).'), one.text);
      assert.ok(!one.text.includes('1 seconds'), one.text);
      const many = await request(gw.url, { path: '/many', headers: { accept } });
      assert.ok(many.text.includes('You may retry after 90 seconds (see Retry-After).'), many.text);
    }
  } finally {
    await gw.close();
    await echo.close();
  }
});
