/**
 * Stale on error, told honestly: an origin that answered once, then fails in one of the four
 * shapes (or says 503 itself); the client gets the stored answer as a 200 with Age,
 * Cache-Status fwd=stale naming the failure (RFC 9211) and Proxy-Status naming it too (RFC 9209).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { type Mood, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

function config(url: string, cache = 'cache: {}'): string {
  return `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    ${cache}
upstreams:
  app:
    timeouts: { response: 400ms }
    targets:
      - url: ${url}
`;
}

/** An answer stale at once (max-age=0) that may stand in for errors for a minute. */
const STALE_NOW = {
  status: 200,
  fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'ETag', '"v1"'],
  body: 'stored page',
};

const FAILURES: ReadonlyArray<{
  mood: Mood | 'stopped';
  fwdStatus: number;
  type: string | undefined;
  proxyStatus: RegExp;
}> = [
  {
    mood: 'stopped',
    fwdStatus: 502,
    type: 'connection_refused',
    proxyStatus: /^edge-1; error=connection_refused; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
  },
  {
    mood: 'hang',
    fwdStatus: 504,
    type: 'http_response_timeout',
    proxyStatus: /^edge-1; error=http_response_timeout; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
  },
  {
    mood: 'reset',
    fwdStatus: 502,
    type: 'connection_terminated',
    proxyStatus: /^edge-1; error=connection_terminated; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
  },
  {
    mood: 'garbage',
    fwdStatus: 502,
    type: 'http_protocol_error',
    proxyStatus: /^edge-1; error=http_protocol_error; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
  },
  {
    mood: 'status_503',
    fwdStatus: 503,
    type: undefined,
    proxyStatus: /^edge-1; received-status=503; next-hop="app"$/,
  },
];

for (const { mood, fwdStatus, type, proxyStatus } of FAILURES) {
  test(`an origin ${mood} after an answer was stored: the stored answer, with Age, Cache-Status fwd=stale and Proxy-Status naming ${type ?? 'its 503'}`, async () => {
    const origin = await startMoodyOrigin(STALE_NOW);
    const gw = await startTestGateway(config(origin.url));
    try {
      const first = await request(gw.url, { path: '/pages/home' });
      assert.equal(first.status, 200);
      assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
      assert.equal(first.text, 'stored page');

      if (mood === 'stopped') await origin.stop();
      else origin.mood = mood;
      const stale = await request(gw.url, {
        path: '/pages/home',
        headers: { 'x-request-id': `stale-${mood}` },
      });
      assert.equal(stale.status, 200);
      assert.equal(stale.text, 'stored page');
      assert.equal(stale.headers.etag, '"v1"');
      assert.match(String(stale.headers.age), /^\d+$/);
      const detail = type === undefined ? '' : `; detail="${type}"`;
      assert.match(
        String(stale.headers['cache-status']),
        new RegExp(`^edge-1; hit; fwd=stale; fwd-status=${fwdStatus}; ttl=-?\\d+${detail}$`),
      );
      assert.match(String(stale.headers['proxy-status']), proxyStatus);
      assert.equal(stale.headers['cache-control'], 'max-age=0, stale-if-error=60');
      // The origin saw the stale answer's validators: the cache tried to revalidate first.
      if (mood !== 'stopped') assert.match(origin.heads[1], /^if-none-match: "v1"$/im);

      const line = await gw.logFor(`stale-${mood}`);
      assert.equal(line.status, 200);
      assert.equal(line.cache, 'stale');
      assert.equal(line.stale_cause, type ?? 'upstream_503');
      assert.equal(line.error, type);
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

for (const [what, fields] of [
  ['no-store', ['Cache-Control', 'no-store']],
  ['private', ['Cache-Control', 'private, max-age=60, stale-if-error=60']],
  ['must-revalidate', ['Cache-Control', 'max-age=0, must-revalidate, stale-if-error=60']],
  ['past its stale-if-error window', ['Cache-Control', 'max-age=10, stale-if-error=60', 'Age', '100']],
] as const) {
  test(`an answer marked ${what} is never given stale: the gateway's own 502 goes out`, async () => {
    const origin = await startMoodyOrigin({ status: 200, fields: [...fields], body: 'page' });
    const gw = await startTestGateway(config(origin.url));
    try {
      assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      await origin.stop();
      const failed = await request(gw.url, { path: '/pages/home', headers: { 'x-request-id': 'failed' } });
      assert.equal(failed.status, 502);
      assert.match(String(failed.headers['proxy-status']), /^edge-1; error=connection_refused; /);
      assert.equal(failed.headers['cache-status'], undefined, "the gateway's own 502 (RFC 9211 §2)");
      assert.match(String((await gw.logFor('failed')).cache), /^fwd=(uri-miss|stale)$/);
    } finally {
      await gw.close();
    }
  });
}

test("the route's stale_if_error caps the answer's own: past the route's 1s, nothing stale", async () => {
  // 5 s old and stale at once: within its own stale-if-error=60, past the route's cap of 1 s.
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=0, stale-if-error=60', 'Age', '5'],
    body: 'page',
  });
  const gw = await startTestGateway(config(origin.url, 'cache: { stale_if_error: 1s }'));
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    await origin.stop();
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 502);
  } finally {
    await gw.close();
  }
});

for (const directive of ['stale-if-error', 'stale-if-error=', 'stale-if-error=soon']) {
  test(`an answer's \`${directive}\` without a number of seconds is ignored: the route's window stands, not 1 s or 0`, async () => {
    // 5 s past its freshness: within the route's default 5 min, past a 1 s or 0 s window.
    const origin = await startMoodyOrigin({
      status: 200,
      fields: ['Cache-Control', `max-age=0, ${directive}`, 'Age', '5'],
      body: 'page',
    });
    const gw = await startTestGateway(config(origin.url));
    try {
      assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      await origin.stop();
      const stale = await request(gw.url, { path: '/pages/home' });
      assert.equal(stale.status, 200);
      assert.equal(stale.text, 'page');
      assert.match(String(stale.headers['cache-status']), /; fwd=stale; fwd-status=502;/);
    } finally {
      await gw.close();
    }
  });
}

test('stale_if_error: 0s gives nothing stale, whatever the answer says', async () => {
  const origin = await startMoodyOrigin(STALE_NOW);
  const gw = await startTestGateway(config(origin.url, 'cache: { stale_if_error: 0s }'));
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    await origin.stop();
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 502);
  } finally {
    await gw.close();
  }
});

test('a Range request a stale stored answer cannot meet goes upstream with its validators, and when that fails the stored answer stands in for it: the part asked for, a 206, saying why', async () => {
  const origin = await startMoodyOrigin(STALE_NOW);
  const gw = await startTestGateway(config(origin.url));
  try {
    await request(gw.url, { path: '/pages/home' });
    const ranged = await request(gw.url, { path: '/pages/home', headers: { range: 'bytes=0-5' } });
    assert.equal(ranged.headers['cache-status'], 'edge-1; fwd=stale');
    assert.equal(origin.heads.length, 2, 'a range a stale answer cannot meet goes upstream');
    assert.match(origin.heads[1], /\r\nrange: bytes=0-5\r\n/i);
    assert.match(origin.heads[1], /\r\nif-none-match: "v1"(\r\n|$)/i);
    await origin.stop();
    const stale = await request(gw.url, { path: '/pages/home', headers: { range: 'bytes=0-5' } });
    assert.equal(stale.status, 206);
    assert.equal(stale.text, 'stored');
    assert.equal(stale.headers['content-range'], 'bytes 0-5/11');
    assert.equal(stale.headers['content-length'], '6');
    assert.match(
      String(stale.headers['cache-status']),
      /^edge-1; hit; fwd=stale; fwd-status=502; ttl=-?\d+; detail="connection_refused"$/,
    );
    assert.match(String(stale.headers['proxy-status']), /^edge-1; error=connection_refused; /);
  } finally {
    await gw.close();
  }
});

test('with a hold on the upstream too, a stored answer that may stand in is given at once: the client is not held for hold.timeout', async () => {
  const origin = await startMoodyOrigin(STALE_NOW);
  // A hold longer than the test's patience: a held request would not be answered in time.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    timeouts: { response: 400ms, total: 60s }
    hold: { timeout: 30s }
    targets:
      - url: ${origin.url}
`);
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    await origin.stop();
    const stale = await Promise.race([
      request(gw.url, { path: '/pages/home', headers: { 'x-request-id': 'stale-held' } }),
      new Promise<undefined>((resolve) => setTimeout(resolve, 10_000, undefined)),
    ]);
    assert.ok(stale, 'answered at once, not held');
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'stored page');
    assert.match(
      String(stale.headers['cache-status']),
      /^edge-1; hit; fwd=stale; fwd-status=502; ttl=-?\d+; detail="connection_refused"$/,
    );
    assert.match(String(stale.headers['proxy-status']), /^edge-1; error=connection_refused; /);
    const line = await gw.logFor('stale-held');
    assert.equal(line.cache, 'stale');
    assert.equal(line.error, 'connection_refused');
    assert.equal(line.held_ms, undefined, 'never held');
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('with a hold and a cache, a request with nothing stored to stand in is still held, and answered when the target is back', async () => {
  const port = await freePort();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    timeouts: { response: 400ms, total: 60s }
    hold: { timeout: 10s }
    targets:
      - url: http://127.0.0.1:${port}
`);
  const back = http.createServer((_req, res) => res.end('back'));
  try {
    const answer = request(gw.url, { path: '/pages/other', headers: { 'x-request-id': 'held-miss' } });
    await waitUntil('held', () => gw.gateway.runtime().upstreams.get('app')?.hold.size === 1);
    await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
    const res = await answer;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'back');
    const line = await gw.logFor('held-miss');
    assert.equal(typeof line.held_ms, 'number');
  } finally {
    await gw.close();
    back.close();
  }
});

/*
 * What the client's own request says (RFC 9111 §4.2.4: a stale answer only where the client or
 * the origin permits it; §5.2.1.4: `no-cache`, no stored answer without successful validation,
 * and a failed upstream validates nothing; §5.2.1.2: `max-stale=N`, no more than N seconds past
 * its freshness; RFC 5861 §4: `stale-if-error=N`, the same bound for that request). The answer is
 * 20 s past its freshness when stored, within its stale-if-error.
 * A `max-stale` it is within never meets the failure: the stored answer is a hit (the library's).
 */
for (const [what, headers, stale] of [
  ['Cache-Control: no-cache', { 'cache-control': 'no-cache' }, false],
  ['Pragma: no-cache (no Cache-Control)', { pragma: 'no-cache' }, false],
  ['max-stale=5 (the answer is 20 s stale)', { 'cache-control': 'max-stale=5' }, false],
  ['max-stale="5", quoted', { 'cache-control': 'max-stale="5"' }, false],
  // RFC 5861 §4: a request's stale-if-error is the upper limit to staleness for that request.
  ['stale-if-error=5 (the answer is 20 s stale)', { 'cache-control': 'stale-if-error=5' }, false],
  ['stale-if-error=60 (the answer is 20 s stale)', { 'cache-control': 'stale-if-error=60' }, true],
  // Freshness the client prefers is not a refusal of stale on error (RFC 5861 §4: "regardless of
  // other freshness information"); within max-stale, the stored answer is a hit with no failure.
  ['max-age=5', { 'cache-control': 'max-age=5' }, true],
] as const) {
  test(`a client's ${what}: ${stale ? 'the stored answer stands in for the failure' : "nothing stale, the failure's own 502"}`, async () => {
    const origin = await startMoodyOrigin({
      status: 200,
      fields: ['Cache-Control', 'max-age=10, stale-if-error=600', 'Age', '30'],
      body: 'stored page',
    });
    const gw = await startTestGateway(config(origin.url));
    try {
      assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      await origin.stop();
      const res = await request(gw.url, {
        path: '/pages/home',
        headers: { ...headers, 'x-request-id': 'asked' },
      });
      assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /);
      if (stale) {
        assert.equal(res.status, 200);
        assert.equal(res.text, 'stored page');
        assert.match(String(res.headers['cache-status']), /; fwd=stale; fwd-status=502;/);
      } else {
        assert.equal(res.status, 502);
        assert.equal(res.headers['cache-status'], undefined, "the gateway's own 502 (RFC 9211 §2)");
        const line = await gw.logFor('asked');
        assert.equal(line.error, 'connection_refused');
        assert.match(String(line.cache), /^fwd=(request|stale)$/);
      }
    } finally {
      await gw.close();
    }
  });
}

test("a fresh answer the client's max-age=0 sent upstream stands in for the upstream's 503, and its Cache-Status says fwd=request (RFC 9211 §2.2: a fresh response the request's directives did not allow), not fwd=stale", async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=600'],
    body: 'stored page',
  });
  const gw = await startTestGateway(config(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/fresh' })).status, 200);
    origin.mood = 'status_503';
    const res = await request(gw.url, { path: '/pages/fresh', headers: { 'cache-control': 'max-age=0' } });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stored page');
    assert.match(
      String(res.headers['cache-status']),
      /^edge-1; hit; fwd=request; fwd-status=503; ttl=(599|600)$/,
    );
    assert.equal(origin.heads.length, 2, 'the max-age=0 request went upstream');
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test("a client's stale-if-error narrows the answer's window, never widens it: an answer past its own stale-if-error is not given for a client's larger one", async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=10, stale-if-error=5', 'Age', '30'],
    body: 'stored page',
  });
  const gw = await startTestGateway(config(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    await origin.stop();
    const res = await request(gw.url, {
      path: '/pages/home',
      headers: { 'cache-control': 'stale-if-error=600', 'x-request-id': 'wider' },
    });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=connection_refused; /);
    assert.equal((await gw.logFor('wider')).error, 'connection_refused');
  } finally {
    await gw.close();
  }
});
