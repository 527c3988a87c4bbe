/**
 * `GET /config` holds no secret, as docs/operations.md says: a password in `store.redis.url`
 * (`redis://:${REDIS_PASSWORD}@…`, the docs' own example) or in `tracing.otlp_endpoint` is shown
 * as `***`, never in clear, to whoever holds the admin token (a dashboard, a support bundle).
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is what GET /config shows in place of a variable's value.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'config-secrets-token-0123456789abcdef';
let serve: ServeProcess | undefined;
after(async () => {
  await serve?.stop();
});

test('GET /config shows a URL password as ***, never in clear; the rest of the URL as written', async () => {
  const dir = tempDir('candor-config-secrets-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const [adminPort, redisPort, collectorPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: secrets-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
store:
  redis:
    url: redis://reader:s3cret-redis@127.0.0.1:${redisPort}/2
tracing:
  otlp_endpoint: http://otel:s3cret-otlp@127.0.0.1:${collectorPort}/v1/traces
routes:
  - match: { path: / }
    upstream: app
    rate_limit: { rate: 10, burst: 10 }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
  );
  serve = await startServe(config, 1, { admin: true });
  const answer = await adminCall(adminPort, 'GET', '/config', { token: TOKEN });
  assert.equal(answer.status, 200);
  const text = JSON.stringify(answer.body);
  assert.doesNotMatch(text, /s3cret/);
  const shown = answer.body.config as {
    store: { redis: { url: string } };
    tracing: { otlpEndpoint: string };
  };
  assert.equal(shown.store.redis.url, `redis://reader:***@127.0.0.1:${redisPort}/2`);
  assert.equal(shown.tracing.otlpEndpoint, `http://otel:***@127.0.0.1:${collectorPort}/v1/traces`);
});

test('GET /config shows a value from the environment as the file writes it: ${TOKEN}, never the token', async () => {
  const dir = tempDir('candor-config-env-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const secret = 'env-secret-7c1e9a04d2b8';
  const received: (string | undefined)[] = [];
  const app = createServer((req, res) => {
    received.push(req.headers.authorization);
    res.end('ok');
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  const [adminPort, listenPort] = [await freePort(), await freePort()];
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: env-edge
listen:
  - address: 127.0.0.1:${listenPort}
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - match: { path: / }
    upstream: app
    request_headers: { set: { Authorization: "Bearer \${API_TOKEN} {request_id}" } }
    response_headers: { add: { X-Edge: "\${EDGE_NAME:-edge}" } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:${appPort}" }]
`,
  );
  const edge = await startServe(config, 1, { admin: true, env: { API_TOKEN: secret, EDGE_NAME: 'edge-7' } });
  try {
    // The gateway runs on the value: the upstream receives the token.
    const proxied = await fetch(`http://127.0.0.1:${listenPort}/`);
    assert.equal(proxied.status, 200);
    assert.equal(proxied.headers.get('x-edge'), 'edge-7');
    assert.deepEqual(received, [`Bearer ${secret} ${proxied.headers.get('x-request-id')}`]);

    const answer = await adminCall(adminPort, 'GET', '/config', { token: TOKEN });
    assert.equal(answer.status, 200);
    assert.ok(!answer.text.includes(secret), answer.text);
    assert.ok(!answer.text.includes('edge-7'), answer.text);
    assert.ok(!answer.text.includes('fromEnvironment'), answer.text);
    const [route] = (answer.body.config as { routes: Record<string, { set: unknown[]; add: unknown[] }>[] })
      .routes;
    assert.deepEqual(route.requestHeaders.set, [
      {
        name: 'Authorization',
        lower: 'authorization',
        value: ['Bearer ${API_TOKEN} ', { variable: 'request_id' }],
      },
    ]);
    assert.deepEqual(route.responseHeaders.add, [
      { name: 'X-Edge', lower: 'x-edge', value: ['${EDGE_NAME}'] },
    ]);
  } finally {
    await edge.stop();
    app.close();
  }
});

test('GET /config: a forward-auth URL from the environment, split into origin and path by the loader, shows no part of its query', async () => {
  const dir = tempDir('candor-config-split-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const secret = 'hook-secret-5d0c3f7a9e21';
  const adminPort = await freePort();
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: split-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - match: { path: / }
    upstream: app
    auth: { forward: { url: "\${AUTH_URL}" } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
  );
  const edge = await startServe(config, 1, {
    admin: true,
    env: { AUTH_URL: `http://127.0.0.1:9/check?api_key=${secret}` },
  });
  try {
    const answer = await adminCall(adminPort, 'GET', '/config', { token: TOKEN });
    assert.equal(answer.status, 200);
    assert.ok(!answer.text.includes(secret), answer.text);
    const [route] = (answer.body.config as { routes: { access: { auth: { forward: { path: string } } } }[] })
      .routes;
    assert.equal(route.access.auth.forward.path, '${AUTH_URL}');
  } finally {
    await edge.stop();
  }
});
