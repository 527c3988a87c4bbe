import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.ts';
import { loadConfigFile, parseConfig } from '../../src/config/load.ts';
import type { GatewayConfig } from '../../src/config/types.ts';
import { MINIMAL, SOURCE } from './config-fixture.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'candor-config-'));
  await mkdir(join(dir, 'tls'));
  for (const file of ['tls/cert.pem', 'tls/key.pem', 'tls/ca.pem']) await writeFile(join(dir, file), 'PEM\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const EVERY_FIELD = `name: edge-1
listen:
  - address: 127.0.0.1:\${PORT:-8080}
  - address: "[::1]:8443"
    tls: { cert: tls/cert.pem, key: tls/key.pem }
routes:
  - name: api
    match: { host: API.Example.com:443, path: /v1/ }
    upstream: api
    strip_prefix: true
    limits: { body: 1MiB }
  - match: { host: "*.example.com" }
    upstream: web
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
        weight: 3
      - url: https://api.internal
    balancer: least_conn
    pool: { max_connections: 16, idle_timeout: 1m }
    timeouts: { connect: 250ms, response: 1.5s, read: 2s, total: 5s }
    tls: { ca: tls/ca.pem, servername: api.internal, insecure_skip_verify: false }
  web:
    targets:
      - url: http://[::1]:3002
errors:
  expose_upstream_address: true
trust_forwarded_from: [10.0.0.0/8, "::1", 192.168.1.7]
limits:
  header_size: 16KiB
  uri_length: 4096
  header_timeout: 5s
  body_idle_timeout: 10s
  keep_alive_timeout: 2s
log:
  level: debug
  destination: logs/candor.log
`;

test('every field of a full config is read, converted to runtime units and resolved against the file', async () => {
  const file = join(dir, 'candor.yaml');
  await writeFile(file, EVERY_FIELD);
  const config = await loadConfigFile(file, { PORT: '9000' });
  const expected: GatewayConfig = {
    name: 'edge-1',
    source: file,
    listen: [
      { address: '127.0.0.1:9000', host: '127.0.0.1', port: 9000 },
      {
        address: '[::1]:8443',
        host: '::1',
        port: 8443,
        tls: { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem') },
      },
    ],
    routes: [
      {
        index: 0,
        name: 'api',
        host: 'api.example.com',
        path: '/v1',
        upstream: 'api',
        stripPrefix: true,
        limits: { body: 1024 * 1024 },
      },
      {
        index: 1,
        name: '*.example.com/',
        host: '*.example.com',
        path: '/',
        upstream: 'web',
        stripPrefix: false,
        limits: { body: 10 * 1024 * 1024 },
      },
    ],
    upstreams: {
      api: {
        name: 'api',
        targets: [
          {
            url: 'http://127.0.0.1:3001',
            protocol: 'http:',
            hostname: '127.0.0.1',
            port: 3001,
            origin: 'http://127.0.0.1:3001',
            weight: 3,
          },
          {
            url: 'https://api.internal',
            protocol: 'https:',
            hostname: 'api.internal',
            port: 443,
            origin: 'https://api.internal:443',
            weight: 1,
          },
        ],
        balancer: 'least_conn',
        pool: { maxConnections: 16, idleTimeout: 60_000 },
        timeouts: { connect: 250, response: 1_500, read: 2_000, total: 5_000 },
        tls: { ca: join(dir, 'tls/ca.pem'), servername: 'api.internal', insecureSkipVerify: false },
      },
      web: {
        name: 'web',
        targets: [
          {
            url: 'http://[::1]:3002',
            protocol: 'http:',
            hostname: '::1',
            port: 3002,
            origin: 'http://[::1]:3002',
            weight: 1,
          },
        ],
        balancer: 'round_robin',
        pool: { maxConnections: 128, idleTimeout: 30_000 },
        timeouts: { connect: 2_000, response: 30_000, read: 30_000, total: 60_000 },
        tls: { insecureSkipVerify: false },
      },
    },
    errors: { exposeUpstreamAddress: true },
    trustForwardedFrom: ['10.0.0.0/8', '::1', '192.168.1.7'],
    limits: {
      headerSize: 16 * 1024,
      uriLength: 4096,
      headerTimeout: 5_000,
      bodyIdleTimeout: 10_000,
      keepAliveTimeout: 2_000,
    },
    log: { level: 'debug', destination: join(dir, 'logs/candor.log') },
  };
  assert.deepEqual(config, expected);
});

test('a minimal config gets every default', () => {
  const config = parseConfig(MINIMAL, SOURCE, {});
  assert.deepEqual(config, {
    name: 'candor',
    source: SOURCE,
    listen: [{ address: '127.0.0.1:8080', host: '127.0.0.1', port: 8080 }],
    routes: [
      {
        index: 0,
        name: '/',
        path: '/',
        upstream: 'api',
        stripPrefix: false,
        limits: { body: 10 * 1024 * 1024 },
      },
    ],
    upstreams: {
      api: {
        name: 'api',
        targets: [
          {
            url: 'http://127.0.0.1:3001',
            protocol: 'http:',
            hostname: '127.0.0.1',
            port: 3001,
            origin: 'http://127.0.0.1:3001',
            weight: 1,
          },
        ],
        balancer: 'round_robin',
        pool: { maxConnections: 128, idleTimeout: 30_000 },
        timeouts: { connect: 2_000, response: 30_000, read: 30_000, total: 60_000 },
        tls: { insecureSkipVerify: false },
      },
    },
    errors: { exposeUpstreamAddress: false },
    trustForwardedFrom: [],
    limits: {
      headerSize: 32 * 1024,
      uriLength: 8 * 1024,
      headerTimeout: 10_000,
      bodyIdleTimeout: 30_000,
      keepAliveTimeout: 5_000,
    },
    log: { level: 'info', destination: 'stdout' },
  });
});

test('the loaded config is frozen all the way down', () => {
  const config = parseConfig(MINIMAL, SOURCE, {});
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.listen));
  assert.ok(Object.isFrozen(config.routes[0].limits));
  assert.ok(Object.isFrozen(config.upstreams));
  assert.ok(Object.isFrozen(config.upstreams.api.targets[0]));
  assert.ok(Object.isFrozen(config.upstreams.api.timeouts));
  assert.ok(Object.isFrozen(config.trustForwardedFrom));
  assert.throws(() => {
    (config.upstreams.api.timeouts as { connect: number }).connect = 1;
  }, TypeError);
});

test('a route path keeps "/" but loses any other trailing slash', () => {
  const text = MINIMAL.replace('  - upstream: api\n', '  - upstream: api\n    match: { path: /v1// }\n');
  assert.equal(parseConfig(text, SOURCE, {}).routes[0].path, '/v1');
});

test('a config file that cannot be read is one problem with no line', async () => {
  const file = join(dir, 'absent.yaml');
  await assert.rejects(loadConfigFile(file, {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      { file, line: 0, column: 0, path: '', message: `cannot read config file ${file}: no such file` },
    ]);
    return true;
  });
});
