/** A route's access fields as `candor check` reads them: each wrong value named with its line. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const withRoute = (fields: string) => `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
${fields}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

test('allow and deny take IPv4 and IPv6 addresses and CIDR blocks, IPv4-mapped too', () => {
  const config = parseConfig(
    withRoute(`    allow: [10.0.0.0/8, "2001:db8::/32", "::ffff:192.168.0.0/112"]
    deny: [10.66.0.1, "::1"]
`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access, {
    allow: ['10.0.0.0/8', '2001:db8::/32', '::ffff:192.168.0.0/112'],
    deny: ['10.66.0.1', '::1'],
  });
});

test('a route without allow, deny, cors or auth has no access entry (the one undefined check)', () => {
  const config = parseConfig(withRoute(''), SOURCE, {});
  assert.equal('access' in config.routes[0], false);
});

test('a wrong address, a prefix too long and an empty list are refused with their line', () => {
  const problems = problemsOf(
    withRoute(`    allow: [10.0.0.0/33]
    deny: [not-an-ip, "fe80::1%eth0"]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '5 routes[0].allow[0]: expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "10.0.0.0/33" (an IPv4 prefix length is 0 to 32)',
    '6 routes[0].deny[0]: expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "not-an-ip"',
    // Accepted before, and matched fe80::1 from any interface.
    '6 routes[0].deny[1]: expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "fe80::1%eth0" (a zone index is not matched on, so this would stand for the address on every interface: write it without "%eth0")',
  ]);
  const empty = problemsOf(withRoute('    deny: []\n')).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.equal(empty.length, 1);
  assert.match(
    empty[0],
    /^5 routes\[0\]\.deny: expected a list of IP addresses or CIDR blocks refused on the route/,
  );
});

test('cors: origins kept, methods defaulted, header names lower-cased, Proxy-Status and X-Request-Id always exposed', () => {
  const config = parseConfig(
    withRoute(`    cors:
      origins: [https://app.example.com, "https://*.example.com:8443"]
      headers: [Content-Type, X-Api-Key]
      expose_headers: [X-Total-Count, x-request-id]
      max_age: 90s
`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access, {
    cors: {
      origins: ['https://app.example.com', 'https://*.example.com:8443'],
      methods: ['GET', 'HEAD', 'POST'],
      headers: ['content-type', 'x-api-key'],
      exposeHeaders: ['X-Total-Count', 'x-request-id', 'Proxy-Status', 'Retry-After', 'WWW-Authenticate'],
      credentials: false,
      maxAge: 90,
    },
  });
});

test('cors: max_age 0s loads as Access-Control-Max-Age 0 (the Fetch standard: keep no preflight), as 500ms did', () => {
  // A browser keeps a preflight's answer for that many seconds; 0 keeps none, so every call is
  // asked again (while a route's CORS rules change). 500ms already made 0 (whole seconds, floored),
  // so refusing the 0s that says it was a rule about the spelling, not the value.
  for (const written of ['0s', '500ms'])
    assert.equal(
      parseConfig(
        withRoute(`    cors: { origins: [https://app.example.com], max_age: ${written} }\n`),
        SOURCE,
        {},
      ).routes[0].access?.cors?.maxAge,
      0,
      written,
    );
});

test('cors: credentials with the origin "*" is refused by candor check; an origin not in its form too', () => {
  const problems = problemsOf(
    withRoute(`    cors:
      origins: ["*", https://App.example.com, "https://a.*.example.com", app.example.com]
      credentials: true
`),
  ).map((p) => `${p.line} ${p.path}`);
  assert.deepEqual(problems, [
    '6 routes[0].cors.origins[1]',
    '6 routes[0].cors.origins[2]',
    '6 routes[0].cors.origins[3]',
    '7 routes[0].cors.credentials',
  ]);
  const [credentials] = problemsOf(
    withRoute(`    cors:
      origins: ["*"]
      credentials: true
`),
  );
  assert.equal(credentials.path, 'routes[0].cors.credentials');
  assert.match(credentials.message, /^credentials: true cannot go with the origin "\*"/);
  // A subdomain wildcard names the sites that may call: credentials may go with it.
  parseConfig(
    withRoute(`    cors: { origins: ["https://*.example.com"], credentials: true }
`),
    SOURCE,
    {},
  );
});

test("cors: an origin with its scheme's default port, or a port no browser writes, is refused: browsers send it otherwise, so it never matched", () => {
  const problems = problemsOf(
    withRoute(`    cors:
      origins: ["https://app.example.com:443", "http://*.example.com:80", "http://[::1]:80", "https://a.example.com:08443", "https://b.example.com:99999", "https://c.example.com:8443", "http://d.example.com:443"]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '6 routes[0].cors.origins[0]: browsers send this origin as "https://app.example.com" (a port as a plain number, and none for the scheme\'s default), so this one would never match: write "https://app.example.com"',
    '6 routes[0].cors.origins[1]: browsers send this origin as "http://*.example.com" (a port as a plain number, and none for the scheme\'s default), so this one would never match: write "http://*.example.com"',
    '6 routes[0].cors.origins[2]: browsers send this origin as "http://[::1]" (a port as a plain number, and none for the scheme\'s default), so this one would never match: write "http://[::1]"',
    '6 routes[0].cors.origins[3]: browsers send this origin as "https://a.example.com:8443" (a port as a plain number, and none for the scheme\'s default), so this one would never match: write "https://a.example.com:8443"',
    '6 routes[0].cors.origins[4]: expected a port of 1 to 65535 in the origin, got 99999',
  ]);
});

test('cors: an IPv6 origin in a spelling no browser writes is refused, naming the one it sends; brackets hold an IPv6 address', () => {
  // A browser serialises the origin's host as the URL standard does: [::1] for [0::1], the
  // IPv4-mapped form in hex. Written otherwise, it passed and never matched: every call a 403.
  const problems = problemsOf(
    withRoute(`    cors:
      origins: ["http://[0::1]:3000", "https://[::ffff:127.0.0.1]", "http://[2001:db8:0:0:0:0:0:1]:80", "http://[1.2.3.4]", "http://[::1]:3000", "https://[2001:db8::1]"]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  const sent = (i: number, origin: string) =>
    `6 routes[0].cors.origins[${i}]: browsers send this origin as "${origin}" (an IPv6 address as the URL standard writes it, a port as a plain number, none for the scheme's default), so this one would never match: write "${origin}"`;
  assert.deepEqual(problems, [
    sent(0, 'http://[::1]:3000'),
    sent(1, 'https://[::ffff:7f00:1]'),
    sent(2, 'http://[2001:db8::1]'),
    '6 routes[0].cors.origins[3]: expected an IPv6 address between the brackets of the origin, got [1.2.3.4]',
  ]);
});

test('auth.basic: candor check reads the htpasswd file and names each line it cannot use', () => {
  const dir = tempDir('candor-htpasswd-');
  const file = join(dir, 'users');
  writeFileSync(
    file,
    [
      '# a comment, then a blank line',
      '',
      'ok:$2y$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK',
      'md5:$apr1$abc$0123456789012345678901',
      'sha1:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
      'costly:$2y$14$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK',
      'slow:$6$rounds=5000000$salt$eAQtOs5x0BUdulxAzj/qxBsQ9HFx8qUdjHdmS5FKODGOE8BFTsJrCWsboofymbihUgXKFBAmtfkCIaLiwpYd11',
      'plain:secret',
      'no-colon',
      'ok:$5$rounds=1000$saltsalt$R6e4P8ccT9iMqkYg7Z8YtpId/lfsIfnuPkp8WXposU8',
    ].join('\n'),
  );
  const problems = problemsOf(withRoute(`    auth: { basic: { users_file: ${file} } }\n`)).map(
    (p) => p.message,
  );
  const at = JSON.stringify(file);
  assert.deepEqual(problems, [
    `${at}: ${[
      'line 4: user "md5": an MD5 ($apr1$) hash is too weak: use bcrypt (htpasswd -B)',
      'line 5: user "sha1": an unsalted SHA-1 ({SHA}) hash is too weak: use bcrypt (htpasswd -B)',
      'line 6: user "costly": a bcrypt cost of 14 makes every login a CPU burden: use 12 or less',
      'line 7: user "slow": SHA-crypt rounds must be 1000 to 1000000, not 5000000',
      'line 8: user "plain": not a bcrypt ($2y$) or SHA-crypt ($5$, $6$) hash: write it with htpasswd -B',
      'line 9: expected user:hash',
      'line 10: user "ok" is already on an earlier line',
    ].join('; ')}`,
  ]);
  const missing = problemsOf(withRoute(`    auth: { basic: { users_file: ${join(dir, 'nope')} } }\n`));
  assert.match(missing[0].message, /^cannot read ".*nope": /);
  assert.equal(missing[0].path, 'routes[0].auth.basic.users_file');
});

test('auth names a way to authenticate; the realm is a quoted-string without escapes', () => {
  assert.deepEqual(
    problemsOf(withRoute('    auth: { forward_authorization: true }\n')).map(
      (p) => `${p.path}: ${p.message}`,
    ),
    [
      'routes[0].auth: expected one way to authenticate: basic, jwt, forward or oidc (client_certificate may go with one of them)',
    ],
  );
  const dir = tempDir('candor-htpasswd-');
  writeFileSync(
    join(dir, 'users'),
    'a:$6$pepper$eAQtOs5x0BUdulxAzj/qxBsQ9HFx8qUdjHdmS5FKODGOE8BFTsJrCWsboofymbihUgXKFBAmtfkCIaLiwpYd11\n',
  );
  const [realm] = problemsOf(
    withRoute(`    auth: { basic: { users_file: ${join(dir, 'users')}, realm: 'say "hi"' } }\n`),
  );
  assert.equal(realm.path, 'routes[0].auth.basic.realm');
  const config = parseConfig(
    withRoute(`    auth: { basic: { users_file: ${join(dir, 'users')} } }\n`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access, {
    auth: { basic: { usersFile: join(dir, 'users'), realm: 'restricted' }, forwardAuthorization: false },
  });
});

test('auth.jwt: none and HMAC cannot be written; the keys come from exactly one place; a private key file is refused', () => {
  const algorithms = problemsOf(
    withRoute('    auth: { jwt: { jwks_url: "https://idp.test/jwks", algorithms: [HS256, none, RS256] } }\n'),
  ).map((p) => p.path);
  assert.deepEqual(algorithms, ['routes[0].auth.jwt.algorithms[0]', 'routes[0].auth.jwt.algorithms[1]']);
  const dir = tempDir('candor-jwks-');
  writeFileSync(
    join(dir, 'public.json'),
    JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] }),
  );
  writeFileSync(
    join(dir, 'private.json'),
    JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] }),
  );
  const both = problemsOf(
    withRoute(
      `    auth: { jwt: { jwks_url: "https://idp.test/jwks", keys_file: ${join(dir, 'public.json')} } }\n`,
    ),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(both, [
    'routes[0].auth.jwt: expected where the keys are: jwks_url or keys_file (one of them)',
  ]);
  const [priv] = problemsOf(withRoute(`    auth: { jwt: { keys_file: ${join(dir, 'private.json')} } }\n`));
  assert.match(priv.message, /key 0 is a private key: publish only the public part$/);
  const config = parseConfig(
    withRoute(
      `    auth: { jwt: { jwks_url: "https://idp.test:8443/jwks", claims_to_headers: { sub: X-User-Id } } }\n`,
    ),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access?.auth?.jwt, {
    jwksUrl: 'https://idp.test:8443/jwks',
    name: 'idp.test:8443',
    algorithms: ['RS256', 'ES256'],
    clockSkew: 30_000,
    requireExp: true,
    types: ['application/jwt', 'application/at+jwt'],
    jwksMinRefresh: 30_000,
    boundTokens: 'check',
    claimsToHeaders: [{ claim: 'sub', header: 'X-User-Id' }],
    identityClaim: 'sub',
  });
});

test('auth.forward: the service URL names the hop; defaults fill in; two ways at once are refused', () => {
  const config = parseConfig(
    withRoute(
      '    auth: { forward: { url: "http://auth.internal:9000/check", copy_headers: [X-User-Id] } }\n',
    ),
    SOURCE,
    {},
  );
  const { upstream, ...forward } = config.routes[0].access?.auth?.forward ?? {};
  assert.deepEqual(forward, {
    name: 'auth.internal:9000',
    shared: false,
    path: '/check',
    timeout: 5000,
    sendHeaders: ['authorization', 'cookie'],
    copyHeaders: ['x-user-id'],
  });
  // A URL gets a one-target upstream of its own: the upstream defaults, the hop's timeout as its wait.
  assert.equal(upstream?.name, 'auth:auth.internal:9000');
  assert.deepEqual(
    upstream?.targets.map((t) => t.url),
    ['http://auth.internal:9000'],
  );
  assert.equal(upstream?.timeouts.response, 5000);
  assert.equal(upstream?.retries.perTryTimeout, 5000);
  assert.equal(upstream?.circuitBreaker.consecutiveFailures, 20);
  const both = problemsOf(
    withRoute(
      '    auth: { forward: { url: "http://a.test/c" }, jwt: { jwks_url: "https://idp.test/jwks" } }\n',
    ),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(both, [
    'routes[0].auth: expected one way to authenticate: basic, jwt, forward or oidc (client_certificate may go with one of them)',
  ]);
});

test('auth.forward.upstream: the auth service is an upstream of the file, asked at path; cache by a header or a cookie', () => {
  const config = parseConfig(
    `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
    auth:
      forward:
        upstream: sso
        path: /verify?x=1
        cache: { key: "cookie:session" }
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
  sso:
    targets:
      - url: http://127.0.0.1:4180
    circuit_breaker: { consecutive_failures: 3 }
`,
    SOURCE,
    {},
  );
  const forward = config.routes[0].access?.auth?.forward;
  assert.equal(forward?.name, 'sso');
  assert.equal(forward?.shared, true);
  assert.equal(forward?.path, '/verify?x=1');
  assert.equal(forward?.upstream, config.upstreams.sso);
  assert.deepEqual(forward?.cache, {
    key: { kind: 'cookie', name: 'session' },
    ttl: 10_000,
    maxEntries: 10_000,
  });
});

test('auth.forward: url or upstream, one of them; path only with upstream; an unknown upstream is named; a cache key is a header or a cookie', () => {
  const problems = (forward: string) =>
    problemsOf(withRoute(`    auth: { forward: ${forward} }\n`)).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems('{ timeout: 1s }'), [
    'routes[0].auth.forward: expected where the auth service is: url or upstream (one of them)',
  ]);
  assert.deepEqual(problems('{ url: "http://a.test/c", upstream: api }'), [
    'routes[0].auth.forward: expected where the auth service is: url or upstream (one of them)',
  ]);
  assert.deepEqual(problems('{ url: "http://a.test/c", path: /x }'), [
    'routes[0].auth.forward.path: path goes with upstream: a url carries its own path',
  ]);
  assert.deepEqual(problems('{ upstream: apii }'), [
    "routes[0].auth.forward.upstream: no upstream named 'apii' (did you mean 'api'?)",
  ]);
  assert.equal(problems('{ upstream: api, cache: { key: client } }').length, 1);
  assert.match(
    problems('{ upstream: api, cache: { key: client } }')[0],
    /^routes\[0\]\.auth\.forward\.cache\.key: expected header:NAME or cookie:NAME/,
  );
});

test('copy_headers and claims_to_headers may not name a framing, hop-by-hop or Candor-written field: an auth service or a token would set the upstream request’s framing', () => {
  const forward = problemsOf(
    withRoute(`    auth:
      forward:
        url: http://127.0.0.1:9000/check
        copy_headers: [X-User-Id, Content-Length, Transfer-Encoding, Via]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(forward, [
    "8 routes[0].auth.forward.copy_headers[1]: content-length is Candor's to write (framing, forwarding and tracing fields)",
    '8 routes[0].auth.forward.copy_headers[2]: transfer-encoding is hop-by-hop: Candor writes it for each connection',
    "8 routes[0].auth.forward.copy_headers[3]: via is Candor's to write (framing, forwarding and tracing fields)",
  ]);
  const jwt = problemsOf(
    withRoute(`    auth:
      jwt:
        jwks_url: https://idp.example.com/jwks
        claims_to_headers: { sub: X-User-Id, size: Content-Length }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(jwt, [
    "8 routes[0].auth.jwt.claims_to_headers.size: content-length is Candor's to write (framing, forwarding and tracing fields)",
  ]);
});

test('copy_headers and claims_to_headers may not write one field twice (X-User and x-user): both values would go upstream, two fields where the app reads one', () => {
  const forward = problemsOf(
    withRoute(`    auth:
      forward:
        url: http://127.0.0.1:9000/check
        copy_headers: [X-User, X-Groups, x-user]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(forward, [
    "8 routes[0].auth.forward.copy_headers[2]: 'x-user' is written already as 'X-User' (a field name is case-insensitive): the copied value would go upstream beside it, two fields where the app reads one; give each its own field",
  ]);
  const jwt = problemsOf(
    withRoute(`    auth:
      jwt:
        jwks_url: https://idp.example.com/jwks
        claims_to_headers: { sub: X-User, email: X-Email, name: x-USER }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(jwt, [
    "8 routes[0].auth.jwt.claims_to_headers.name: 'x-USER' is written already as 'X-User' (a field name is case-insensitive): the claim 'name' value would go upstream beside it, two fields where the app reads one; give each its own field",
  ]);
});

test('auth.jwt.jwks_url on a port fetch refuses (the Fetch standard’s bad ports) is refused with its line: it could never be fetched', () => {
  const problems = problemsOf(
    withRoute(`    auth:
      jwt: { jwks_url: "http://idp.internal:6000/jwks" }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "6 routes[0].auth.jwt.jwks_url: port 6000 is one the Fetch standard blocks (a bad port): the gateway's fetch of the key set would refuse it; serve the JWKS on another port",
  ]);
  parseConfig(
    withRoute(`    auth:\n      jwt: { jwks_url: "https://idp.internal:8443/jwks" }\n`),
    SOURCE,
    {},
  );
});

test('auth.jwt.jwks_url and auth.forward.url with credentials (user:password@) are refused with their line: fetch refuses such a URL, the forward hop would drop them', () => {
  const problems = problemsOf(
    withRoute(`    auth:
      jwt: { jwks_url: "https://reader:s3cret@idp.internal/jwks" }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '6 routes[0].auth.jwt.jwks_url: a URL with credentials (user:password@) is one the Fetch standard refuses to fetch: the gateway could never read the key set; serve the JWKS where it needs none',
  ]);
  // Forward auth's url: as an upstream target's, its credentials would be dropped unsaid.
  const forward = problemsOf(
    withRoute(`    auth:
      forward: { url: "http://gw:s3cret@auth.internal:9000/check" }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(forward, [
    '6 routes[0].auth.forward.url: expected a URL without credentials, got "http://gw:***@auth.internal:9000/check"',
  ]);
});

test('auth.jwt.clock_skew: 0s is no tolerance (the clocks are one), a negative one is refused', () => {
  const skew = (value: string) =>
    parseConfig(
      withRoute(
        `    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [a], clock_skew: ${value} } }\n`,
      ),
      SOURCE,
      {},
    );
  assert.equal(skew('0s').routes[0].access?.auth?.jwt?.clockSkew, 0);
  assert.equal(skew('45s').routes[0].access?.auth?.jwt?.clockSkew, 45_000);
  assert.throws(() => skew('-1s'), /routes\[0\]\.auth\.jwt\.clock_skew: expected a duration like 0s/);
});

test('auth.jwt.types: media types, compared in their normal form (lower case, application/ written out); by default JWT and at+jwt', () => {
  const types = (value: string) =>
    parseConfig(
      withRoute(`    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [a]${value} } }\n`),
      SOURCE,
      {},
    ).routes[0].access?.auth?.jwt?.types;
  assert.deepEqual(types(''), ['application/jwt', 'application/at+jwt']);
  assert.deepEqual(types(', types: [AT+JWT, application/at+jwt, JWT]'), [
    'application/at+jwt',
    'application/jwt',
  ]);
  assert.throws(
    () => types(', types: []'),
    /routes\[0\]\.auth\.jwt\.types: expected a list of the header typ values/,
  );
  assert.throws(
    () => types(', types: ["at jwt"]'),
    /routes\[0\]\.auth\.jwt\.types\[0\]: expected a media type like at\+jwt or JWT/,
  );
});

test('auth.jwt.bound_tokens: check (RFC 8705 §3, a bound token checked when it is one) by default, require or ignore; anything else refused at its line', () => {
  const text = (value: string) =>
    withRoute(`    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [a]${value} } }\n`);
  const mode = (value: string) =>
    parseConfig(text(value), SOURCE, {}).routes[0].access?.auth?.jwt?.boundTokens;
  assert.equal(mode(''), 'check');
  assert.equal(mode(', bound_tokens: require'), 'require');
  assert.equal(mode(', bound_tokens: ignore'), 'ignore');
  const problems = problemsOf(text(', bound_tokens: always'));
  assert.deepEqual(
    problems.map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      `${problems[0]?.line} routes[0].auth.jwt.bound_tokens: expected one of check, require, ignore, got "always"`,
    ],
  );
  assert.ok((problems[0]?.line ?? 0) > 0);
});

test('auth.identity_header is held to the same bound, and the identity sources read as written (lower-case field names, sub by default)', () => {
  const problems = problemsOf(
    withRoute(`    auth:
      basic: { users_file: ${JSON.stringify(join(import.meta.dirname, 'missing.htpasswd'))} }
      identity_header: Content-Length
`),
  ).map((p) => p.path);
  assert.ok(problems.includes('routes[0].auth.identity_header'), problems.join(', '));
  const config = parseConfig(
    withRoute(`    auth:
      forward: { url: "http://auth.internal:9000/check", identity_from: X-Auth-Request-User }
      identity_header: X-Candor-User
`),
    SOURCE,
    {},
  );
  // Nor RFC 9440's fields, which the gateway writes itself for a verified certificate (a byte sequence).
  const certificate = problemsOf(
    withRoute(`    auth:
      forward: { url: "http://auth.internal:9000/check", identity_from: X-Auth-Request-User }
      identity_header: Client-Cert
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(certificate, [
    "7 routes[0].auth.identity_header: client-cert is RFC 9440's, which Candor writes for a verified client certificate (its DER as :base64:): name another field",
  ]);
  assert.equal(config.routes[0].access?.auth?.identityHeader, 'x-candor-user');
  assert.equal(config.routes[0].access?.auth?.forward?.identityFrom, 'x-auth-request-user');
});
