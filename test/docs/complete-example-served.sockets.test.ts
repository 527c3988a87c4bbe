/**
 * What docs/examples/complete.yaml shows beside its redirects (those are
 * complete-example-redirects.sockets.test.ts's), exercised as its comments say, with the files
 * beside it: the sample login of users.htpasswd (its comment names the password), the static
 * site with its Cache-Control, the example's error pages (pages/error.html for a browser,
 * pages/problem.json's members in every problem+json) and a maintenance route. The gateway runs
 * the example as it is but for its listen addresses (127.0.0.1, ports the system picks), its
 * upstreams (one echo server stands for each), what reaches beyond the machine (metrics, admin,
 * tracing, Redis, the ACME CA, the auth services of the routes not looked at here, the cache's
 * directory), and 127.0.0.1 added to the trusted proxies, so that a request can name a client
 * address inside the `users` route's `allow`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../src/server/gateway/gateway.ts';
import { request } from '../helpers/http-client.ts';

const EXAMPLES = join(import.meta.dirname, '../../docs/examples');
const EXAMPLE = join(EXAMPLES, 'complete.yaml');
/** The routes whose auth this file exercises: the others' reach beyond the machine. */
const AUTH_KEPT = new Set(['users', 'objects', 'console']);
const ROOT = join(import.meta.dirname, '../..');
const CONFIGURATION = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');

/** The example, runnable on this machine alone. */
function runnableExample(upstreamUrl: string): string {
  const document = parse(readFileSync(EXAMPLE, 'utf8'));
  for (const listener of document.listen) {
    listener.address = '127.0.0.1:0';
    delete listener.tls?.acme;
  }
  for (const name of Object.keys(document.upstreams))
    document.upstreams[name] = { targets: [{ url: upstreamUrl }] };
  for (const field of ['metrics', 'admin', 'tracing', 'store', 'log', 'acme']) delete document[field];
  for (const route of document.routes) {
    delete route.cache;
    if (!AUTH_KEPT.has(route.name)) delete route.auth;
  }
  document.trust_forwarded_from.push('127.0.0.1');
  return stringify(document);
}

/** The sample login users.htpasswd's comment gives its reader. */
function sampleLogin(): { user: string; password: string } {
  const text = readFileSync(join(EXAMPLES, 'users.htpasswd'), 'utf8');
  const password = /the password is (\S+?)\)/.exec(text)?.[1];
  const user = /^([^#:\s][^:]*):/m.exec(text)?.[1];
  assert.ok(
    password !== undefined && user !== undefined,
    `users.htpasswd names a user and its password:\n${text}`,
  );
  return { user, password };
}

/** The token the docs' command mints with the example's signing key, run as the docs say (from the checkout's root). */
function mintedAsDocumented(): string {
  const command = /\n```sh\n(node -e .*jwt-signing-key\.pem.*)\n```\n/.exec(CONFIGURATION)?.[1];
  assert.ok(command !== undefined, "docs/configuration.md shows the command that mints the example's token");
  const run = spawnSync(command.replace(/^node /, `'${process.execPath}' `), {
    cwd: ROOT,
    shell: true,
    encoding: 'utf8',
  });
  assert.equal(run.stderr, '');
  assert.equal(run.status, 0);
  return run.stdout.trim();
}

/** The same claims, signed by a key the example's key set does not hold. */
function forged(token: string): string {
  const [head, claims] = token.split('.');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signature = sign('sha256', Buffer.from(`${head}.${claims}`), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${head}.${claims}.${signature.toString('base64url')}`;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the complete example, served', () => {
  let app: Fault;
  let gateway: Gateway;
  const url = () => `http://127.0.0.1:${gateway.listeners[0].port()}`;

  before(async () => {
    app = await startEcho();
    gateway = await startGateway(parseConfig(runnableExample(app.url), EXAMPLE, {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1'),
    });
  });
  after(async () => {
    await gateway?.close();
    await app?.close();
  });

  const users = (headers: Record<string, string>) =>
    request(url(), {
      path: '/users/7',
      headers: { host: 'api.example.com', 'x-forwarded-for': '10.1.2.3', ...headers },
    });

  test('users.htpasswd: the login its comment gives is let in and told upstream; another password is a 401 naming the realm', async () => {
    const { user, password } = sampleLogin();
    assert.ok(
      CONFIGURATION.includes(`\`${user}\` with the password \`${password}\``),
      'docs/configuration.md gives the same login',
    );
    const before = app.received.length;
    const wrong = await users({ authorization: basic(user, `${password}-not`) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="Users API", charset="UTF-8"');
    assert.equal(app.received.length, before, 'nothing reached the upstream');
    const right = await users({ authorization: basic(user, password) });
    assert.equal(right.status, 200, right.text);
    const reached = app.received.at(-1);
    assert.equal(reached?.headers['x-candor-user'], user);
    assert.equal(reached?.headers.authorization, undefined, 'forward_authorization: false');
    const denied = await users({ authorization: basic(user, password), 'x-forwarded-for': '10.66.0.1' });
    assert.equal(denied.status, 403, 'deny wins inside allow');
  });

  test("the error pages: a browser's 401 is pages/error.html filled in; a problem+json carries pages/problem.json's members", async () => {
    const html = await users({ accept: 'text/html' });
    assert.equal(html.status, 401);
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(html.text, /^<!doctype html>/);
    assert.match(html.text, /<title>401 Unauthorized · Example Corp<\/title>/);
    assert.match(html.text, new RegExp(`<code>${html.headers['x-request-id']}</code>`));
    assert.doesNotMatch(html.text, /\{\{|\}\}/, 'every placeholder of the page is one the gateway fills');
    const json = await users({ accept: 'application/json' });
    assert.equal(json.status, 401);
    assert.equal(json.headers['content-type'], 'application/problem+json');
    const members = JSON.parse(readFileSync(join(EXAMPLES, 'pages/problem.json'), 'utf8'));
    const body = JSON.parse(json.text);
    assert.deepEqual(
      { ...body, ...members },
      body,
      "the body holds each of problem.json's members as written",
    );
    assert.equal(body.status, 401);
  });

  test("jwks.json: the token the docs mint with its private half passes objects' auth.jwt, and the user-header plugin tells its sub upstream; a forged one is a 401", async () => {
    const token = mintedAsDocumented();
    const objects = (authorization: string) =>
      request(url(), {
        path: '/objects/a%2Fb',
        headers: { host: 'api.example.com', authorization, 'x-user-id': 'forged' },
      });
    const good = await objects(`Bearer ${token}`);
    assert.equal(good.status, 200, good.text);
    const reached = app.received.at(-1);
    assert.equal(reached?.headers['x-user-id'], 'alice');
    assert.equal(reached?.path, '/objects/a%2Fb', 'allow_encoded_slashes: the %2F goes on as it is');
    const before = app.received.length;
    const bad = await objects(`Bearer ${forged(token)}`);
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers['www-authenticate']), /^Bearer /);
    assert.equal(app.received.length, before, 'nothing reached the upstream');
  });

  test("console: the sample client certificate (ops-laptop-1, of clients-ca.pem) passes its client_certificate; none is a 403, as mode: optional's comment says", async () => {
    const certs = join(EXAMPLES, 'certs');
    const ask = (withCertificate: boolean) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request({
          host: '127.0.0.1',
          port: gateway.listeners[1].port(),
          servername: 'console.example.com',
          path: '/',
          headers: { host: 'console.example.com' },
          rejectUnauthorized: false,
          agent: false,
          ...(withCertificate
            ? {
                cert: readFileSync(join(certs, 'ops-laptop-1.pem')),
                key: readFileSync(join(certs, 'ops-laptop-1-key.pem')),
              }
            : {}),
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await ask(true), 200);
    assert.equal(await ask(false), 403);
  });

  test('the static site: index.html with the Cache-Control the example writes; a path no file answers is the shell', async () => {
    const index = readFileSync(join(EXAMPLES, 'site/index.html'), 'utf8');
    for (const path of ['/static/', '/static/index.html', '/static/app/settings']) {
      const res = await request(url(), { path, headers: { host: 'www.example.com' } });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['cache-control'], 'public, max-age=3600', path);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', path);
      assert.equal(res.text, index, path);
    }
  });

  test('billing: the maintenance answer, its message and Retry-After as written', async () => {
    const res = await request(url(), { path: '/invoices', headers: { host: 'billing.example.com' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '900');
    assert.match(
      String(res.headers['proxy-status']),
      /Billing is down until 14:00 UTC for a database upgrade\./,
    );
  });
});
