/**
 * The OpenID provider's failures told as a hop's (next-hop="auth:oidc"): refused, reset,
 * garbage 502, slow 504, its 5xx and its circuit open 503 + Retry-After; never a 500, never a
 * 401. A signed-in user keeps working through an outage until the session's tokens expire.
 * Each gateway here has a provider of its own (one to break); so has the last test's, on a TLS
 * listener (its cookies Secure, its redirect URI https).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startProvider,
  type TestProvider,
} from '../../helpers/oidc-provider.ts';
import { startGatewayFromText, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** The secrets, in the variables the config names: its checks read them, and the gateway when it builds the route. */
const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

let app: http.Server;
let reached = 0;

before(async () => {
  app = http.createServer((_req, res) => {
    reached++;
    res.writeHead(200).end('app');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
});
after(() => closeAll(app));

/** A gateway whose route signs in at `provider`, its calls bounded by 1 s (`top`: more top-level fields). */
async function gatewayOn(provider: TestProvider, top = ''): Promise<TestGateway> {
  const gw = await startTestGateway(
    `name: edge-1
${top}routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        scopes: [offline_access]
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        timeout: 1s
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  await provider.register(gw.url);
  return gw;
}

/** A browser's page request, and the hop's failure it must get: the status, the type, and the hop named. */
async function assertHopFailure(
  gw: TestGateway,
  path: string,
  cookie: string | undefined,
  status: number,
  type: string,
) {
  const before = reached;
  const res = await request(gw.url, {
    path,
    headers: { accept: 'text/html', ...(cookie === undefined ? {} : { cookie }) },
  });
  assert.equal(res.status, status, res.text);
  assert.match(
    res.headers['proxy-status'] as string,
    new RegExp(`^edge-1; error=${type}; details="(?:[^"\\\\]|\\\\.)+"; next-hop="auth:oidc"$`),
  );
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.equal(reached, before);
  return res;
}

test('a signed-in user keeps working while the provider is down; a sign-in begun then is told it is down (502), its circuit open 503 + Retry-After', async () => {
  const provider = await startProvider();
  const gw = await gatewayOn(provider);
  try {
    const browser = new HttpBrowser();
    const page = await browser.signIn(await browser.go(`${gw.url}/`), 'alice');
    assert.equal(page.text, 'app');
    await provider.stop();
    const session = `_candor_session=${browser.cookie('127.0.0.1', '_candor_session')}`;
    for (let i = 0; i < 3; i++) {
      const res = await request(gw.url, { path: '/still', headers: { cookie: session } });
      assert.equal(res.status, 200);
    }
    // A second after the provider was last heard from, a sign-in asks it again before sending
    // the browser there: refused, the browser is told so (not sent to a provider that is down).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const signIn = await assertHopFailure(gw, '/new', undefined, 502, 'connection_refused');
    assert.match(signIn.headers['proxy-status'] as string, /details="the discovery document: /);
    // A session past its end with the provider down: the hop's failure (never a 401 for an outage).
    const seal = new CookieSeal(COOKIE_SECRET, 'session');
    const opened = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
      string,
      unknown
    >;
    const ended = await seal.seal({ ...opened, a: Date.now() - 7200_000, e: Date.now() - 1000 });
    const failures: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(gw.url, {
        path: '/ended',
        headers: { accept: 'text/html', cookie: `_candor_session=${ended}` },
      });
      failures.push(res.status);
      if (res.status === 503) {
        assert.match(
          res.headers['proxy-status'] as string,
          /^edge-1; error=destination_unavailable; details="the token endpoint: its circuit is open[^"]*"; next-hop="auth:oidc"$/,
        );
        assert.match(String(res.headers['retry-after']), /^\d+$/);
      } else
        assert.match(
          res.headers['proxy-status'] as string,
          /error=connection_refused; .*next-hop="auth:oidc"$/,
        );
    }
    // Five refused in a row (the sign-in's and four renewals) open the provider's circuit: the
    // next is told at once, with when to come back.
    assert.deepEqual(failures, [502, 502, 502, 502, 503]);
  } finally {
    await closeAll(gw, provider);
  }
});

for (const [mode, status, type] of [
  ['hang', 504, 'http_response_timeout'],
  ['garbage', 502, 'http_protocol_error'],
  // The connection closed before an answer (node's destroy() sends a FIN).
  ['reset', 502, 'connection_terminated'],
  ['error', 503, 'destination_unavailable'],
] as const) {
  test(`a provider whose discovery ${mode === 'hang' ? 'never answers' : mode === 'error' ? 'answers 500' : `answers ${mode}`}: a sign-in is its ${status} ${type}`, async () => {
    const provider = await startProvider();
    provider.mode = mode;
    const gw = await gatewayOn(provider);
    try {
      await assertHopFailure(gw, '/', undefined, status, type);
      const line = gw.logs.filter((l) => l.msg === 'request').at(-1);
      assert.equal(line?.auth, `failed: ${type}`);
    } finally {
      await closeAll(gw, provider);
    }
  });
}

/**
 * A browser signed in at the provider, stopped short of its way back to the gateway: the
 * callback's path and query, and the sign-in's flow cookie.
 */
async function backFromProvider(gw: TestGateway, user: string): Promise<{ path: string; flow: string }> {
  const browser = new HttpBrowser();
  const start = await browser.go(`${gw.url}/`);
  const toCallback = (next: URL) => next.pathname === '/oauth2/callback';
  // The dev login, then its consent page (a user's first sign-in), stopping short of the gateway.
  const consent = await browser.submit(start, { login: user, password: 'x' }, toCallback);
  const stopped =
    consent.headers.location === undefined ? await browser.submit(consent, {}, toCallback) : consent;
  const callback = new URL(stopped.headers.location as string);
  assert.equal(callback.pathname, '/oauth2/callback');
  const [flow] = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_');
  return { path: `${callback.pathname}${callback.search}`, flow };
}

/** The provider's answer brought back again (a reload of the page): the session made, the browser sent on. */
async function assertSignedIn(gw: TestGateway, back: { path: string; flow: string }) {
  const res = await request(gw.url, { path: back.path, headers: { accept: 'text/html', cookie: back.flow } });
  assert.equal(res.status, 302, res.text);
  assert.equal(res.headers.location, '/');
  assert.ok(
    (res.headers['set-cookie'] ?? []).some((c) => c.startsWith('_candor_session=')),
    String(res.headers['set-cookie']),
  );
}

for (const [mode, status, type] of [
  ['hang', 504, 'http_response_timeout'],
  ['garbage', 502, 'http_protocol_error'],
  ['error', 503, 'destination_unavailable'],
] as const) {
  test(`the token endpoint ${mode === 'hang' ? 'slow' : mode === 'error' ? 'answering 500' : 'answering garbage'} when the browser comes back: its ${status} ${type}, no session; the same answer again once it is back signs in (no replay)`, async () => {
    const provider = await startProvider();
    const gw = await gatewayOn(provider);
    try {
      const browser = new HttpBrowser();
      const back = await browser.signIn(await browser.go(`${gw.url}/`), 'bob');
      assert.equal(back.text, 'app');
      const again = await backFromProvider(gw, 'carol');
      provider.mode = mode;
      provider.modeAt = '/token';
      const res = await assertHopFailure(gw, again.path, again.flow, status, type);
      assert.match(res.headers['proxy-status'] as string, /details="the token endpoint: /);
      assert.equal(res.headers['set-cookie'], undefined);
      // Told it may retry: the retry is no replay of an answered state (the code was not spent).
      assert.match(res.text, /retry/i);
      provider.mode = 'ok';
      await assertSignedIn(gw, again);
      // Answered now: the same answer a third time is the replay.
      const replay = await request(gw.url, {
        path: again.path,
        headers: { accept: 'text/html', cookie: again.flow },
      });
      assert.equal(replay.status, 400);
      assert.match(replay.text, /used already/);
    } finally {
      await closeAll(gw, provider);
    }
  });
}

test("the provider's keys slow when the browser comes back: 504 within the route's timeout; the same answer again signs in with the tokens had (the code is exchanged once)", async () => {
  const provider = await startProvider();
  const gw = await gatewayOn(provider);
  try {
    const back = await backFromProvider(gw, 'dave');
    provider.mode = 'hang';
    provider.modeAt = '/jwks';
    const res = await assertHopFailure(gw, back.path, back.flow, 504, 'http_response_timeout');
    // The route's `timeout: 1s` bounds the keys' call as the others (the key sets' own 5 s before).
    assert.match(
      res.headers['proxy-status'] as string,
      /details="the JWKS endpoint: [^"]*within 1 s"; next-hop="auth:oidc"$/,
    );
    assert.equal(provider.asked.get('/token'), 1);
    provider.mode = 'ok';
    // Without keys had yet, a failed fetch is that failure for a second (jwks-source.ts): asked again after it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await assertSignedIn(gw, back);
    assert.equal(provider.asked.get('/token'), 1);
  } finally {
    await closeAll(gw, provider);
  }
});

test('the keys failing after the code was exchanged, the same answer retried at another worker (another process, its memory apart): signed in with the tokens had, the code not spent again', async () => {
  const provider = await startProvider();
  // The same config in another process's memory: what a second worker of `candor serve` is
  // (started first: the provider knows the redirect URI registered last, the first one's).
  const other = await gatewayOn(provider);
  const gw = await gatewayOn(provider);
  try {
    const back = await backFromProvider(gw, 'erin');
    provider.mode = 'reset';
    provider.modeAt = '/jwks';
    const res = await assertHopFailure(gw, back.path, back.flow, 502, 'connection_terminated');
    assert.equal(provider.asked.get('/token'), 1);
    provider.mode = 'ok';
    // The browser's retry, with the cookies that answer left it, lands on the other worker (the
    // same host: the redirect URI the code was given for).
    const jar = new Map(
      [back.flow, ...(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0])].map((c) => [
        c.slice(0, c.indexOf('=')),
        c,
      ]),
    );
    const retry = await request(other.url, {
      path: back.path,
      headers: { accept: 'text/html', host: new URL(gw.url).host, cookie: [...jar.values()].join('; ') },
    });
    assert.equal(retry.status, 302, retry.text);
    assert.ok(
      (retry.headers['set-cookie'] ?? []).some((c) => c.startsWith('_candor_session=')),
      String(retry.headers['set-cookie']),
    );
    assert.equal(provider.asked.get('/token'), 1, 'the code was exchanged once');
  } finally {
    await closeAll(gw, other, provider);
  }
});

test('a provider answering garbage opens its circuit as its 5xx do: five failures in a row, then 503 with Retry-After, the provider not asked', async () => {
  const provider = await startProvider();
  provider.mode = 'garbage';
  const gw = await gatewayOn(provider);
  try {
    for (let i = 0; i < 5; i++)
      await assertHopFailure(gw, `/page${i}`, undefined, 502, 'http_protocol_error');
    const discovery = '/.well-known/openid-configuration';
    assert.equal(provider.asked.get(discovery), 5);
    const open = await assertHopFailure(gw, '/page5', undefined, 503, 'destination_unavailable');
    assert.match(open.headers['proxy-status'] as string, /its circuit is open after 5 failures in a row/);
    assert.match(String(open.headers['retry-after']), /^\d+$/);
    assert.equal(provider.asked.get(discovery), 5);
  } finally {
    await closeAll(gw, provider);
  }
});

test('with expose_upstream_address the provider is named by its address; the log names it either way', async () => {
  const provider = await startProvider();
  provider.mode = 'error';
  const gw = await gatewayOn(provider, 'errors: { expose_upstream_address: true }\n');
  try {
    const res = await request(gw.url, {
      path: '/',
      headers: { accept: 'text/html', 'x-request-id': 'oidc-exposed' },
    });
    assert.equal(res.status, 503);
    const host = new URL(provider.issuer).host;
    assert.match(res.headers['proxy-status'] as string, new RegExp(`; next-hop="auth:${host}"$`));
    assert.equal((await gw.logFor('oidc-exposed')).auth_hop, `auth:${host}`);
  } finally {
    await closeAll(gw, provider);
  }
});

test('over TLS the cookies are Secure and the redirect URI https', async () => {
  const provider = await startProvider();
  const certs = testCertificates();
  const gw = await startGatewayFromText(
    `name: edge-1
listen:
  - address: 127.0.0.1:0
    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }
routes:
  - match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
    ENV,
  );
  await provider.register('https://app.test');
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      https
        .get(
          {
            host: '127.0.0.1',
            port: gw.port,
            path: '/page',
            rejectUnauthorized: false,
            agent: false,
            headers: { host: 'app.test', accept: 'text/html' },
          },
          (answer) => {
            answer.resume();
            answer.on('end', () => resolve(answer));
          },
        )
        .on('error', reject);
    });
    assert.equal(res.statusCode, 302);
    const location = new URL(res.headers.location as string);
    assert.equal(location.searchParams.get('redirect_uri'), 'https://app.test/oauth2/callback');
    const [flow] = res.headers['set-cookie'] ?? [];
    assert.match(
      flow,
      /^_candor_session_flow_[\w-]{12}=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=600$/,
    );
  } finally {
    await closeAll(gw, provider);
  }
});
