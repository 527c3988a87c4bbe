/**
 * The DEFAULT column of the config reference (docs/configuration.md), row by row, is what a
 * minimal config loads: each section is switched on with only its required fields, the file is
 * loaded as `candor check` loads it, and the normalised value (milliseconds, bytes) is compared
 * with the cell. A default written as a value (`` `30s` ``, `` `[br, gzip]` ``) is read from the
 * markdown; one written as prose ("the upstream's", "none") is in PROSE below, with what it means
 * in the loaded config or why nothing there can show it. A row that is in neither fails, so a
 * new row is seen here; a cell and the code that part ways fail naming the row and both values.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/core/config/load.ts';
import type { GatewayConfig } from '../../src/core/config/types.ts';
import { parseDuration, parseSize } from '../../src/core/config/units.ts';
import { docsSection } from '../helpers/docs-text.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../..');
/** Relative paths (certificates, the JWKS) are read from docs/examples/, beside the complete example. */
const SOURCE = join(ROOT, 'docs/examples/minimal-defaults.yaml');
const cacheDir = tempDir('candor-defaults-');

/**
 * Every section on, each with its required fields only: listen[1] has TLS, client certificates
 * and a PROXY header; routes[0] every route feature an upstream route has; the others each an
 * auth kind, a redirect, static files, a disk cache, a split; then a route with an IP list and no
 * auth, forward auth without its cache, OIDC without its store (where those defaults, off, show);
 * upstreams.u health checks, hold and maintenance; upstreams.c discovery.
 */
const MINIMAL = `
listen:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:1
    tls: { cert: certs/edge.pem, key: certs/edge-key.pem, client_certificates: { ca: certs/clients-ca.pem } }
    proxy_protocol: { from: [10.0.0.0/8] }
routes:
  - upstream: u
    canary: { upstream: c }
    maintenance: {}
    rate_limit: { rate: 10 }
    compression: {}
    cache: {}
    cors: { origins: ["https://a.example"] }
    auth: { jwt: { keys_file: jwks.json } }
  - match: { path: /f }
    upstream: u
    auth: { forward: { upstream: u, cache: { key: "header:Authorization" } } }
  - match: { host: o.example }
    upstream: u
    auth:
      oidc: { issuer: "https://id.example", client_id: x, cookie: { secret_env: S }, store: { redis: { url: "redis://127.0.0.1:6379" } } }
  - match: { path: /r }
    redirect: { location: "https://x.example/" }
  - match: { path: /s }
    static: { root: site }
  - match: { path: /b }
    upstream: u
    auth: { basic: { users_file: users.htpasswd }, client_certificate: {} }
  - match: { path: /d }
    upstream: u
    cache: { dir: ${JSON.stringify(cacheDir)} }
  - match: { path: /p }
    redirect: { port: 8443 }
  - match: { path: /h, scheme: http }
    redirect: { scheme: https }
  - match: { path: /w }
    split: [{ upstream: u }, { upstream: c }]
  - match: { path: /a }
    upstream: u
    deny: [192.0.2.1]
  - match: { path: /g }
    upstream: u
    auth: { forward: { url: "http://127.0.0.1:2" } }
  - match: { host: p.example }
    upstream: u
    auth: { oidc: { issuer: "https://id.example", client_id: x, cookie: { secret_env: S } } }
upstreams:
  u:
    targets: [{ url: "http://127.0.0.1:1" }]
    health_check: {}
    hold: {}
    maintenance: {}
  c:
    discovery: { dns: c.example, port: 80 }
plugins:
  p: { module: ./plugins/ab-cookie.ts }
store: { redis: { url: "redis://127.0.0.1:6379" } }
limits: { per_client: {} }
admin: { token_env: T }
metrics: { listen: "127.0.0.1:9464" }
tracing: { otlp_endpoint: "http://127.0.0.1:4318/v1/traces" }
`;
/** ACME's and DNS-01's defaults: a listener whose certificates are all ordered. */
const MINIMAL_ACME = `
listen:
  - address: 127.0.0.1:1
    tls: { acme: { names: ["*.example.com"] } }
routes: [{ upstream: u }]
upstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }
acme:
  dns01: { server: "127.0.0.1:53", zone: example.com, tsig: { name: k, secret_env: K } }
`;
/** A listener with `tls.acme` and no `acme` section: Let's Encrypt's defaults. */
const MINIMAL_ACME_HTTP = `
listen:
  - address: 127.0.0.1:1
    tls: { acme: { names: [shop.example.com] } }
routes: [{ upstream: u }]
upstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }
`;
/** Nothing but what is required: where a section's own default (off, none) is read. */
const BARE =
  'listen: [{ address: "127.0.0.1:0" }]\nroutes: [{ upstream: u }]\nupstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }\n';
const ENV = { T: 'admin-token-0123456789', S: 's'.repeat(40), K: 'c2VjcmV0LW9mLXRoZS1leGFtcGxlLWtleQ==' };

const config = parseConfig(MINIMAL, SOURCE, ENV, { secrets: 'may-be-absent' });
const acmeConfig = parseConfig(MINIMAL_ACME, SOURCE, ENV, { secrets: 'may-be-absent' });
const acmeHttpConfig = parseConfig(MINIMAL_ACME_HTTP, SOURCE, ENV, { secrets: 'may-be-absent' });
const bare = parseConfig(BARE, SOURCE, ENV);

/**
 * Where the loaded config keeps a field that is not its camelCase path (docs path prefix → loaded
 * path prefix, the longest first). Routes hold their access policy under `access`.
 */
const RENAMED: readonly [string, string][] = [
  ['routes[].match.path', 'routes[].path'],
  ['routes[].auth.oidc.cookie.name', 'routes[].access.auth.oidc.cookieName'],
  ['routes[].auth.forward_authorization', 'routes[].access.auth.forwardAuthorization'],
  ['routes[].auth', 'routes[].access.auth'],
  ['routes[].cors', 'routes[].access.cors'],
  ['upstreams.*.retries.backoff.base', 'upstreams.*.retries.backoffBase'],
  ['upstreams.*.retries.backoff.max', 'upstreams.*.retries.backoffMax'],
  ['upstreams.*.retries.budget.ratio', 'upstreams.*.retries.budgetRatio'],
  ['upstreams.*.retries.budget.min_concurrent', 'upstreams.*.retries.budgetMinConcurrent'],
  ['upstreams.*.retries.budget.min_per_second', 'upstreams.*.retries.budgetMinPerSecond'],
  ['admin.listen', 'admin.address'],
];

const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * The loaded values of a docs field, one for each place that holds its parent mapping (each item
 * of a list, `[]`, or map, `*`: routes[0] has no `static`, routes[4] does): its path renamed and
 * camelCased. A field absent at a place is `undefined` there.
 */
function placesOf(from: GatewayConfig, field: string): unknown[] {
  const [prefix, to] = RENAMED.find(([docs]) => field === docs || field.startsWith(`${docs}.`)) ?? ['', ''];
  const path = prefix === '' ? field : to + field.slice(prefix.length);
  const segments = path
    .split('.')
    .flatMap((segment) => segment.split(/(?=\[\])/))
    .map(camel);
  const walk = (node: unknown, at: number): unknown[] => {
    if (node === null || typeof node !== 'object') return [];
    const segment = segments[at];
    if (segment === '[]' || segment === '*') return Object.values(node).flatMap((item) => walk(item, at + 1));
    const child = (node as Record<string, unknown>)[segment];
    return at === segments.length - 1 ? [child] : walk(child, at + 1);
  };
  return walk(from, 0);
}

const isNone = (value: unknown): boolean =>
  value === undefined ||
  (Array.isArray(value) && value.length === 0) ||
  (value !== null && typeof value === 'object' && Object.keys(value).length === 0);

type Check = { readonly expect: (config: GatewayConfig) => void } | { readonly unseen: string };

/**
 * Rows whose default is prose. `expect`: what the loaded config holds for it (read in the
 * minimal config); `unseen`: why the loaded config cannot show it (a required field, a choice
 * made at run time). "none", "off", "any", "no limit" and their kin are checked to load as
 * absent or empty, in NONE.
 */
const PROSE: Readonly<Record<string, Check>> = {
  listen: { unseen: 'required' },
  'listen[].name': { expect: (c) => assert.equal(c.listen[0].name, c.listen[0].address) },
  'listen[].address': { unseen: 'required' },
  'listen[].tls.cert': { unseen: 'required with tls' },
  'listen[].tls.key': { unseen: 'required with cert' },
  'listen[].tls.certificates[].cert': { unseen: 'required' },
  'listen[].tls.certificates[].key': { unseen: 'required' },
  'listen[].tls.acme.names': { unseen: 'required with acme' },
  'listen[].tls.client_certificates.ca': { unseen: 'required with client_certificates' },
  'listen[].proxy_protocol.from': { unseen: 'required' },
  routes: { unseen: 'required' },
  // `<host><path>`: the match written, host first.
  'routes[].name': {
    expect: (c) => assert.deepEqual([c.routes[0].name, c.routes[2].name], ['/', 'o.example/']),
  },
  'routes[].match': { expect: (c) => assert.equal(c.routes[0].path, '/') },
  // No condition but the path: the loaded route has none.
  'routes[].match.listener': { expect: (c) => assert.equal(c.routes[0].conditions, undefined) },
  'routes[].match.scheme': { expect: (c) => assert.equal(c.routes[0].conditions, undefined) },
  'routes[].match.host': { expect: (c) => assert.equal(c.routes[0].host, undefined) },
  'routes[].match.methods': { expect: (c) => assert.equal(c.routes[0].conditions, undefined) },
  'routes[].match.headers': { expect: (c) => assert.equal(c.routes[0].conditions, undefined) },
  'routes[].match.query': { expect: (c) => assert.equal(c.routes[0].conditions, undefined) },
  'routes[].request_headers.set': { expect: (c) => assert.equal(c.routes[0].requestHeaders, undefined) },
  'routes[].request_headers.add': { expect: (c) => assert.equal(c.routes[0].requestHeaders, undefined) },
  'routes[].request_headers.remove': { expect: (c) => assert.equal(c.routes[0].requestHeaders, undefined) },
  'routes[].response_headers.set': { expect: (c) => assert.equal(c.routes[0].responseHeaders, undefined) },
  'routes[].response_headers.add': { expect: (c) => assert.equal(c.routes[0].responseHeaders, undefined) },
  'routes[].response_headers.remove': { expect: (c) => assert.equal(c.routes[0].responseHeaders, undefined) },
  // `1GiB` (with `dir`): read on the route that has one.
  'routes[].cache.max_disk': {
    expect: (c) => {
      assert.equal(c.routes[6].cache?.maxDisk, 1024 ** 3);
      assert.equal(c.routes[0].cache?.maxDisk, undefined);
    },
  },
  // The reference's own words: these four are always added to the route's (none) list.
  'routes[].cors.expose_headers': {
    expect: (c) =>
      assert.deepEqual(c.routes[0].access?.cors?.exposeHeaders, [
        'Proxy-Status',
        'X-Request-Id',
        'Retry-After',
        'WWW-Authenticate',
      ]),
  },
  // `[http-01, tls-alpn-01]`; `[dns-01]` with `dns01`.
  'acme.challenges': {
    expect: () => {
      assert.deepEqual(acmeHttpConfig.acme?.challenges, ['http-01', 'tls-alpn-01']);
      assert.deepEqual(acmeConfig.acme?.challenges, ['dns-01']);
    },
  },
  'routes[].upstream': { unseen: 'required unless redirect, split or static' },
  'routes[].split[].upstream': { unseen: 'required' },
  'routes[].canary.upstream': { unseen: 'required' },
  'routes[].canary.check_interval': {
    expect: (c) =>
      assert.equal(c.routes[0].canary?.checkInterval, (c.routes[0].canary?.stepInterval ?? 0) / 4),
  },
  'routes[].canary.compare': {
    expect: (c) =>
      assert.deepEqual(c.routes[0].canary?.compare, [
        'unreachable',
        'slow',
        'reset',
        'garbage',
        'status_5xx',
        'gateway',
        'latency',
        'latency_p99',
      ]),
  },
  'routes[].rewrite.prefix': { unseen: 'one of prefix, regex (—)' },
  'routes[].rewrite.regex': { unseen: 'one of prefix, regex (—)' },
  'routes[].rewrite.replace': { unseen: 'required with regex' },
  'routes[].redirect.location': { unseen: 'one of location, scheme/port (—)' },
  // The client's scheme; the scheme's default port (the client's if the scheme stays): nothing loaded.
  'routes[].redirect.scheme': {
    expect: (c) => assert.deepEqual(c.routes[7].redirect, { kind: 'origin', port: 8443, status: 308 }),
  },
  'routes[].redirect.port': {
    expect: (c) => assert.deepEqual(c.routes[8].redirect, { kind: 'origin', scheme: 'https', status: 308 }),
  },
  'routes[].static.root': { unseen: 'required' },
  'routes[].limits': { unseen: 'a section (—): its fields have rows' },
  'routes[].timeouts': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.connect': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.response': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.read': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.send': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.tunnel_idle': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.tunnel_half_closed': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.total': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].timeouts.total_includes_body': { expect: (c) => assert.equal(c.routes[0].timeouts, undefined) },
  'routes[].rate_limit.rate': { unseen: 'required with rate_limit' },
  // `rate` rounded up: 10 a second, a burst of 10.
  'routes[].rate_limit.burst': { expect: (c) => assert.equal(c.routes[0].rateLimit?.burst, 10) },
  'routes[].compression.types': {
    expect: (c) => assert.deepEqual(c.routes[0].compression?.types, listed('routes[].compression.types')),
  },
  'routes[].cors.origins': { unseen: 'required with cors' },
  'routes[].auth.basic.users_file': { unseen: 'required with basic' },
  'routes[].auth.jwt.jwks_url': { unseen: 'one of jwks_url, keys_file' },
  'routes[].auth.jwt.keys_file': { unseen: 'one of jwks_url, keys_file' },
  'routes[].auth.forward.url': { unseen: 'one of url, upstream' },
  'routes[].auth.forward.upstream': { unseen: 'one of url, upstream' },
  'routes[].auth.forward.cache.key': { unseen: 'required with cache' },
  'routes[].auth.oidc.issuer': { unseen: 'required' },
  'routes[].auth.oidc.client_id': { unseen: 'required' },
  'routes[].auth.oidc.cookie': { unseen: 'required' },
  'routes[].auth.oidc.cookie.secret_env': { unseen: 'required' },
  'routes[].auth.oidc.store.redis': { unseen: 'required with store' },
  'routes[].auth.oidc.store.redis.url': { unseen: 'required' },
  upstreams: { unseen: 'required unless every route redirects' },
  'upstreams.*.targets': { expect: (c) => assert.deepEqual(c.upstreams.c.targets, []) },
  'upstreams.*.targets[].url': { unseen: 'required' },
  'upstreams.*.discovery.dns': { unseen: 'required with discovery' },
  'upstreams.*.discovery.port': { unseen: 'required with A/AAAA' },
  // The system's resolvers: none of the config's own.
  'upstreams.*.discovery.resolvers': {
    expect: (c) => assert.deepEqual(c.upstreams.c.discovery?.resolvers, []),
  },
  'upstreams.*.health_check.host': {
    expect: (c) => assert.equal(c.upstreams.u.healthCheck?.host, undefined),
  },
  'upstreams.*.slow_start': { expect: (c) => assert.equal(c.upstreams.u.slowStart, 0) },
  'upstreams.*.pool': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.outlier_detection': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.circuit_breaker': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.retries': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.retries.backoff': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.retries.budget': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.timeouts': { unseen: 'a section (—): its fields have rows' },
  'upstreams.*.tls': { unseen: 'a section (—): its fields have rows' },
  // `timeouts.response`.
  'upstreams.*.retries.per_try_timeout': {
    expect: (c) => assert.equal(c.upstreams.u.retries.perTryTimeout, c.upstreams.u.timeouts.response),
  },
  'upstreams.*.tls.servername': { expect: (c) => assert.equal(c.upstreams.u.tls.servername, undefined) },
  'upstreams.*.tls.ca': { expect: (c) => assert.equal(c.upstreams.u.tls.ca, undefined) },
  // Let's Encrypt's defaults when a listener has tls.acme: read in MINIMAL_ACME.
  acme: { expect: () => assert.ok(acmeConfig.acme) },
  'acme.ca': { expect: () => assert.equal(acmeConfig.acme?.ca, undefined) },
  'acme.renew_before': { expect: () => assert.equal(acmeConfig.acme?.renewBefore, undefined) },
  'acme.storage': {
    expect: () =>
      assert.equal(
        acmeConfig.acme?.storage,
        join(process.env.XDG_DATA_HOME || join(process.env.HOME ?? '', '.local/share'), 'candor/acme'),
      ),
  },
  'acme.dns01.server': { unseen: 'required with dns01' },
  'acme.dns01.zone': { unseen: 'required with dns01' },
  'acme.dns01.tsig': { unseen: 'required with dns01' },
  'acme.dns01.tsig.name': { unseen: 'required' },
  'acme.dns01.tsig.secret_env': { unseen: 'required' },
  'acme.dns01.nameservers': { expect: () => assert.equal(acmeConfig.acme?.dns01?.nameservers, undefined) },
  'plugins.*.module': { unseen: 'required' },
  state_dir: {
    expect: (c) =>
      assert.equal(
        c.stateDir,
        process.env.STATE_DIRECTORY?.split(':')[0] ||
          join(process.env.XDG_STATE_HOME || join(process.env.HOME ?? '', '.local/state'), 'candor'),
      ),
  },
  'store.redis': { unseen: 'required with store' },
  'store.redis.url': { unseen: 'required' },
  errors: { unseen: 'a section (—): its fields have rows' },
  paths: { unseen: 'a section (—): its fields have rows' },
  limits: { unseen: 'a section (—): its fields have rows' },
  'limits.http2': { unseen: 'a section (—): its fields have rows' },
  'limits.spool': {
    expect: (c) => assert.deepEqual(c.limits.spool, { maxResponse: 1024 ** 3, maxTotal: 4 * 1024 ** 3 }),
  },
  'limits.spool_dir': { expect: (c) => assert.match(c.limits.spoolDir, /[/\\]candor-spool$/) },
  'admin.token_file': { unseen: 'one of token_file, token_env is required' },
  'admin.token_env': { unseen: 'one of token_file, token_env is required' },
  log: { unseen: 'a section (—): its fields have rows' },
  'metrics.listen': { unseen: 'required' },
  drain: { unseen: 'a section (—): its fields have rows' },
  'tracing.otlp_endpoint': { unseen: 'required with tracing' },
  // `name`: the gateway's.
  'tracing.service_name': { expect: (c) => assert.equal(c.tracing?.serviceName, c.name) },
};

/** Defaults that say the field is absent: the loaded config has nothing there, or an empty list. */
const NONE = /^(none|off|any|either|no limit|any host|any method|any listener|every metric|—$)/;

/** A list written out in prose: `text/html, text/plain, …` (no backticks). */
function listed(field: string): string[] {
  return (rows.get(field) ?? '').split(',').map((item) => item.trim());
}

/**
 * How the loader writes a value down, where it differs from the docs' spelling: a JWT `typ` as
 * its media type, header names in lower case, a keyed choice (`client`, `header:NAME`) as its kind,
 * a status range as a pair, a Retry-After in seconds (the header's unit).
 */
const AS_LOADED: Readonly<Record<string, (value: unknown) => unknown>> = {
  'routes[].auth.jwt.types': (value) => (value as string[]).map((typ) => `application/${typ.toLowerCase()}`),
  'routes[].auth.forward.send_headers': (value) => (value as string[]).map((name) => name.toLowerCase()),
  'upstreams.*.health_check.expect_status': (value) =>
    String(value)
      .split(',')
      .map((range) => range.split('-').map(Number)),
  'routes[].maintenance.retry_after': (value) => (parseDuration(String(value)) ?? Number.NaN) / 1000,
  'upstreams.*.maintenance.retry_after': (value) => (parseDuration(String(value)) ?? Number.NaN) / 1000,
};

/** The value a default cell writes: its first `code` span (`` `1MiB`, or `max_size` … ``), or a run of them. */
function written(cell: string): unknown {
  const spans = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  // `dns_error` `dns_timeout` …: a list written as spans side by side.
  if (/^(`[^`]+` ?)+$/.test(cell.trim()) && spans.length > 1) return spans;
  const text = spans[0];
  const value: unknown = text.startsWith('[') ? parse(text) : text;
  return value;
}

/** The written default in the loaded value's terms: a number as a number, a duration in ms, a size in bytes. */
function inLoadedTerms(value: unknown, actual: unknown): unknown {
  if (typeof actual === 'number' && typeof value === 'string')
    return /^-?[\d.]+$/.test(value) ? Number(value) : (parseDuration(value) ?? parseSize(value) ?? value);
  if (typeof actual === 'boolean' && typeof value === 'string') return value === 'true';
  if (actual !== null && typeof actual === 'object' && 'kind' in actual && typeof value === 'string')
    return value;
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'number' ? item : String(item)));
  return value;
}

/** A keyed choice (`{ kind: 'header', name: 'x' }`) as written: `header:x`. */
function spelled(actual: unknown): unknown {
  if (actual !== null && typeof actual === 'object' && 'kind' in actual) {
    const { kind, name } = actual as { kind: string; name?: string };
    return name === undefined ? kind : `${kind}:${name}`;
  }
  return actual;
}

/** The reference's rows: field → default cell. */
const rows = new Map<string, string>();
for (const line of docsSection('Configuration').split('\n')) {
  const m = /^\| `([^`]+)` \|[^|]*\| ([^|]*?) \|/.exec(line);
  if (m) rows.set(m[1], m[2]);
}

test('the config reference has rows with defaults to compare', () => {
  assert.ok(rows.size >= 400, `found ${rows.size} rows`);
});

test('every row of PROSE is a row of the reference', () => {
  assert.deepEqual(
    Object.keys(PROSE).filter((field) => !rows.has(field)),
    [],
  );
});

for (const [field, cell] of rows) {
  // route_defaults.X is written `as routes[].X`, default none: it sets nothing until written.
  if (field.startsWith('route_defaults')) continue;
  test(`${field}: the default the reference gives (${cell.slice(0, 60)}) is what a minimal config loads`, () => {
    const prose = PROSE[field];
    if (prose !== undefined) {
      if ('expect' in prose) prose.expect(config);
      return;
    }
    if (/^required/.test(cell)) assert.fail(`${field}: "${cell}": add it to PROSE (required)`);
    // Each section is written on one item only (cors on routes[0], forward auth on routes[1]):
    // at every other place that holds the field's parent, it is not written.
    const places = [bare, config, acmeHttpConfig, acmeConfig].flatMap((from) => placesOf(from, field));
    assert.ok(
      places.length > 0,
      `${field}: no config here has a place for it; switch its section on in MINIMAL`,
    );
    if (NONE.test(cell)) {
      assert.ok(
        places.some(isNone),
        `${field}: the reference says "${cell}", the loaded config has ${JSON.stringify(places[0])}`,
      );
      return;
    }
    // A value default is filled in wherever the parent is: the first place shows it.
    const actual = places[0];
    assert.match(cell, /^`/, `${field}: "${cell}" is prose: add it to PROSE with what it means`);
    const raw = written(cell);
    const expected = AS_LOADED[field]?.(raw) ?? inLoadedTerms(raw, actual);
    assert.deepEqual(
      spelled(actual),
      expected,
      `${field}: the reference says ${JSON.stringify(raw)}, a minimal config loads ${JSON.stringify(actual)}`,
    );
  });
}
