/**
 * An OpenID Connect route's call to its provider's token endpoint (the sign-in's code
 * exchange) is traced as a CLIENT span of its own under the callback request's server span,
 * `candor.hop` naming the provider as Proxy-Status does (`auth:HOST`): the provider's time and
 * failure are told apart from the upstream's. Before, the call had no span (nor traceparent).
 * The discovery document and the keys, fetched once for every request, have none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oidcHopName } from '../../../src/proxy/admit/access.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  type ProviderMode,
  startSignIn,
} from '../../helpers/oidc-provider.ts';
import { type ExportedSpan, KIND, STATUS, startCollector } from './collector.ts';

const ENV = { OIDC_SPAN_CLIENT_SECRET: CLIENT_SECRET, OIDC_SPAN_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

/**
 * A sign-in through a gateway that traces, the token endpoint answering as `mode`; the spans exported.
 * The provider's timeout is short only where the test waits it out: the provider signs its tokens
 * in this process, which a loaded machine can keep past 500 ms.
 */
async function signIn(mode: ProviderMode, status: number) {
  const collector = await startCollector();
  const { app, provider, gw } = await startSignIn(
    (_req, res) => res.writeHead(200).end('app'),
    (issuer, appUrl) => `routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_SPAN_CLIENT_SECRET
        cookie: { secret_env: OIDC_SPAN_COOKIE_SECRET }
        timeout: ${mode === 'hang' ? '500ms' : '10s'}
upstreams:
  app:
    targets:
      - url: ${appUrl}
tracing:
  otlp_endpoint: ${collector.endpoint}
`,
    ENV,
  );
  try {
    const browser = new HttpBrowser();
    const login = await browser.go(`${gw.url}/page`);
    assert.equal(login.status, 200, login.text.slice(0, 300));
    provider.mode = mode;
    provider.modeAt = '/token';
    const back = await browser.signIn(login, 'alice');
    // Signed in, the browser is sent back to the page it asked for; else the callback is answered.
    const at = mode === 'ok' ? `${gw.url}/page` : `${gw.url}/oauth2/callback?`;
    assert.ok(back.url.startsWith(at), back.url);
    assert.equal(back.status, status, back.text.slice(0, 300));
    await gw.logFor(back.headers['x-request-id'] as string);
  } finally {
    await closeAll(gw, provider, app);
    await collector.close();
  }
  const hop = oidcHopName(provider.issuer);
  const calls = collector.spans.filter((s) => s.kind === KIND.client && s.attributes['candor.hop'] === hop);
  assert.equal(calls.length, 1, JSON.stringify(collector.spans.map((s) => [s.name, s.attributes])));
  const [call] = calls;
  const server = collector.spans.find((s) => s.spanId === call.parentSpanId) as ExportedSpan;
  assert.equal(server?.kind, KIND.server);
  assert.equal(server.attributes['url.path'], '/oauth2/callback');
  assert.equal(call.name, 'POST');
  const issuer = new URL(provider.issuer);
  assert.equal(call.attributes['server.address'], issuer.hostname);
  assert.equal(call.attributes['server.port'], Number(issuer.port));
  const url = new URL(String(call.attributes['url.full']));
  assert.equal(`${url.origin}${url.pathname}`, url.href, 'no query');
  // The provider's traceparent is the call's own span (its spans hang under it).
  assert.equal(provider.traced.get(url.pathname)?.traceparent, `00-${call.traceId}-${call.spanId}-01`);
  return call;
}

test("the token endpoint's call at the sign-in is a client span under the callback's server span", async () => {
  const call = await signIn('ok', 200);
  assert.equal(call.attributes['http.response.status_code'], 200);
  assert.equal(call.status.code, STATUS.unset);
});

test("the token endpoint's 500: its span is an error with its status", async () => {
  const call = await signIn('error', 503);
  assert.deepEqual(
    [call.attributes['http.response.status_code'], call.attributes['error.type'], call.status.code],
    [500, '500', STATUS.error],
  );
});

test('a token endpoint slow past the timeout: its span says the hop timed out', async () => {
  const call = await signIn('hang', 504);
  assert.equal(call.attributes['error.type'], 'http_response_timeout');
  assert.equal(call.attributes['http.response.status_code'], undefined);
  assert.equal(call.status.code, STATUS.error);
});
