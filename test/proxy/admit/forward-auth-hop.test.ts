/**
 * The forward-auth hop as an upstream (issue 34): its decisions kept by a key for a while (never
 * its failures), and its calls carried by Candor's own upstream machinery — the circuit, the
 * pool, the retry rule — against real auth servers that misbehave: refused, reset, garbage are
 * the hop's 502, slow its 504, its circuit open a 503 with Retry-After, each naming
 * next-hop="auth:NAME"; never a 401.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startJsonNotHttp } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startResetBeforeHead } from '../../../src/kits/fault-kit/reset-faults.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';

/** An auth service that lets in `session=good…` cookies, refuses `session=bad…`, and counts what it was asked. */
async function startSessionService() {
  let failing = false;
  const service = await startAuthService((req, res) => {
    if (failing) return res.writeHead(500).end('down');
    if (/session=good/.test(String(req.headers.cookie)))
      return res.writeHead(200, { 'x-user-id': String(req.headers.cookie).slice(8) }).end();
    res.writeHead(401, { 'www-authenticate': 'Cookie realm="sso"' }).end();
  });
  return {
    ...service,
    fail(on: boolean) {
      failing = on;
    },
  };
}

const cachedConfig = (auth: string, ttl: string) => (app: string) =>
  forwardAuthConfig(
    app,
    `{ url: "${auth}", copy_headers: [X-User-Id], cache: { key: "cookie:session", ttl: ${ttl}, max_entries: 100 } }`,
  );

test('with cache, 10 requests with one session make one auth call; another session makes another; a denial is kept too', async () => {
  const service = await startSessionService();
  const { gw, echo, close } = await startAuthStage(cachedConfig(service.url, '1h'));
  try {
    for (let i = 0; i < 10; i++) {
      const res = await request(gw.url, { path: `/app/${i}`, headers: { cookie: 'session=good-1' } });
      assert.equal(res.status, 200);
    }
    assert.equal(service.asked.length, 1);
    // The kept verdict carries the service's fields, the client's own copy removed, every time.
    assert.deepEqual(
      echo.received.map((r) => r.headers['x-user-id']),
      Array(10).fill('good-1'),
    );
    assert.equal(
      (await request(gw.url, { path: '/app', headers: { cookie: 'session=good-2' } })).status,
      200,
    );
    assert.equal(service.asked.length, 2);
    for (let i = 0; i < 3; i++) {
      const res = await request(gw.url, { path: '/app', headers: { cookie: 'session=bad' } });
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Cookie realm="sso"');
    }
    assert.equal(service.asked.length, 3);
    // No key, no cache: asked each time.
    await request(gw.url, { path: '/app' });
    await request(gw.url, { path: '/app' });
    assert.equal(service.asked.length, 5);
    assert.equal(gw.gateway.status().auth_hops[`auth:${service.host}`].counts.allowed, 2);
  } finally {
    await close(service);
  }
});

test('a kept decision expires after its ttl, and a failure of the auth hop is never kept', async () => {
  const service = await startSessionService();
  const { gw, close } = await startAuthStage(cachedConfig(service.url, '200ms'));
  try {
    const ask = (id: string) =>
      request(gw.url, { path: '/app', headers: { cookie: 'session=good-1', 'x-request-id': id } });
    assert.equal((await ask('c-1')).status, 200);
    assert.equal((await ask('c-2')).status, 200);
    assert.equal(service.asked.length, 1);
    await sleep(400);
    assert.equal((await ask('c-3')).status, 200);
    assert.equal(service.asked.length, 2, 'asked again once the ttl passed');

    await sleep(400);
    service.fail(true);
    const failed = await ask('c-4');
    assert.equal(failed.status, 503);
    assert.equal((await gw.logFor('c-4')).auth, 'failed: destination_unavailable');
    service.fail(false);
    assert.equal((await ask('c-5')).status, 200, 'the failure was not kept');
    assert.equal(service.asked.length, 4);
  } finally {
    await close(service);
  }
});

test('with cache, a refusal whose body is past 4 KiB is passed on whole but not kept: the next request asks again', async () => {
  const page = 'x'.repeat(5000);
  const service = await startAuthService((_req, res) => {
    res.writeHead(302, { location: '/login' }).end(page);
  });
  const { gw, close } = await startAuthStage(cachedConfig(service.url, '1h'));
  try {
    for (let i = 0; i < 2; i++) {
      const res = await request(gw.url, { path: '/app', headers: { cookie: 'session=s-1' } });
      assert.equal(res.status, 302);
      assert.equal(res.text, page);
    }
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

test('with cache, a redirect is passed on but not kept: another path of the same session gets its own login address', async () => {
  const service = await startAuthService((req, res) => {
    res
      .writeHead(302, { location: `/login?rd=${encodeURIComponent(String(req.headers['x-forwarded-uri']))}` })
      .end();
  });
  const { gw, close } = await startAuthStage(cachedConfig(service.url, '1h'));
  try {
    const first = await request(gw.url, { path: '/app/a', headers: { cookie: 'session=s-1' } });
    const second = await request(gw.url, { path: '/app/b', headers: { cookie: 'session=s-1' } });
    assert.equal(first.status, 302);
    assert.equal(first.headers.location, '/login?rd=%2Fapp%2Fa');
    assert.equal(second.status, 302);
    assert.equal(second.headers.location, '/login?rd=%2Fapp%2Fb');
    assert.equal(service.asked.length, 2);
  } finally {
    await close(service);
  }
});

/** The app guarded by the upstream `authsvc` (at `auth`, `extra` its settings), asked at /verify. */
const namedConfig =
  (auth: string, extra = '') =>
  (app: string) =>
    forwardAuthConfig(app, '{ upstream: authsvc, path: /verify, timeout: 2s }', {
      upstreams: `  authsvc:
    targets:
      - url: ${auth}
    outlier_detection: { consecutive_failures: 0 }
${extra}`,
    });

test('an auth service named as an upstream: its circuit opens on its failures, then a 503 with Retry-After names the hop and nothing is sent', async () => {
  const service = await startSwitchable();
  const { gw, echo, close } = await startAuthStage(
    namedConfig(
      service.url,
      '    retries: { attempts: 1 }\n    circuit_breaker: { consecutive_failures: 2, open_time: 60s }\n',
    ),
  );
  try {
    const ok = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'n-ok' } });
    assert.equal(ok.status, 200);
    assert.equal(service.answered, 1);
    service.setMode('reset');
    for (const id of ['n-1', 'n-2']) {
      const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': id } });
      assert.equal(res.status, 502);
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=connection_terminated; details="the auth service: .*"; next-hop="auth:authsvc"$/,
      );
      assert.equal(res.headers['www-authenticate'], undefined);
      assert.equal((await gw.logFor(id)).auth, 'failed: connection_terminated');
    }
    const tried = service.accepted.reset.length;
    const open = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'n-open' } });
    assert.equal(open.status, 503);
    assert.ok(Number(open.headers['retry-after']) >= 1, `Retry-After: ${open.headers['retry-after']}`);
    assert.match(
      String(open.headers['proxy-status']),
      /^edge-1; error=destination_unavailable; details="the auth service: the circuit of \\"authsvc\\" is open after repeated failures.*"; next-hop="auth:authsvc"$/,
    );
    assert.equal((await gw.logFor('n-open')).auth, 'failed: destination_unavailable');
    assert.equal(service.accepted.reset.length, tried, 'an open circuit sends nothing to the auth service');
    assert.equal(echo.received.length, 1, 'only the allowed request reached the app');

    const hop = gw.gateway.status().auth_hops['auth:authsvc'];
    assert.equal(hop.kind, 'forward');
    assert.equal(hop.upstream, 'authsvc');
    assert.equal(hop.circuit?.state, 'open');
    assert.deepEqual(hop.counts, { allowed: 1, denied: 0, fetched: 0, failed: 3 });
    // The row keeps the failure that opened the circuit (the service's resets), not the open
    // circuit's refusal of n-open (counted in `failed`, a user got its 503): the refusal's type
    // hid why the service is out, as the OpenID provider's row did (it keeps its last real one).
    assert.equal(hop.last_failure?.type, 'connection_terminated');
    // The auth service is an upstream like any: its own status shows the same circuit.
    assert.equal(gw.gateway.status().upstreams.authsvc.circuit.state, 'open');
  } finally {
    await close(service);
  }
});

test("the upstream's retry rule: a reset before the answer is tried again on the next target", async () => {
  const resetting = await startResetBeforeHead({ after: 'head' });
  const good = await startSwitchable();
  const { gw, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, '{ upstream: authsvc, path: /verify }', {
      upstreams: `  authsvc:
    targets:
      - url: ${resetting.url}
      - url: ${good.url}
    retries: { attempts: 2 }
`,
    }),
  );
  try {
    for (let i = 0; i < 4; i++)
      assert.equal(
        (await request(gw.url, { path: '/app', headers: { 'x-request-id': `r-${i}` } })).status,
        200,
      );
    assert.ok(resetting.received.length >= 1, 'the round robin sent some to the resetting target');
    assert.equal(good.answered, 4, 'each one the resetting target dropped was asked again of the other');
  } finally {
    await close(good, resetting);
  }
});

test("an auth service's upstream that holds requests does not hold the hop's: a refused call is answered at once", async () => {
  // Not a port the system picked and let go: another test file's listen(0) may be given it.
  const service = await startRefusing();
  const { gw, close } = await startAuthStage(
    namedConfig(service.url, '    hold: { timeout: 30s }\n    retries: { attempts: 1 }\n'),
  );
  try {
    const res = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'h-1' } });
    assert.equal(res.status, 502);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_refused; details="the auth service: .*"; next-hop="auth:authsvc"$/,
    );
    const line = await gw.logFor('h-1');
    assert.equal(line.auth, 'failed: connection_refused');
  } finally {
    await close(service);
  }
});

test('an auth service that answers garbage is the hop 502 http_protocol_error, one that hangs its 504', async () => {
  const garbage = await startJsonNotHttp();
  const hanging = await startAuthService(() => {});
  const { gw, echo, close } = await startAuthStage(
    (app) => `name: edge-1
routes:
  - name: garbage
    match: { path: /garbage }
    upstream: app
    auth: { forward: { url: "${garbage.url}/check" } }
  - name: slow
    match: { path: /slow }
    upstream: app
    auth: { forward: { upstream: slowauth, timeout: 300ms } }
upstreams:
  app:
    targets:
      - url: ${app}
  slowauth:
    targets:
      - url: http://${hanging.host}
`,
  );
  try {
    const bad = await request(gw.url, { path: '/garbage', headers: { 'x-request-id': 'g-1' } });
    assert.equal(bad.status, 502);
    assert.match(
      String(bad.headers['proxy-status']),
      /^edge-1; error=http_protocol_error; details="the auth service: .*"; next-hop="auth:forward"$/,
    );
    assert.equal((await gw.logFor('g-1')).auth, 'failed: http_protocol_error');
    const slow = await request(gw.url, { path: '/slow', headers: { 'x-request-id': 's-1' } });
    assert.equal(slow.status, 504);
    assert.equal(
      slow.headers['proxy-status'],
      'edge-1; error=http_response_timeout; details="the auth service: no response head within the timeout of 300 ms"; next-hop="auth:slowauth"',
    );
    assert.equal((await gw.logFor('s-1')).auth, 'failed: http_response_timeout');
    assert.equal(echo.received.length, 0);
  } finally {
    await close(garbage, hanging);
  }
});

test("an auth service's answer is kept to 64 KiB: a refusal past it is the hop's 502, a 2xx past it still lets the request in", async () => {
  const big = 'x'.repeat(70 * 1024);
  const service = await startAuthService((req, res) => {
    if (req.headers.authorization === 'Bearer good') return res.writeHead(200).end(big);
    res.writeHead(401, { 'www-authenticate': 'Bearer' }).end(big);
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}" }`),
  );
  try {
    const refused = await request(gw.url, { path: '/app', headers: { 'x-request-id': 'b-1' } });
    assert.equal(refused.status, 502);
    assert.equal(
      refused.headers['proxy-status'],
      `edge-1; error=http_response_incomplete; details="the auth service: its answer's body is over 64 KiB"; next-hop="auth:forward"`,
    );
    assert.equal(
      refused.headers['www-authenticate'],
      undefined,
      'never a 401 for what the gateway could not read',
    );
    assert.equal((await gw.logFor('b-1')).auth, 'failed: http_response_incomplete');
    const allowed = await request(gw.url, { path: '/app', headers: { authorization: 'Bearer good' } });
    assert.equal(allowed.status, 200);
    assert.equal(echo.received.length, 1);
  } finally {
    await close(service);
  }
});

test("send_headers never sends the client's framing or hop-by-hop fields, nor its own X-Forwarded-For or X-Original-URL", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(204).end();
  });
  const { gw, close } = await startAuthStage((app) =>
    forwardAuthConfig(
      app,
      `
        url: "${service.url}"
        timeout: 2s
        send_headers: [Content-Length, Transfer-Encoding, Connection, X-Forwarded-For, X-Original-URL, X-Trace]`,
    ),
  );
  try {
    const res = await request(gw.url, {
      method: 'POST',
      path: '/app',
      body: 'abc',
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-original-url': '/public', 'x-trace': 't-1' },
    });
    assert.equal(res.status, 200, 'the service answered at once: it was not left waiting for a body');
    const { asked } = service;
    assert.equal(asked.length, 1);
    assert.equal(asked[0]['content-length'], undefined);
    assert.equal(asked[0]['transfer-encoding'], undefined);
    assert.equal(asked[0]['x-forwarded-for'], '127.0.0.1');
    // A service that judges the URL it names (Authelia's) would judge the client's, not /app:
    // the auth call's head is built as the upstream's (request-headers.ts drops it).
    assert.equal(asked[0]['x-original-url'], undefined);
    assert.equal(asked[0]['x-trace'], 't-1');
    assert.equal(asked[0]['x-forwarded-method'], 'POST');
  } finally {
    await close(service);
  }
});

test("send_headers never sends a field the client's Connection names as hop-by-hop (RFC 9110 §7.6.1)", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(204).end();
  });
  const { gw, echo, close } = await startAuthStage((app) =>
    forwardAuthConfig(
      app,
      `{ url: "${service.url}", timeout: 2s, send_headers: [X-Session, X-Trace, Cookie] }`,
    ),
  );
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: {
        connection: 'keep-alive, X-Session,cookie',
        'x-session': 's-hop',
        cookie: 'sid=hop',
        'x-trace': 't-1',
      },
    });
    assert.equal(res.status, 200);
    const { asked } = service;
    assert.equal(asked.length, 1);
    assert.equal(asked[0]['x-session'], undefined, 'named in Connection: for this hop only');
    assert.equal(asked[0].cookie, undefined, 'named in Connection: for this hop only');
    assert.equal(asked[0]['x-trace'], 't-1');
    assert.equal(echo.received[0].headers['x-session'], undefined, 'nor did the upstream get it');
  } finally {
    await close(service);
  }
});

test("a trusted proxy's X-Forwarded-For named in its Connection: the service and the upstream are told the client the gateway judged, then the proxy", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(204).end();
  });
  const { gw, echo, close } = await startAuthStage(
    (app) =>
      `trust_forwarded_from: [127.0.0.1]\n${forwardAuthConfig(app, `{ url: "${service.url}", timeout: 2s }`)}`,
  );
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: { connection: 'keep-alive, X-Forwarded-For', 'x-forwarded-for': '203.0.113.7' },
    });
    assert.equal(res.status, 200);
    // Said again by this hop (RFC 9110 §7.6.1: the field was for it), never the proxy as the client.
    assert.equal(service.asked[0]['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(echo.received[0].headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  } finally {
    await close(service);
  }
});

test("the auth call is part of the client's trace: the service's traceparent carries the client's trace id, as the app's does", async () => {
  const service = await startAuthService((_req, res) => {
    res.writeHead(204).end();
  });
  const { echo, gw, close } = await startAuthStage((app) =>
    forwardAuthConfig(app, `{ url: "${service.url}", timeout: 2s }`),
  );
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  try {
    const res = await request(gw.url, {
      path: '/app',
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
    });
    assert.equal(res.status, 200);
    const asked = String(service.asked[0]?.traceparent);
    const app = String(echo.received[0]?.headers.traceparent);
    const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
    assert.equal(TRACEPARENT.exec(asked)?.[1], traceId, `the service's traceparent: ${asked}`);
    assert.equal(TRACEPARENT.exec(app)?.[1], traceId, `the app's traceparent: ${app}`);
    // The parent named is the gateway's span of the request, the same for both hops: not the client's.
    assert.equal(TRACEPARENT.exec(asked)?.[2], TRACEPARENT.exec(app)?.[2]);
    assert.notEqual(TRACEPARENT.exec(asked)?.[2], clientSpan);
    const line = await gw.logFor(String(echo.received[0]?.headers['x-request-id']));
    assert.equal(line.trace_id, traceId);
  } finally {
    await close(service);
  }
});

test("a reload keeps an auth URL's own upstream (its pooled connection) and the hop's counts while the URL is named", async () => {
  const service = await startSwitchable();
  const yaml = (app: string) => forwardAuthConfig(app, `{ url: "${service.url}/check" }`);
  const { gw, echo, close } = await startAuthStage(yaml);
  try {
    assert.equal((await request(gw.url, { path: '/app' })).status, 200);
    assert.equal(service.accepted.ok.length, 1);
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml(echo.url)}`, '<test>', {}),
    );
    assert.equal((await request(gw.url, { path: '/app' })).status, 200);
    assert.equal(service.accepted.ok.length, 1, 'the kept upstream reused its pooled connection');
    assert.equal(gw.gateway.status().auth_hops[`auth:127.0.0.1:${service.port}`].counts.allowed, 2);
  } finally {
    await close(service);
  }
});

test('with cache, requests with one key that arrive while it is asked share the one call', async () => {
  const service = await startAuthService((_req, res) => {
    // Slow enough that all ten are in before the answer.
    setTimeout(() => res.writeHead(204).end(), 300);
  });
  const { gw, echo, close } = await startAuthStage(cachedConfig(service.url, '1h'));
  try {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(gw.url, { path: `/app/${i}`, headers: { cookie: 'session=burst' } }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(10).fill(200),
    );
    assert.equal(service.asked.length, 1);
    assert.equal(echo.received.length, 10);
  } finally {
    await close(service);
  }
});
