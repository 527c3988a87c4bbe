/**
 * The OpenID provider's circuit counts the provider's failures, not the gateway's own want: with
 * the process out of file descriptors (RLIMIT_NOFILE lowered with prlimit to the descriptors it
 * holds), a sign-in's call to the provider fails EMFILE, the gateway's 503
 * `proxy_resources_exhausted`, and five of them in a row opened the circuit: once descriptors
 * were back, every sign-in for the next 10 s was told "its circuit is open after 5 failures in a
 * row", a 503 `destination_unavailable` blaming a provider nothing had asked.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, startProvider } from '../../helpers/oidc-provider.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

test('sign-ins that meet EMFILE do not open the provider’s circuit: the next one, with descriptors back, goes to the provider', async (t) => {
  const app = await listenOnLoopback((_req, res) => res.writeHead(200).end('app'));
  t.after(() => app.close());
  const provider = await startProvider();
  t.after(() => provider.close());
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: /open }
    upstream: app
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        timeout: 1s
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
    ENV,
  );
  t.after(() => gw.close());
  await provider.register(gw.url);
  // The browser's connection is open (kept alive) before the descriptors run out.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/open', agent)).status, 200);

  const release = exhaustDescriptors();
  const answers: Awaited<ReturnType<typeof get>>[] = [];
  try {
    for (let i = 0; i < 6; i++) answers.push(await get(gw.url, `/page${i}`, agent, { accept: 'text/html' }));
  } finally {
    release();
  }
  for (const answer of answers) {
    assert.equal(answer.status, 503);
    assert.match(String(answer.headers['proxy-status']), /^edge-1; error=connection_limit_reached; /);
  }
  const discovery = '/.well-known/openid-configuration';
  assert.equal(provider.asked.get(discovery) ?? 0, 0);

  const next = await get(gw.url, '/page6', agent, { accept: 'text/html' });
  assert.equal(next.status, 302, String(next.headers['proxy-status']));
  assert.ok(String(next.headers.location).startsWith(provider.issuer), next.headers.location);
  assert.equal(provider.asked.get(discovery), 1);
});
