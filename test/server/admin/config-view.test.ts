/**
 * `GET /config` holds no secret, as docs/operations.md says: a password in `store.redis.url`
 * (`redis://:${REDIS_PASSWORD}@…`, the docs' own example) or in `tracing.otlp_endpoint` is shown
 * as `***`, never in clear, to whoever holds the admin token (a dashboard, a support bundle).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'config-secrets-token-0123456789abcdef';
let serve: ServeProcess | undefined;
after(async () => {
  await serve?.stop();
});

test('GET /config shows a URL password as ***, never in clear; the rest of the URL as written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-config-secrets-'));
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
