/** What `candor check` warns of in a valid config (configWarnings): the ACME challenges, a retry list that cannot act. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { MINIMAL, SOURCE, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

const config = (plain: boolean, challenges: string) =>
  parseConfig(
    `listen:
${plain ? '  - address: 127.0.0.1:80\n' : ''}  - address: 127.0.0.1:443
    tls: { acme: { names: [shop.test] } }
acme: { challenges: [${challenges}], storage: /tmp/candor-acme-test }
${UPSTREAM_AND_ROUTE}`,
    SOURCE,
    {},
  );

test('http-01 alone with no plain listener is warned of: every order would fail', () => {
  assert.deepEqual(configWarnings(config(false, 'http-01')), [
    "acme.challenges: only http-01, and no listener is plain: the CA's HTTP-01 validation (port 80) cannot reach this gateway, so every order fails; add a plain listener on port 80, or offer tls-alpn-01",
  ]);
  assert.deepEqual(configWarnings(config(true, 'http-01')), []);
  assert.deepEqual(configWarnings(config(false, 'http-01, tls-alpn-01')), []);
  assert.deepEqual(configWarnings(config(false, 'tls-alpn-01')), []);
});

test('acme.dns01 that no challenge uses is warned of; used, it is not', () => {
  const withDns01 = (challenges: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:80
  - address: 127.0.0.1:443
    tls: { acme: { names: [shop.test] } }
acme:
  challenges: [${challenges}]
  storage: /tmp/candor-acme-test
  dns01: { server: 192.0.2.53:53, zone: shop.test, tsig: { name: k, secret_env: TSIG } }
${UPSTREAM_AND_ROUTE}`,
        SOURCE,
        { TSIG: Buffer.alloc(32, 3).toString('base64') },
      ),
    );
  assert.deepEqual(withDns01('http-01'), [
    'acme.dns01: acme.challenges leaves dns-01 out: no order uses this section (nor its TSIG key); add dns-01 to acme.challenges, or remove dns01',
  ]);
  assert.deepEqual(withDns01('http-01, dns-01'), []);
});

test('retries.on with failures the retry rule always turns down is warned of: after the head, or the client’s own', () => {
  const retriesOn = (on: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
    retries: { on: [${on}] }
`,
      SOURCE,
      {},
    );
  assert.deepEqual(
    configWarnings(
      retriesOn('connection_refused, http_response_incomplete, connection_read_timeout, client_deadline'),
    ),
    [
      "upstreams.app.retries.on: http_response_incomplete, connection_read_timeout, client_deadline never lead to a retry: they come after the response head went to the client, or only while a streamed request body goes out (it cannot be sent again), or they are the client's own doing (its deadline spent, its limit); the list is valid, they do nothing",
    ],
  );
  // A trailer section past the bound comes after the head and the body: never retried either.
  assert.deepEqual(configWarnings(retriesOn('http_response_trailer_section_size')), [
    "upstreams.app.retries.on: http_response_trailer_section_size never lead to a retry: they come after the response head went to the client, or only while a streamed request body goes out (it cannot be sent again), or they are the client's own doing (its deadline spent, its limit); the list is valid, they do nothing",
  ]);
  // A send timeout comes only while a streamed body goes out, which cannot be sent again.
  assert.deepEqual(configWarnings(retriesOn('connection_write_timeout')), [
    "upstreams.app.retries.on: connection_write_timeout never lead to a retry: they come after the response head went to the client, or only while a streamed request body goes out (it cannot be sent again), or they are the client's own doing (its deadline spent, its limit); the list is valid, they do nothing",
  ]);
  // The defaults, and a list of what can be retried, say nothing.
  assert.deepEqual(configWarnings(retriesOn('connection_refused, http_response_timeout')), []);
  assert.deepEqual(configWarnings(parseConfig(MINIMAL, SOURCE, {})), []);
});

test('a cache on a route that matches no GET or HEAD is warned of: only their answers are stored, it would never store or serve one', () => {
  const cached = (methods: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - name: orders
    match: { path: /orders${methods} }
    upstream: app
    cache: {}
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  assert.deepEqual(configWarnings(cached(', methods: [POST, PUT]')), [
    'routes[0].cache: the route matches only POST, PUT, and only the answers to GET and HEAD are stored: this cache never stores or serves an answer; match GET too, or remove the cache',
  ]);
  assert.deepEqual(configWarnings(cached(', methods: [HEAD]')), []);
  assert.deepEqual(configWarnings(cached(', methods: [GET, POST]')), []);
  assert.deepEqual(configWarnings(cached('')), []);
});

/** A config of one route to upstream `app`, these lines added to the upstream's fields. */
const withUpstream = (fields: string) =>
  parseConfig(
    `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
${fields}`,
    SOURCE,
    {},
  );

test('a hold.timeout not below timeouts.total is warned of: the total timeout answers a held request first', () => {
  assert.deepEqual(configWarnings(withUpstream('    hold: { timeout: 90s }\n')), [
    "upstreams.app.hold.timeout: 90s is not below timeouts.total (1m): a held request is answered 503 when the total timeout passes, so it never waits the hold's time; raise timeouts.total or lower hold.timeout",
  ]);
  assert.deepEqual(
    configWarnings(withUpstream('    hold: { timeout: 5s }\n    timeouts: { response: 2s, total: 5s }\n'))
      .length,
    1,
  );
  assert.deepEqual(configWarnings(withUpstream('    hold: { timeout: 5s }\n')), []);
});

test('a retries.per_try_timeout above timeouts.response is warned of: each attempt waits the response timeout at most', () => {
  assert.deepEqual(configWarnings(withUpstream('    retries: { per_try_timeout: 45s }\n')), [
    'upstreams.app.retries.per_try_timeout: 45s is above timeouts.response (30s): each attempt waits for its response head at most timeouts.response, so the per-try timeout never passes; raise timeouts.response or lower per_try_timeout',
  ]);
  assert.deepEqual(configWarnings(withUpstream('    retries: { per_try_timeout: 5s }\n')), []);
  assert.deepEqual(
    configWarnings(withUpstream('    retries: { per_try_timeout: 45s }\n    timeouts: { response: 45s }\n')),
    [],
  );
});

test("a target or an auth service at the gateway's own listener is warned of: the request comes back with its name in Via and is refused as a loop", () => {
  const selfish = (listen: string, target: string, auth: string) =>
    parseConfig(
      `name: edge-1
listen:
  - address: "${listen}"
routes:
  - upstream: app
    auth:
      forward: { url: "${auth}" }
upstreams:
  app:
    targets: [{ url: "${target}" }]
`,
      SOURCE,
      {},
    );
  const loop =
    "is this gateway's own listener: a request sent there comes back with this gateway's name in Via and is refused as a loop (502 proxy_loop_detected), so it can never be answered; point it at the service itself";
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://127.0.0.1:18080', 'http://localhost:18080/auth')),
    [
      `upstreams.app.targets[0].url: 127.0.0.1:18080 ${loop}`,
      `routes[0].auth.forward.url: localhost:18080 ${loop}`,
    ],
  );
  assert.deepEqual(
    configWarnings(selfish('0.0.0.0:18080', 'http://127.0.0.1:18080', 'http://127.0.0.1:9000/auth')),
    [`upstreams.app.targets[0].url: 127.0.0.1:18080 ${loop}`],
  );
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://127.0.0.1:18081', 'http://10.0.0.5:18080/auth')),
    [],
  );
  // IPv4's loopback is not IPv6's: a listener on one is not reached by the other, nor is an IPv4
  // wildcard by ::1; the IPv6 wildcard (dual-stack) takes both, and localhost may be either.
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://[::1]:18080', 'http://[::1]:18080/auth')),
    [],
  );
  assert.deepEqual(
    configWarnings(selfish('[::1]:18080', 'http://127.0.0.1:18080', 'http://10.0.0.5:1/a')),
    [],
  );
  assert.deepEqual(configWarnings(selfish('0.0.0.0:18080', 'http://[::1]:18080', 'http://10.0.0.5:1/a')), []);
  assert.deepEqual(
    configWarnings(selfish('[::]:18080', 'http://127.0.0.1:18080', 'http://[::1]:18080/auth')),
    [
      `upstreams.app.targets[0].url: 127.0.0.1:18080 ${loop}`,
      `routes[0].auth.forward.url: [::1]:18080 ${loop}`,
    ],
  );
  assert.deepEqual(configWarnings(selfish('[::1]:18080', 'http://localhost:18080', 'http://10.0.0.5:1/a')), [
    `upstreams.app.targets[0].url: localhost:18080 ${loop}`,
  ]);
  // One address spelt apart is one loop: an IPv6 one in another form, an IPv4 one mapped, another
  // address of IPv4's loopback at a wildcard listener (but not at 127.0.0.1's).
  assert.deepEqual(configWarnings(selfish('[0::1]:18080', 'http://[::1]:18080', 'http://10.0.0.5:1/a')), [
    `upstreams.app.targets[0].url: [::1]:18080 ${loop}`,
  ]);
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://[::ffff:127.0.0.1]:18080', 'http://10.0.0.5:1/a')),
    [`upstreams.app.targets[0].url: [::ffff:7f00:1]:18080 ${loop}`],
  );
  assert.deepEqual(
    configWarnings(selfish('0.0.0.0:18080', 'http://127.0.0.2:18080', 'http://127.0.0.3:18080/auth')),
    [
      `upstreams.app.targets[0].url: 127.0.0.2:18080 ${loop}`,
      `routes[0].auth.forward.url: 127.0.0.3:18080 ${loop}`,
    ],
  );
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://127.0.0.2:18080', 'http://10.0.0.5:1/a')),
    [],
  );
  // Linux connects an unspecified address to its family's loopback: [::] reaches a [::1]
  // listener, 0.0.0.0 a 127.0.0.1 one (never the other family's).
  const unspecified = (authority: string, loopback: string) =>
    `upstreams.app.targets[0].url: ${authority} is an unspecified address, one to listen on, not any host's: Linux connects it to this machine's ${loopback}, other systems refuse it, and discovery refuses it in an answer; write the address of the service (${loopback === '::1' ? '[::1]' : loopback} for this machine)`;
  assert.deepEqual(configWarnings(selfish('[::1]:18080', 'http://[::]:18080', 'http://[::]:18080/auth')), [
    unspecified('[::]:18080', '::1'),
    `upstreams.app.targets[0].url: [::]:18080 ${loop}`,
    `routes[0].auth.forward.url: [::]:18080 ${loop}`,
  ]);
  assert.deepEqual(
    configWarnings(selfish('127.0.0.1:18080', 'http://0.0.0.0:18080', 'http://0.0.0.0:18080/auth')),
    [
      unspecified('0.0.0.0:18080', '127.0.0.1'),
      `upstreams.app.targets[0].url: 0.0.0.0:18080 ${loop}`,
      `routes[0].auth.forward.url: 0.0.0.0:18080 ${loop}`,
    ],
  );
  assert.deepEqual(configWarnings(selfish('[::1]:18080', 'http://0.0.0.0:18080', 'http://10.0.0.5:1/a')), [
    unspecified('0.0.0.0:18080', '127.0.0.1'),
  ]);
  assert.deepEqual(configWarnings(selfish('127.0.0.1:18080', 'http://[::]:18081', 'http://10.0.0.5:1/a')), [
    unspecified('[::]:18081', '::1'),
  ]);
});

test('trust_forwarded_from that takes every address as a proxy is warned of: every client would speak for itself', () => {
  const trusting = (list: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
trust_forwarded_from: [${list}]
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
        SOURCE,
        {},
      ),
    );
  assert.deepEqual(trusting('10.0.0.0/8, "fd00::/8", 127.0.0.1'), []);
  assert.deepEqual(
    trusting('10.0.0.0/8, 0.0.0.0/0, "::/0"').map((w) => w.slice(0, w.indexOf(':', 30))),
    [
      'trust_forwarded_from[1]: 0.0.0.0/0 trusts every client as a proxy',
      'trust_forwarded_from[2]: ::/0 trusts every client as a proxy',
    ],
  );
});

test('an allow, deny or trust_forwarded_from block with bits set past its prefix is warned of: it stands for the whole block, not the address written', () => {
  const lists = (allow: string, deny: string, trust: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
trust_forwarded_from: [${trust}]
routes:
  - upstream: app
    allow: [${allow}]
    deny: [${deny}]
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
        SOURCE,
        {},
      ),
    );
  assert.deepEqual(
    lists('10.0.0.0/8, 10.1.2.3, 10.1.2.3/32, "fd00::/8"', '192.168.1.0/24', '172.16.0.0/12'),
    [],
  );
  assert.deepEqual(lists('10.1.2.3/16, "2001:db8::7/64"', '203.0.113.9/24', '172.16.5.1/12'), [
    'trust_forwarded_from[0]: 172.16.5.1/12 has bits set past its /12: it stands for the whole block 172.16.0.0/12, not the address 172.16.5.1; write 172.16.0.0/12, or 172.16.5.1 alone',
    'routes[0].allow[0]: 10.1.2.3/16 has bits set past its /16: it stands for the whole block 10.1.0.0/16, not the address 10.1.2.3; write 10.1.0.0/16, or 10.1.2.3 alone',
    'routes[0].allow[1]: 2001:db8::7/64 has bits set past its /64: it stands for the whole block 2001:db8::/64, not the address 2001:db8::7; write 2001:db8::/64, or 2001:db8::7 alone',
    'routes[0].deny[0]: 203.0.113.9/24 has bits set past its /24: it stands for the whole block 203.0.113.0/24, not the address 203.0.113.9; write 203.0.113.0/24, or 203.0.113.9 alone',
  ]);
});

test('auth.jwt without audiences is warned of: a token the issuer made for another of its services is accepted too', () => {
  const jwt = (audiences: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    auth: { jwt: { jwks_url: "https://idp.test/jwks"${audiences} } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  assert.deepEqual(configWarnings(jwt('')), [
    "routes[0].auth.jwt.audiences: none, so a token the issuer made for any of its services (another API, another tenant's app) is accepted here as well as one made for this one; list the audiences (aud) this route's API answers to",
  ]);
  assert.deepEqual(configWarnings(jwt(', audiences: [orders]')), []);
});

test('auth.jwt.jwks_url over plain http to another machine is warned of: anyone on the way could serve keys of their own', () => {
  const jwks = (url: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    auth: { jwt: { jwks_url: "${url}", audiences: [orders] } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
        SOURCE,
        {},
      ),
    );
  assert.deepEqual(jwks('http://idp.internal:8080/jwks'), [
    'routes[0].auth.jwt.jwks_url: plain http to idp.internal: the keys that decide who gets in travel unauthenticated, and anyone on the way can serve keys of their own and sign any token this route accepts; fetch them over https (plain http only to a loopback address)',
  ]);
  for (const quiet of [
    'https://idp.test/jwks',
    'http://127.0.0.1:8081/jwks',
    'http://localhost/jwks',
    'http://[::1]:8081/jwks',
  ])
    assert.deepEqual(jwks(quiet), [], quiet);
});

test('cors.expose_headers "*" with credentials is warned of: a browser reads it as a field named "*" in a call with credentials', () => {
  const cors = (fields: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    cors: { origins: [https://app.example.com], ${fields} }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  assert.deepEqual(configWarnings(cors('expose_headers: [X-Total-Count, "*"], credentials: true')), [
    'routes[0].cors.expose_headers: "*" with credentials: true: a browser reads it as every field only for a call without credentials; a script whose call sends cookies or Authorization reads a field named "*", so none of the answer\'s own fields; list the fields it may read',
  ]);
  assert.deepEqual(configWarnings(cors('expose_headers: ["*"]')), []);
  assert.deepEqual(configWarnings(cors('expose_headers: [X-Total-Count], credentials: true')), []);
});

test('cors on a route whose auth reads Authorization is warned of when a browser may never send it: every preflight of a call with its credentials is refused', () => {
  const route = (auth: string, cors: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    auth: ${auth}
    cors: { origins: [https://app.example.com], ${cors} }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  const jwt = (more = '') => `{ jwt: { jwks_url: "https://idp.test/jwks", audiences: [api]${more} } }`;
  const usersFile = join(tempDir('candor-cors-auth-'), 'users');
  writeFileSync(usersFile, 'alice:$5$rounds=1000$saltsalt$R6e4P8ccT9iMqkYg7Z8YtpId/lfsIfnuPkp8WXposU8\n');
  const basic = `{ basic: { users_file: ${JSON.stringify(usersFile)} } }`;
  assert.deepEqual(configWarnings(route(jwt(), 'methods: [GET, POST]')), [
    "routes[0].cors.headers: Authorization is not listed, and the route's auth.jwt takes its token from it: a browser sends a cross-origin Authorization only after a preflight that allows it, so every call with a token is refused at its preflight (403) and the script reads a CORS error; list Authorization in cors.headers",
  ]);
  assert.deepEqual(configWarnings(route(basic, 'headers: [X-Api-Key]')), [
    "routes[0].cors.headers: Authorization is not listed, and the route's auth.basic takes its credentials from it: a browser sends a cross-origin Authorization only after a preflight that allows it, so every call with credentials is refused at its preflight (403) and the script reads a CORS error; list Authorization in cors.headers, or set cors.credentials to let the browser send the credentials it holds",
  ]);
  // Quiet where a browser's call can carry them: the field allowed, or the credentials the browser holds.
  assert.deepEqual(configWarnings(route(jwt(), 'headers: [X-Api-Key, Authorization]')), []);
  assert.deepEqual(configWarnings(route(jwt(), 'headers: ["*"]')), []);
  assert.deepEqual(configWarnings(route(jwt(', cookie: token'), 'credentials: true')), []);
  assert.deepEqual(configWarnings(route(basic, 'credentials: true')), []);
});

test("limits.per_client.connections below a browser's six connections to a host over HTTP/1.1 is warned of, while a listener serves browsers HTTP/1.1", () => {
  const certs = testCertificates();
  const tls = `tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }`;
  const gateway = (connections: number, listeners: string) =>
    parseConfig(
      `listen:
${listeners}
limits: { per_client: { connections: ${connections} } }
${UPSTREAM_AND_ROUTE}`,
      SOURCE,
      {},
    );
  // Chromium, with 2: ten of a page's twelve images were refused 429 (its six connections at once).
  assert.deepEqual(configWarnings(gateway(2, '  - address: 127.0.0.1:8080')), [
    "limits.per_client.connections: 2: a browser opens up to six connections to a host over HTTP/1.1 (Chromium, Firefox and Safari alike, listener '127.0.0.1:8080'), so a page's own parallel loads past 2 (its images, scripts, styles) are refused 429; allow 6 or more, or serve browsers over HTTP/2 (http2: true with tls), which takes one connection",
  ]);
  assert.deepEqual(configWarnings(gateway(6, '  - address: 127.0.0.1:8080')), []);
  // HTTP/2 over TLS: a browser's one connection carries the page.
  assert.deepEqual(configWarnings(gateway(1, `  - { address: 127.0.0.1:8443, http2: true, ${tls} }`)), []);
  assert.equal(configWarnings(gateway(3, `  - { address: 127.0.0.1:8443, ${tls} }`)).length, 1);
});

test('compression.types naming a gRPC type is warned of: a gRPC answer is never compressed', () => {
  const types = (list: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    compression: { types: [${list}] }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  assert.deepEqual(configWarnings(types('application/json, application/grpc, application/grpc+proto')), [
    'routes[0].compression.types: application/grpc, application/grpc+proto: a gRPC answer is never compressed (gRPC compresses its messages itself, grpc-encoding, and its client reads no Content-Encoding), so this entry does nothing; gRPC-Web (application/grpc-web…), which a browser decodes, is compressed by types',
  ]);
  assert.deepEqual(configWarnings(types('"application/*", application/grpc-web+proto')), []);
});

test('the loader gives each such warning the line and column of its field, or of the closest one the file writes', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    auth: { jwt: { jwks_url: "https://idp.test/jwks" } }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:8080" }]
`,
    SOURCE,
    {},
    { warnings },
  );
  assert.deepEqual(
    warnings.map(({ line, column, path }) => ({ line, column, path })).sort((a, b) => a.line - b.line),
    [
      // audiences is not written: the jwt key it belongs to.
      { line: 5, column: 13, path: 'routes[0].auth.jwt.audiences' },
      { line: 8, column: 17, path: 'upstreams.app.targets[0].url' },
    ],
  );
  assert.equal(warnings[0].file, SOURCE);
});

test('Strict-Transport-Security set on a route that answers on a plain listener is warned of (RFC 6797 §7.2), not when only TLS or a terminator in front serves it', () => {
  const hsts = (listen: string, match = '', more = '') =>
    parseConfig(
      `listen:
${listen}
${more}routes:
  - upstream: app
    match: { path: /${match} }
    response_headers:
      set: { Strict-Transport-Security: max-age=31536000 }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  const { certPath, keyPath } = testCertificates().localhost;
  const tls = `    tls: { cert: ${certPath}, key: ${keyPath} }`;
  const both = `  - address: 127.0.0.1:8080\n  - name: secure\n    address: 127.0.0.1:8443\n${tls}`;
  assert.deepEqual(configWarnings(hsts(both)), [
    "routes[0].response_headers: Strict-Transport-Security goes out on answers over plain http too (listener '127.0.0.1:8080'): RFC 6797 §7.2 says a server must not send it there, and a browser ignores it; bind the route to the TLS listener (match.scheme: https, or match.listener), or, with a TLS terminator in front of this listener, say so (trust_forwarded_from, or the listener's proxy_protocol)",
  ]);
  // Bound to TLS, by scheme or by listener; a TLS terminator in front (the client's transport is TLS).
  assert.deepEqual(configWarnings(hsts(both, ', scheme: https')), []);
  assert.deepEqual(configWarnings(hsts(both, ', listener: secure')), []);
  assert.deepEqual(
    configWarnings(hsts('  - address: 127.0.0.1:8080', '', 'trust_forwarded_from: [10.0.0.1]\n')),
    [],
  );
  assert.deepEqual(
    configWarnings(hsts('  - address: 127.0.0.1:8080\n    proxy_protocol: { from: [10.0.0.1] }')),
    [],
  );
});

test('Strict-Transport-Security on a route that plain requests never reach (a route tried first sends every one to https) is not warned of', () => {
  const { certPath, keyPath } = testCertificates().localhost;
  const hsts = (redirect: string, path = '/') =>
    parseConfig(
      `listen:
  - name: plain
    address: 127.0.0.1:8080
  - name: secure
    address: 127.0.0.1:8443
    tls: { cert: ${certPath}, key: ${keyPath} }
routes:
${redirect}
  - upstream: app
    match: { path: ${path} }
    response_headers:
      set: { Strict-Transport-Security: max-age=31536000 }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
      SOURCE,
      {},
    );
  const warned = (redirect: string, path?: string) =>
    configWarnings(hsts(redirect, path)).filter((w) => w.includes('Strict-Transport-Security')).length;
  // The usual pair: plain http redirected to https, by scheme or by listener; the route after it
  // in the file, or before it (the router tries the one testing more first).
  assert.equal(warned('  - match: { scheme: http }\n    redirect: { scheme: https, port: 8443 }'), 0);
  assert.equal(warned('  - match: { listener: plain }\n    redirect: { scheme: https, port: 8443 }'), 0);
  // Plain requests the redirect leaves to the route still get the field: warned.
  assert.equal(
    warned('  - match: { scheme: http, host: www.example.com }\n    redirect: { scheme: https, port: 8443 }'),
    1,
    'another host',
  );
  assert.equal(
    warned('  - match: { scheme: http }\n    redirect: { scheme: https, port: 8443 }', '/api'),
    1,
    'a longer path prefix is tried first',
  );
  assert.equal(
    warned('  - match: { scheme: http, methods: [GET] }\n    redirect: { scheme: https, port: 8443 }'),
    1,
    'other methods',
  );
  assert.equal(
    warned(
      '  - match: { scheme: http, headers: { X-Debug: { present: true } } }\n    redirect: { scheme: https, port: 8443 }',
    ),
    1,
    'a header test may leave some out',
  );
});

// Issue 56 item 2: a client that writes its own key writes as many as it likes, and steers the verdict.
test("a canary keyed by a header or a cookie the client writes is warned of; one the route's auth writes, or client, is not", () => {
  const canary = (route: string, extra = '') =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
${extra}routes:
  - name: api
    upstream: app
${route}    canary: { upstream: next }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
  next:
    targets: [{ url: "http://127.0.0.1:10" }]
`,
        SOURCE,
        {},
      ),
    );
  const advice =
    " is written by the client: one that writes a new value at each request learns which land on the canary and sends its failing requests there only (rolling back a canary as good as its baseline), or its good ones (promoting a bad one); key the canary on what the gateway vouches for: a header the route's auth writes (claims_to_headers, copy_headers), or client";
  assert.deepEqual(canary('    hash_key: header:X-User\n'), [
    `routes[0].hash_key: the x-user header${advice}`,
  ]);
  assert.deepEqual(canary('    hash_key: cookie:session\n'), [
    `routes[0].hash_key: the session cookie${advice}`,
  ]);
  assert.deepEqual(canary('    hash_key: client\n'), []);
  assert.deepEqual(canary(''), []);
  assert.deepEqual(
    canary(`    hash_key: header:X-User-Id
    auth:
      jwt:
        jwks_url: https://id.example.com/jwks.json
        audiences: [api]
        claims_to_headers: { sub: X-User-Id }
`),
    [],
  );
  assert.deepEqual(
    canary(`    hash_key: header:X-User-Id
    auth: { forward: { url: "http://127.0.0.1:11/check", copy_headers: [X-User-Id] } }
`),
    [],
  );
  // The identity field is the gateway's to write: the client's copies never reach the split.
  assert.deepEqual(
    canary(`    hash_key: header:X-Candor-User
    auth: { forward: { url: "http://127.0.0.1:11/check", identity_from: X-User }, identity_header: X-Candor-User }
`),
    [],
  );
});

// An attempt is counted once over: one the canary holds ends at its head clock, after the step it began in was judged.
test("a canary whose requests' head clock is as long as a step is warned of: none of the step's hangs would count in it", () => {
  const canary = (fields: string, next = '', route = '') =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - name: api
    upstream: app
${route}    canary: { upstream: next${fields} }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
  next:
    targets: [{ url: "http://127.0.0.1:10" }]
${next}`,
        SOURCE,
        {},
      ),
    );
  const advice =
    ": a request the canary holds with no answer is counted when that ends it, after its step was judged, so a canary that hangs its requests is judged on those it answered (the last step's hangs on none) and may be promoted; give the canary's upstream (or the route) a timeouts.response below step_interval, or a longer step_interval";
  assert.deepEqual(canary(', step_interval: 3s'), [
    `routes[0].canary.step_interval: 3s is no longer than the response timeout of the canary's requests (30s, upstream next)${advice}`,
  ]);
  // The default step (1m) against the default response timeout (30s): counted within the step.
  assert.deepEqual(canary(''), []);
  assert.deepEqual(canary(', step_interval: 3s', '    timeouts: { response: 2s }\n'), []);
  assert.deepEqual(canary(', step_interval: 3s', '    retries: { per_try_timeout: 1s }\n'), []);
  assert.deepEqual(canary(', step_interval: 1m', '', '    timeouts: { response: 90s, total: 2m }\n'), [
    `routes[0].canary.step_interval: 1m is no longer than the response timeout of the canary's requests (90s, upstream next)${advice}`,
  ]);
});

test('tls settings on an upstream none of whose targets is https:// are warned of: its requests go in plain HTTP, the client certificate never shown', () => {
  const { caPath } = testCertificates();
  assert.deepEqual(configWarnings(withUpstream(`    tls: { ca: ${caPath}, servername: app.internal }\n`)), [
    "upstreams.app.tls: ca, servername set, but no target is https://: every request to this upstream goes in plain HTTP and these settings are never used; write https:// in the targets' URLs, or remove tls",
  ]);
  assert.deepEqual(configWarnings(withUpstream('    tls: { insecure_skip_verify: false }\n')), []);
  const upstream = (fields: string) =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
upstreams:
  app:
${fields}    tls: { ca: ${caPath} }
`,
      SOURCE,
      {},
    );
  assert.deepEqual(
    configWarnings(
      upstream('    targets: [{ url: "http://127.0.0.1:9" }, { url: "https://127.0.0.1:10" }]\n'),
    ),
    [],
  );
  assert.deepEqual(
    configWarnings(upstream('    discovery: { dns: app.test, type: A, port: 443, scheme: https }\n')),
    [],
  );
  assert.equal(configWarnings(upstream('    discovery: { dns: app.test, type: A, port: 80 }\n')).length, 1);
});

test('a response_headers rule whose Cache-Control lifetime is no number of seconds is warned of: every cache reads max-age=30d as none', () => {
  const rules = (set: string, add = '{}') =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: app
    response_headers:
      set: ${set}
      add: ${add}
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
        SOURCE,
        {},
      ),
    );
  const advice =
    'which every cache reads as no lifetime (RFC 9111 §1.2.2, §4.2.1): each answer is stale at once, never kept; write it in seconds (max-age=2592000 for 30 days)';
  assert.deepEqual(rules('{ Cache-Control: "public, max-age=30d" }'), [
    `routes[0].response_headers: Cache-Control "public, max-age=30d" has max-age=30d, ${advice}`,
  ]);
  assert.deepEqual(rules('{ CDN-Cache-Control: "s-maxage=1h" }', '{ cache-control: "stale-if-error=1d" }'), [
    `routes[0].response_headers: CDN-Cache-Control "s-maxage=1h" has s-maxage=1h, ${advice}`,
    `routes[0].response_headers: cache-control "stale-if-error=1d" has stale-if-error=1d, ${advice}`,
  ]);
  assert.deepEqual(
    rules(
      '{ Cache-Control: "public, max-age=2592000, immutable", CDN-Cache-Control: "max-age=60", Surrogate-Control: "max-age=30d", X-Max-Age: "max-age=1h" }',
    ),
    [],
  );
});

test("a route to an upstream another route tells the user in identity_header is warned of when it lets a client's own copy through: no auth, or auth that writes another field", () => {
  const identity = (sibling: string, extra = '') =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app] }, identity_header: X-User }
  - name: public
    match: { path: / }
${sibling}${extra}upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
  other:
    targets: [{ url: "http://127.0.0.1:10" }]
`,
        SOURCE,
        {},
      ),
    );
  assert.deepEqual(identity('    upstream: app\n'), [
    `routes[1].upstream: upstream 'app' is told the signed-in user in x-user by routes[0] ("app"), and this route to it has no auth: a client's own x-user goes through as sent, so an app that trusts the field takes a forged "x-user: admin" for a signed-in user; take it out here (request_headers: { remove: [x-user] }), or give this route auth with identity_header: x-user`,
  ]);
  // Auth that writes another field lets this one through all the same (and each route the other's).
  assert.deepEqual(
    identity(
      '    upstream: app\n    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app] }, identity_header: X-Who }\n',
    ),
    [
      `routes[0].upstream: upstream 'app' is told the signed-in user in x-who by routes[1] ("public"), and this route to it has auth that does not write x-who: a client's own x-who goes through as sent, so an app that trusts the field takes a forged "x-who: admin" for a signed-in user; take it out here (request_headers: { remove: [x-who] }), or give this route auth with identity_header: x-who`,
      `routes[1].upstream: upstream 'app' is told the signed-in user in x-user by routes[0] ("app"), and this route to it has auth that does not write x-user: a client's own x-user goes through as sent, so an app that trusts the field takes a forged "x-user: admin" for a signed-in user; take it out here (request_headers: { remove: [x-user] }), or give this route auth with identity_header: x-user`,
    ],
  );
  // A split's side to it is as much a way in.
  assert.deepEqual(
    identity('    split: [{ upstream: other, weight: 90 }, { upstream: app, weight: 10 }]\n').map((w) =>
      w.slice(0, w.indexOf(':')),
    ),
    ['routes[1].split[1].upstream'],
  );
  // Taken out (in either spelling), set by the route, written by its own auth, or another upstream: nothing to say.
  assert.deepEqual(identity('    upstream: app\n    request_headers: { remove: [X_User] }\n'), []);
  assert.deepEqual(identity('    upstream: app\n    request_headers: { set: { X-User: nobody } }\n'), []);
  assert.deepEqual(
    identity(
      '    upstream: app\n    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app] }, identity_header: x-user }\n',
    ),
    [],
  );
  assert.deepEqual(identity('    upstream: other\n'), []);
});

test("a route to an upstream another route tells claims_to_headers or copy_headers is warned of when it lets a client's own copies through: one warning a set, naming those it lets through", () => {
  const told = (writer: string, sibling: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - name: app
    match: { path: /app }
    upstream: app
${writer}  - name: public
    match: { path: / }
${sibling}upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
  other:
    targets: [{ url: "http://127.0.0.1:10" }]
`,
        SOURCE,
        { COOKIE_SECRET: 'c'.repeat(48) },
      ),
    );
  const jwt =
    '    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app], claims_to_headers: { sub: X-User-Id, groups: X-Groups } } }\n';
  assert.deepEqual(told(jwt, '    upstream: app\n'), [
    `routes[1].upstream: upstream 'app' is told the signed-in user's claims in x-user-id, x-groups by routes[0] ("app")'s auth.jwt.claims_to_headers, and this route to it has no auth: a client's own x-user-id, x-groups go through as sent, so an app that trusts the fields takes a forged "x-user-id: admin" for the signed-in user's; take them out here (request_headers: { remove: [x-user-id, x-groups] }), or give this route the same auth.jwt.claims_to_headers`,
  ]);
  // One taken out, the other named alone; both taken out, or written by the route's own auth: nothing.
  assert.deepEqual(told(jwt, '    upstream: app\n    request_headers: { remove: [X_Groups] }\n'), [
    `routes[1].upstream: upstream 'app' is told the signed-in user's claims in x-user-id by routes[0] ("app")'s auth.jwt.claims_to_headers, and this route to it has no auth: a client's own x-user-id goes through as sent, so an app that trusts the field takes a forged "x-user-id: admin" for the signed-in user's; take it out here (request_headers: { remove: [x-user-id] }), or give this route the same auth.jwt.claims_to_headers`,
  ]);
  assert.deepEqual(
    told(jwt, '    upstream: app\n    request_headers: { remove: [X-Groups], set: { X-User-Id: "" } }\n'),
    [],
  );
  assert.deepEqual(
    told(
      jwt,
      '    upstream: app\n    auth: { forward: { url: "http://127.0.0.1:11/check", copy_headers: [X-User-Id, X-Groups] } }\n',
    ).filter((w) => w.startsWith('routes[1]')),
    [],
  );
  assert.deepEqual(told(jwt, '    upstream: other\n'), []);
  // Forward auth's copy_headers, reached by a split's side, beside an auth that writes another field.
  const forward =
    '    auth: { forward: { url: "http://127.0.0.1:11/check", copy_headers: [X-Tenant] }, identity_header: X-User }\n';
  assert.deepEqual(
    told(
      forward,
      '    split: [{ upstream: other, weight: 90 }, { upstream: app, weight: 10 }]\n    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app] }, identity_header: X-User }\n',
    ),
    [
      `routes[1].split[1].upstream: upstream 'app' is told what its auth service answered in x-tenant by routes[0] ("app")'s auth.forward.copy_headers, and this route to it has auth that does not write it: a client's own x-tenant goes through as sent, so an app that trusts the field takes a forged "x-tenant: admin" for the signed-in user's; take it out here (request_headers: { remove: [x-tenant] }), or give this route the same auth.forward.copy_headers`,
    ],
  );
  // An OpenID Connect route's claims are told as a JWT's.
  const oidc =
    '    auth:\n      oidc:\n        issuer: "https://idp.test"\n        client_id: app\n        redirect_path: /app/callback\n        logout_path: /app/logout\n        cookie: { secret_env: COOKIE_SECRET }\n        claims_to_headers: { email: X-Email }\n';
  assert.deepEqual(
    told(oidc, '    upstream: app\n').map((w) => w.slice(0, w.indexOf(' by '))),
    ["routes[1].upstream: upstream 'app' is told the signed-in user's claims in x-email"],
  );
});

// A route's request_headers run after its auth wrote the user's fields (request-lifecycle.md:
// access, then header_rules), so a remove, set or add of one of them undoes what the auth wrote:
// `remove: [X-User-Id]` beside claims_to_headers' X-User-Id sent the upstream no user at all, and
// candor check said ok. The docs tell other routes to take these fields out, so the rule is easy
// to write once in route_defaults, where it reaches the route with auth too (route-defaults.test.ts).
test("request_headers that remove, set or add a field the route's own auth writes are warned of: the upstream is never told what the auth wrote", () => {
  const warned = (rules: string) =>
    configWarnings(
      parseConfig(
        `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /app }
    upstream: app
    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app], claims_to_headers: { sub: X-User-Id } }, identity_header: X-User }
${rules}upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
        SOURCE,
        {},
      ),
    );
  assert.deepEqual(warned('    request_headers: { remove: [X_User_Id, X-Debug] }\n'), [
    "routes[0].request_headers.remove: x-user-id is written by the route's auth.jwt.claims_to_headers, and request_headers.remove takes it out after: the upstream is never told it; leave it out of request_headers (the auth removes a client's own copy already)",
  ]);
  assert.deepEqual(warned('    request_headers: { set: { X-User: nobody } }\n'), [
    "routes[0].request_headers.set: x-user is written by the route's auth.identity_header, and request_headers.set replaces it after: the upstream is told that value, never what the auth wrote; leave it out of request_headers (the auth removes a client's own copy already)",
  ]);
  assert.deepEqual(warned('    request_headers: { add: { X-User-Id: extra } }\n'), [
    "routes[0].request_headers.add: x-user-id is written by the route's auth.jwt.claims_to_headers, and request_headers.add adds a second value beside it: the upstream reads either; leave it out of request_headers (the auth removes a client's own copy already)",
  ]);
  assert.deepEqual(warned('    request_headers: { remove: [X-Debug], set: { X-Tenant: a } }\n'), []);
});
