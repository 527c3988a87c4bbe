import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
import { loadConfigFile, parseConfig } from '../../../src/core/config/load.ts';
import type { GatewayConfig } from '../../../src/core/config/types.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { MINIMAL, SOURCE } from './config-fixture.ts';

let dir: string;

before(async () => {
  dir = tempDir('candor-config-');
  await mkdir(join(dir, 'tls'));
  // Real PEM files: the loader checks that a certificate goes with its key.
  const { localhost, ca } = testCertificates();
  const files = { 'tls/cert.pem': localhost.cert, 'tls/key.pem': localhost.key, 'tls/ca.pem': ca };
  for (const [file, pem] of Object.entries(files)) await writeFile(join(dir, file), pem);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const EVERY_FIELD = `name: edge-1
state_dir: state
listen:
  - address: 127.0.0.1:\${PORT:-8080}
  - address: "[::1]:8443"
    tls: { cert: tls/cert.pem, key: tls/key.pem }
    http2: true
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
  http2: { max_concurrent_streams: 50, max_session_memory: 2MiB, flood_window: 5s, idle_timeout: 1m }
log:
  level: debug
  destination: logs/candor.log
drain:
  delay: 0s
  timeout: 10s
`;

test('every field of a full config is read, converted to runtime units and resolved against the file', async () => {
  const file = join(dir, 'candor.yaml');
  await writeFile(file, EVERY_FIELD);
  const config = await loadConfigFile(file, { PORT: '9000' });
  const expected: GatewayConfig = {
    name: 'edge-1',
    source: file,
    listen: [
      {
        name: '127.0.0.1:9000',
        address: '127.0.0.1:9000',
        host: '127.0.0.1',
        port: 9000,
        maxConnections: 10_000,
        http2: false,
        clientCertificatesFrom: 'handshake',
      },
      {
        name: '[::1]:8443',
        address: '[::1]:8443',
        host: '::1',
        port: 8443,
        maxConnections: 10_000,
        http2: true,
        clientCertificatesFrom: 'handshake',
        tls: {
          cert: join(dir, 'tls/cert.pem'),
          key: join(dir, 'tls/key.pem'),
          certificates: [],
          minVersion: 'TLSv1.2',
          allowMisdirected: false,
        },
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
        allowEncodedSlashes: false,
        limits: { body: 1024 * 1024, buffer: 1024 * 1024 },
        requestBuffering: true,
        retryIdempotencyKey: false,
      },
      {
        index: 1,
        name: '*.example.com/',
        host: '*.example.com',
        path: '/',
        upstream: 'web',
        stripPrefix: false,
        allowEncodedSlashes: false,
        limits: { body: 10 * 1024 * 1024, buffer: 1024 * 1024 },
        requestBuffering: true,
        retryIdempotencyKey: false,
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
            priority: 0,
          },
          {
            url: 'https://api.internal',
            protocol: 'https:',
            hostname: 'api.internal',
            port: 443,
            origin: 'https://api.internal:443',
            weight: 1,
            priority: 0,
          },
        ],
        balancer: 'least_conn',
        hashKey: { kind: 'client' },
        protocol: 'http1',
        pool: {
          maxConnections: 16,
          idleTimeout: 60_000,
          maxPending: 1024,
          queueTimeout: 2_000,
          maxStreams: 100,
        },
        timeouts: {
          connect: 250,
          response: 1_500,
          read: 2_000,
          send: 30_000,
          total: 5_000,
          totalIncludesBody: false,
          tunnelIdle: 3_600_000,
          tunnelHalfClosed: 30_000,
        },
        tls: { ca: join(dir, 'tls/ca.pem'), servername: 'api.internal', insecureSkipVerify: false },
        ...resilienceDefaults(1_500),
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
            priority: 0,
          },
        ],
        balancer: 'round_robin',
        hashKey: { kind: 'client' },
        protocol: 'http1',
        pool: {
          maxConnections: 128,
          idleTimeout: 30_000,
          maxPending: 1024,
          queueTimeout: 2_000,
          maxStreams: 100,
        },
        timeouts: {
          connect: 2_000,
          response: 30_000,
          read: 30_000,
          send: 30_000,
          total: 60_000,
          totalIncludesBody: false,
          tunnelIdle: 3_600_000,
          tunnelHalfClosed: 30_000,
        },
        tls: { insecureSkipVerify: false },
        ...resilienceDefaults(30_000),
      },
    },
    errors: { exposeUpstreamAddress: true, detail: 'full', pages: {}, pageFiles: {} },
    paths: { normalize: true, mergeSlashes: true },
    stateDir: join(dir, 'state'),
    trustForwardedFrom: ['10.0.0.0/8', '::1', '192.168.1.7'],
    limits: {
      headerSize: 16 * 1024,
      uriLength: 4096,
      headerTimeout: 5_000,
      bodyIdleTimeout: 10_000,
      bodyReadTimeout: 10_000,
      bodyMinRate: 1024,
      sendTimeout: 30_000,
      keepAliveTimeout: 2_000,
      spool: DEFAULTS.limits.spool,
      bufferTotal: DEFAULTS.limits.bufferTotal,
      spoolDir: join(tmpdir(), 'candor-spool'),
      http2: {
        ...DEFAULTS.limits.http2,
        maxConcurrentStreams: 50,
        maxSessionMemory: 2 * 1024 * 1024,
        floodWindow: 5_000,
        idleTimeout: 60_000,
      },
    },
    log: { level: 'debug', destination: join(dir, 'logs/candor.log') },
    drain: { delay: 0, timeout: 10_000 },
    // The listen address's ${PORT:-8080}, taken from the environment: GET /config shows ${PORT}.
    fromEnvironment: [{ name: 'PORT', value: '9000' }],
  };
  assert.deepEqual(config, expected);
});

test('a minimal config gets every default', () => {
  const config = parseConfig(MINIMAL, SOURCE, {});
  assert.deepEqual(config, {
    name: 'candor',
    source: SOURCE,
    listen: [
      {
        name: '127.0.0.1:8080',
        address: '127.0.0.1:8080',
        host: '127.0.0.1',
        port: 8080,
        maxConnections: 10_000,
        http2: false,
        clientCertificatesFrom: 'handshake',
      },
    ],
    routes: [
      {
        index: 0,
        name: '/',
        path: '/',
        upstream: 'api',
        stripPrefix: false,
        allowEncodedSlashes: false,
        limits: { body: 10 * 1024 * 1024, buffer: 1024 * 1024 },
        requestBuffering: true,
        retryIdempotencyKey: false,
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
            priority: 0,
          },
        ],
        balancer: 'round_robin',
        hashKey: { kind: 'client' },
        protocol: 'http1',
        pool: {
          maxConnections: 128,
          idleTimeout: 30_000,
          maxPending: 1024,
          queueTimeout: 2_000,
          maxStreams: 100,
        },
        timeouts: {
          connect: 2_000,
          response: 30_000,
          read: 30_000,
          send: 30_000,
          total: 60_000,
          totalIncludesBody: false,
          tunnelIdle: 3_600_000,
          tunnelHalfClosed: 30_000,
        },
        tls: { insecureSkipVerify: false },
        ...resilienceDefaults(30_000),
      },
    },
    errors: { exposeUpstreamAddress: false, detail: 'full', pages: {}, pageFiles: {} },
    paths: { normalize: true, mergeSlashes: true },
    // systemd's StateDirectory=, else XDG's state folder.
    stateDir:
      process.env.STATE_DIRECTORY?.split(':')[0] ||
      join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'candor'),
    trustForwardedFrom: [],
    limits: {
      headerSize: 32 * 1024,
      uriLength: 8 * 1024,
      headerTimeout: 10_000,
      bodyIdleTimeout: 30_000,
      bodyReadTimeout: 10_000,
      bodyMinRate: 1024,
      sendTimeout: 30_000,
      keepAliveTimeout: 5_000,
      spool: { maxResponse: 1024 ** 3, maxTotal: 4 * 1024 ** 3 },
      bufferTotal: 256 * 1024 ** 2,
      spoolDir: join(tmpdir(), 'candor-spool'),
      http2: {
        maxConcurrentStreams: 100,
        maxHeaderListSize: 32 * 1024,
        maxHeaderFields: 128,
        headerTableSize: 4 * 1024,
        maxSessionMemory: 10 * 1024 * 1024,
        connectionBuffer: 4 * 1024 * 1024,
        maxInvalidFrames: 100,
        maxRejectedStreams: 100,
        floodWindow: 10_000,
        maxClientResets: 200,
        maxPings: 100,
        maxSettingsFrames: 100,
        maxRequests: 100_000,
        sendTimeout: 30_000,
        idleTimeout: 75_000,
      },
    },
    log: { level: 'info', destination: 'stdout' },
    drain: { delay: 0, timeout: 30_000 },
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

// They were told as errno codes: "cannot read config file /etc/candor/candor.yaml: ENOTDIR".
test('a path through a file, or a loop of links, is said in words, for the main file and an included one', async () => {
  const file = join(dir, 'plain.yaml');
  await writeFile(file, MINIMAL);
  const loop = join(dir, 'loop-a.yaml');
  await symlink(join(dir, 'loop-b.yaml'), loop);
  await symlink(loop, join(dir, 'loop-b.yaml'));
  const messages = async (path: string) => {
    try {
      await loadConfigFile(path, {});
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems.map((p) => p.message);
    }
    assert.fail('the config loaded');
  };
  assert.deepEqual(await messages(`${file}/`), [
    `cannot read config file ${file}: a name on its path is a file, not a folder`,
  ]);
  assert.deepEqual(await messages(loop), [
    `cannot read config file ${loop}: too many symbolic links on its path (links that point at each other?)`,
  ]);
  const main = join(dir, 'with-loop.yaml');
  await writeFile(main, `include: [loop-a.yaml]\n${MINIMAL}`);
  assert.deepEqual(await messages(main), [
    `cannot read ${loop}: too many symbolic links on its path (links that point at each other?)`,
  ]);
});

test('a file past 4 MiB is refused once that much is read, never read whole; /dev/zero (no end) unread', async () => {
  const big = join(dir, 'big.yaml');
  await writeFile(big, `# ${'x'.repeat(4 * 1024 * 1024)}\n`);
  const refusals = [
    [big, 'more than 4 MiB: no config is that large (one using every field is a few KiB)'],
    [
      '/dev/zero',
      'not a regular file but a character device: a config is read from a file, and again at each reload; write it to one and name that',
    ],
  ] as const;
  for (const [file, reason] of refusals)
    await assert.rejects(loadConfigFile(file, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        { file, line: 0, column: 0, path: '', message: `cannot read config file ${file}: ${reason}` },
      ]);
      return true;
    });
});

/** The resilience settings every upstream gets when the file says nothing of them. */
function resilienceDefaults(responseTimeout: number) {
  return {
    slowStart: 0,
    panicThreshold: 50,
    outlierDetection: {
      consecutiveFailures: 5,
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectedPercent: 10,
    },
    circuitBreaker: { consecutiveFailures: 20, openTime: 5_000, halfOpenRequests: 1 },
    retries: {
      attempts: 2,
      on: [
        'dns_error',
        'dns_timeout',
        'connection_refused',
        'destination_ip_unroutable',
        'connection_timeout',
        'tls_protocol_error',
        'tls_certificate_error',
        'tls_alert_received',
        'connection_terminated',
        'http_response_timeout',
      ],
      perTryTimeout: responseTimeout,
      backoffBase: 25,
      backoffMax: 250,
      budgetRatio: 0.2,
      budgetMinConcurrent: 3,
      budgetMinPerSecond: 10,
      replayBody: 64 * 1024,
    },
  };
}

test('resilience settings: health checks, ejection, circuit, retries, queues, shedding, maintenance, rate limits', () => {
  const config = parseConfig(
    `listen:
  - address: 127.0.0.1:8080
    max_in_flight: 5000
routes:
  - match: { path: / }
    upstream: api
    max_in_flight: 100
    maintenance: { retry_after: 90s, message: Back soon }
    rate_limit: { rate: 10, burst: 20, key: "header:X-Api-Key" }
    retry_idempotency_key: true
upstreams:
  api:
    targets: [{ url: "http://127.0.0.1:3001" }]
    pool: { max_pending: 10, queue_timeout: 250ms }
    health_check: { path: /healthz, expect_status: "200-299, 304", interval: 1s, timeout: 500ms, rise: 3, fall: 2, host: api.internal }
    slow_start: 20s
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 3, base_ejection_time: 1s, max_ejection_time: 10s, max_ejected_percent: 50 }
    circuit_breaker: { consecutive_failures: 10, open_time: 2s, half_open_requests: 2 }
    retries: { attempts: 3, on: [connection_refused], per_try_timeout: 1s, backoff: { base: 10ms, max: 100ms }, budget: { ratio: 0.5, min_concurrent: 1, min_per_second: 2.5 }, replay_body: 1KiB }
    maintenance: { retry_after: 1m }
`,
    SOURCE,
    {},
  );
  assert.equal(config.listen[0].maxInFlight, 5000);
  const route = config.routes[0];
  assert.equal(route.maxInFlight, 100);
  assert.deepEqual(route.maintenance, { retryAfter: 90, message: 'Back soon' });
  assert.deepEqual(route.rateLimit, {
    rate: 10,
    burst: 20,
    key: { kind: 'header', name: 'x-api-key' },
    ipv6Prefix: 64,
  });
  assert.equal(route.retryIdempotencyKey, true);
  const api = config.upstreams.api;
  assert.deepEqual(api.pool, {
    maxConnections: 128,
    idleTimeout: 30_000,
    maxPending: 10,
    queueTimeout: 250,
    maxStreams: 100,
  });
  assert.deepEqual(api.healthCheck, {
    method: 'GET',
    path: '/healthz',
    host: 'api.internal',
    expectStatus: [
      [200, 299],
      [304, 304],
    ],
    interval: 1_000,
    timeout: 500,
    rise: 3,
    fall: 2,
  });
  assert.equal(api.slowStart, 20_000);
  assert.equal(api.panicThreshold, 0);
  assert.deepEqual(api.outlierDetection, {
    consecutiveFailures: 3,
    baseEjectionTime: 1_000,
    maxEjectionTime: 10_000,
    maxEjectedPercent: 50,
  });
  assert.deepEqual(api.circuitBreaker, { consecutiveFailures: 10, openTime: 2_000, halfOpenRequests: 2 });
  assert.deepEqual(api.retries, {
    attempts: 3,
    on: ['connection_refused'],
    perTryTimeout: 1_000,
    backoffBase: 10,
    backoffMax: 100,
    budgetRatio: 0.5,
    budgetMinConcurrent: 1,
    budgetMinPerSecond: 2.5,
    replayBody: 1024,
  });
  assert.deepEqual(api.maintenance, { retryAfter: 60, message: 'This service is down for maintenance.' });
});

test('resilience settings are checked like the rest', () => {
  assert.throws(
    () =>
      parseConfig(
        `listen: [{ address: "127.0.0.1:8080" }]
routes: [{ match: { path: / }, upstream: api, rate_limit: { rate: 0, key: "cookie:x" } }]
upstreams:
  api:
    targets: [{ url: "http://127.0.0.1:3001" }]
    health_check: { expect_status: "2xx" }
    retries: { on: [destination_not_found] }
`,
        SOURCE,
        {},
      ),
    (err: Error & { problems?: { path: string; message: string }[] }) => {
      const paths = (err.problems ?? []).map((p) => p.path);
      assert.ok(paths.includes('routes[0].rate_limit.rate'), paths.join());
      assert.ok(paths.includes('routes[0].rate_limit.key'), paths.join());
      assert.ok(paths.includes('upstreams.api.health_check.expect_status'), paths.join());
      assert.ok(
        paths.some((p) => p.startsWith('upstreams.api.retries.on')),
        paths.join(),
      );
      return true;
    },
  );
});

test('an expect_status range wholly of 1xx is refused: a probe ends on a final status, never on one of those', () => {
  for (const [text, range] of [
    ['100-199', '100-199'],
    ['200-299, 101', '101'],
  ] as const) {
    assert.throws(
      () =>
        parseConfig(
          `listen: [{ address: "127.0.0.1:8080" }]
routes: [{ match: { path: / }, upstream: api }]
upstreams:
  api:
    targets: [{ url: "http://127.0.0.1:3001" }]
    health_check: { expect_status: "${text}" }
`,
          SOURCE,
          {},
        ),
      (err: Error & { problems?: { path: string; message: string }[] }) => {
        const problem = (err.problems ?? []).find(
          (p) => p.path === 'upstreams.api.health_check.expect_status',
        );
        assert.ok(problem, JSON.stringify(err.problems));
        assert.match(problem.message, new RegExp(`the range ${range} matches no probe's answer`));
        return true;
      },
    );
  }
  // A range reaching past 1xx is the statuses it names from 200 on.
  const config = parseConfig(
    `listen: [{ address: "127.0.0.1:8080" }]
routes: [{ match: { path: / }, upstream: api }]
upstreams:
  api:
    targets: [{ url: "http://127.0.0.1:3001" }]
    health_check: { expect_status: "100-299" }
`,
    SOURCE,
    {},
  );
  assert.deepEqual(config.upstreams.api.healthCheck?.expectStatus, [[100, 299]]);
});
