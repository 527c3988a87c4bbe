/**
 * An operator's error page (`errors.pages.html`) offers the way back the built-in page links to
 * when the provider declined a sign-in: `{{sign_in_again}}`, the flow's own path of this host,
 * escaped as every placeholder is (its `&` and `=` character references, which an attribute reads
 * back as written); the root when the sign-in's flow cookie is gone; empty on any other failure,
 * a sign-in's or not.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startSignIn,
  type TestProvider,
} from '../../helpers/oidc-provider.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ENV = { OIDC_PAGE_CLIENT_SECRET: CLIENT_SECRET, OIDC_PAGE_COOKIE_SECRET: COOKIE_SECRET };
Object.assign(process.env, ENV);

const page = join(tempDir('candor-oidc-page-'), 'error.html');
writeFileSync(
  page,
  '<p>{{status}} {{type}}</p><a class="again" href="{{ sign_in_again }}">Try again</a> {{request_id}}\n',
);

let provider: TestProvider;
let gw: TestGateway;
let app: http.Server;

before(async () => {
  ({ app, provider, gw } = await startSignIn(
    (_req, res) => res.end('app'),
    (issuer, appUrl) => `errors:
  pages: { html: ${page} }
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      oidc:
        issuer: ${issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_PAGE_CLIENT_SECRET
        cookie: { secret_env: OIDC_PAGE_COOKIE_SECRET }
upstreams:
  app:
    targets:
      - url: ${appUrl}
`,
    ENV,
  ));
});

after(() => closeAll(gw, provider, app));

/** The provider's answer `params` at the redirect path, with the flow cookie of a sign-in begun at `path`. */
async function answered(path: string, params: (state: string) => Record<string, string>) {
  const browser = new HttpBrowser();
  const first = await browser.go(`${gw.url}${path}`, () => true);
  assert.equal(first.status, 302);
  const state = new URL(first.headers.location as string).searchParams.get('state') as string;
  const cookie = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').join('; ');
  return request(gw.url, {
    path: `/oauth2/callback?${new URLSearchParams(params(state))}`,
    headers: { accept: 'text/html', cookie },
  });
}

test('a sign-in declined at the provider: {{sign_in_again}} is the page first asked for, escaped', async () => {
  const res = await answered('/page?tab=2&x=1', (state) => ({
    error: 'access_denied',
    state,
    iss: provider.issuer,
  }));
  assert.equal(res.status, 401, res.text);
  assert.match(res.headers['content-type'] as string, /^text\/html/);
  assert.ok(
    res.text.startsWith(
      '<p>401 http_request_denied</p><a class="again" href="/page?tab&#61;2&amp;x&#61;1">Try again</a> ',
    ),
    res.text,
  );
});

test('a sign-in whose flow cookie is gone: {{sign_in_again}} is the root (where it began went with it)', async () => {
  const gone = await answered('/page', () => ({
    code: 'c',
    state: 'not-the-state-given',
    iss: provider.issuer,
  }));
  assert.equal(gone.status, 400, gone.text);
  assert.ok(gone.text.startsWith('<p>400 http_request_error</p><a class="again" href="/">'), gone.text);
});

test('any other failure, at the redirect path or not: {{sign_in_again}} is empty', async () => {
  // The flow's own answer, but without its code.
  const codeless = await answered('/page', (state) => ({ state, iss: provider.issuer }));
  assert.equal(codeless.status, 400, codeless.text);
  assert.ok(
    codeless.text.startsWith('<p>400 http_request_error</p><a class="again" href="">'),
    codeless.text,
  );
  const program = await request(gw.url, {
    path: '/orders',
    headers: { accept: 'text/html', authorization: 'Bearer x' },
  });
  assert.equal(program.status, 401, program.text);
  assert.ok(program.text.startsWith('<p>401 http_request_denied</p><a class="again" href="">'), program.text);
});
