/**
 * `candor serve --workers 2`, an OpenID Connect route, a provider that rotates refresh tokens
 * (each refresh spends the token used; its reuse is refused `invalid_grant` and revokes the
 * grant, as Okta's and Auth0's rotation do). docs/access-control.md: "One renewal per refresh
 * token at a time, its result kept 30 s for the requests that still carry the old cookie (a
 * page's parallel requests; a provider that rotates refresh tokens would refuse all but the
 * first)". A page's requests come on several connections, which land on several workers: the
 * renewal is the gateway's, not a worker's, so the requests another worker takes with the cookie
 * from before are let in on it too, never a second refresh that ends the user's session.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CookieSeal } from '../../src/proxy/admit/oidc/session-cookie.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startProvider,
} from '../helpers/oidc-provider.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ENV = { OIDC_WORKERS_CLIENT_SECRET: CLIENT_SECRET, OIDC_WORKERS_COOKIE_SECRET: COOKIE_SECRET };

let app: http.Server;
/** The gateway's connections the app was reached on, by their ports: each worker has its own pool. */
const fromPorts = new Set<number | undefined>();
before(async () => {
  app = http.createServer((req, res) => {
    fromPorts.add(req.socket.remotePort);
    res.writeHead(200).end('app');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
});
after(() => closeAll(app));

test('a session due for renewal, its old cookie on requests taken by both workers: one refresh, every request let in', async () => {
  const provider = await startProvider();
  const path = join(tempDir('candor-oidc-workers-'), 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_WORKERS_CLIENT_SECRET
        scopes: [offline_access]
        cookie: { secret_env: OIDC_WORKERS_COOKIE_SECRET }
        timeout: 2s
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
`,
  );
  const serve = await startServe(path, 2, { env: ENV });
  try {
    const url = `http://127.0.0.1:${serve.port}`;
    await provider.register(url, { rotateRefreshTokens: true });
    const browser = new HttpBrowser();
    assert.equal((await browser.signIn(await browser.go(`${url}/`), 'alice')).text, 'app');
    // The session as signed in, made to be at its renewal (within its last minute), still good.
    const seal = new CookieSeal(COOKIE_SECRET, 'session');
    const opened = seal.open(browser.cookie('127.0.0.1', '_candor_session') as string) as Record<
      string,
      unknown
    >;
    const due = `_candor_session=${await seal.seal({ ...opened, a: Date.now() - 600_000, e: Date.now() + 30_000 })}`;

    // Each request on a connection of its own (the kernel spreads them over the workers), all
    // with the cookie from before the renewal, as a page's parallel requests carry it.
    const refreshesBefore = provider.asked.get('/token') ?? 0;
    fromPorts.clear();
    const answers: string[] = [];
    const page = async (i: number) => {
      const res = await request(url, { path: `/page/${i}`, headers: { cookie: due } });
      answers.push(`${i}: ${res.status} ${res.headers['proxy-status'] ?? ''}`);
    };
    // Ten at once (the page's first requests, all before the renewal's answer), then thirty more.
    await Promise.all(Array.from({ length: 10 }, (_, i) => page(i)));
    for (let i = 10; i < 40; i++) await page(i);
    assert.deepEqual(
      answers.filter((a) => !/: 200 $/.test(a)),
      [],
      'every request with the cookie from before the renewal let in, whichever worker took it',
    );
    assert.equal((provider.asked.get('/token') ?? 0) - refreshesBefore, 1, 'one refresh for the gateway');
    assert.ok(fromPorts.size >= 2, 'both workers took some (each reaches the app on its own connection)');
  } finally {
    await closeAll(serve, provider);
  }
});
