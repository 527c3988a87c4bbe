import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KindGuard, type TSchema } from '@sinclair/typebox';
import { CONFIG_FIELD_PATHS, ConfigSchema } from '../../../src/core/config/schema.ts';

test('CONFIG_FIELD_PATHS lists every field of the file, nested ones included', () => {
  for (const path of [
    'name',
    'listen[].tls.cert',
    'routes[].match.path',
    'routes[].limits.body',
    'upstreams.*.targets[].weight',
    'upstreams.*.targets[].priority',
    'upstreams.*.timeouts.connect',
    'upstreams.*.tls.insecure_skip_verify',
    'trust_forwarded_from',
    'limits.keep_alive_timeout',
    'listen[].http2',
    'listen[].client_certificates_from',
    'limits.http2.max_client_resets',
    'log.destination',
    'metrics.listen',
    'admin.token_file',
    'paths.merge_slashes',
    'routes[].allow_encoded_slashes',
    'acme.directory',
    'listen[].tls.acme.names',
    'listen[].name',
    'routes[].match.listener',
    'routes[].match.scheme',
    'routes[].canary.latency_p99_factor',
    'routes[].canary.baseline_max_failed_percent',
    'routes[].auth.jwt.require_exp',
    'routes[].auth.jwt.bound_tokens',
    'routes[].auth.oidc.cookie.secret_env',
    'routes[].auth.oidc.store.redis.url',
    'state_dir',
    'routes[].static.root',
    'routes[].static.precompressed',
    'acme.dns01.tsig.secret_env',
    'routes[].timeouts.response',
    'route_defaults.timeouts.connect',
    'upstreams.*.timeouts.send',
    'routes[].timeouts.send',
    'route_defaults.timeouts.send',
  ]) {
    assert.ok(CONFIG_FIELD_PATHS.includes(path), path);
  }
  assert.equal(CONFIG_FIELD_PATHS.length, new Set(CONFIG_FIELD_PATHS).size);
  // 381, and routes[].timeouts and route_defaults.timeouts with their six keys each, routes[].auth.jwt.bound_tokens
  // and routes[].auth.oidc.jwks_min_refresh; timeouts.tunnel_half_closed at its three levels;
  // upstreams.*.tls.crl; timeouts.send at its three levels; routes[].auth.oidc.claims_to_headers.
  assert.equal(CONFIG_FIELD_PATHS.length, 407);
});

test('every field says what it expects, so no message falls back to the validator wording', () => {
  const missing: string[] = [];
  const visit = (schema: TSchema, path: string) => {
    if (typeof schema.expected !== 'string') missing.push(path || '(root)');
    if (KindGuard.IsArray(schema)) visit(schema.items, `${path}[]`);
    else if (KindGuard.IsRecord(schema)) visit(Object.values(schema.patternProperties)[0], `${path}.*`);
    else if (KindGuard.IsObject(schema)) {
      for (const [key, child] of Object.entries(schema.properties))
        visit(child, path ? `${path}.${key}` : key);
    }
  };
  visit(ConfigSchema, '');
  assert.deepEqual(missing, []);
});
