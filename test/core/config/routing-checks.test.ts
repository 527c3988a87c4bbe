/**
 * The routing fields as `candor check` reads them: each wrong field named with its line, and
 * two routes that claim the same requests refused (the rule is in routing-checks.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { reservedHeaderProblem } from '../../../src/core/config/routing-values.ts';
import { isHopByHop } from '../../../src/core/http1/hop-by-hop.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problem, problemsOf, SOURCE } from './config-fixture.ts';

/** A config whose routes are `routes` (YAML list items, indented two spaces), with upstream "api". */
const withRoutes = (routes: string, upstream = '') => `listen:
  - address: 127.0.0.1:8080
routes:
${routes}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
${upstream}`;

test('a misspelt matching field gets a did-you-mean, inside a header test too', () => {
  const text = withRoutes(`  - match: { path: /a, method: [GET] }
    upstream: api
  - match: { path: /b, headers: { X-Canary: { regexp: "^1$" } } }
    upstream: api
`);
  assert.deepEqual(problemsOf(text), [
    problem(4, 24, 'routes[0].match.method', "unknown field 'method' (did you mean 'methods'?)"),
    problem(
      6,
      47,
      'routes[1].match.headers.X-Canary.regexp',
      "unknown field 'regexp' (did you mean 'regex'?)",
    ),
  ]);
});

test('match.headers testing one field twice in two spellings is refused at the second: two conditions on one field, a route that never matches', () => {
  const text = withRoutes(`  - match: { path: /a, headers: { X-Tenant: "1", x-tenant: "2" } }
    upstream: api
`);
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      50,
      'routes[0].match.headers.x-tenant',
      "the same field as 'X-Tenant' (a field name is case-insensitive): two conditions on one field, both of which must hold; write one",
    ),
  ]);
});

test('a pattern RE2 cannot run in linear time is refused, with the reason', () => {
  const text = withRoutes(`  - match: { headers: { X-A: { regex: "(a)\\\\1" } } }
    upstream: api
  - match: { path: /b }
    upstream: api
    rewrite: { regex: "^/b(?=c)", replace: /c }
`);
  const problems = problemsOf(text);
  assert.deepEqual(
    problems.map((p) => [p.line, p.path]),
    [
      [4, 'routes[0].match.headers.X-A.regex'],
      [8, 'routes[1].rewrite.regex'],
    ],
  );
  assert.match(
    problems[0].message,
    /RE2 syntax \(linear-time: no backreferences or lookarounds\).*invalid escape/,
  );
  assert.match(problems[1].message, /unsupported Perl syntax: `\(\?=`/);
});

test("header rules may not touch what Candor writes, may only set Host, and may only remove an answer's Date", () => {
  const text = withRoutes(`  - upstream: api
    request_headers:
      set: { X-Forwarded-For: 1.2.3.4, Host: internal.example }
      add: { Host: other }
      remove: [Connection, X-Debug]
    response_headers:
      set: { Proxy-Status: ok, X-Frame-Options: DENY, Date: x }
      add: { "Bad Name": x }
      remove: [Date]
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      "6 routes[0].request_headers.set.X-Forwarded-For: x-forwarded-for is Candor's to write (framing, forwarding and tracing fields)",
      '7 routes[0].request_headers.add.Host: host can only be set, in request_headers (a request carries exactly one)',
      '8 routes[0].request_headers.remove[0]: connection is hop-by-hop: Candor writes it for each connection',
      "10 routes[0].response_headers.set.Proxy-Status: proxy-status is Candor's to write (framing, forwarding and tracing fields)",
      "10 routes[0].response_headers.set.Date: date is each answer's own moment (the upstream's, or Candor's): it can only be removed",
      `11 routes[0].response_headers.add["Bad Name"]: expected a header name (letters, digits and !#$%&'*+.^_\`|~-), got "Bad Name"`,
    ],
  );
});

// A key written twice is refused (yaml-walk.ts); one field set under two spellings was taken, and
// each set rule adds its value: two Host fields went upstream, two Cache-Control to the client.
test('a header set twice under two spellings is refused at the second, as a key written twice is', () => {
  const text = withRoutes(`  - upstream: api
    request_headers:
      set: { Host: a.example, host: b.example, X-Api-Key: a, X_Api_Key: b, X-Other: d }
      add: { X-Tag: a, x-tag: b }
    response_headers:
      set: { Cache-Control: no-store, cache-control: private }
`);
  const twice = (before: string) =>
    `the same field as '${before}' (a field name is case-insensitive, and _ is - to a CGI-style app): both values would be sent, two fields where set means one; keep the one you mean`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      `6 routes[0].request_headers.set.host: ${twice('Host')}`,
      `6 routes[0].request_headers.set.X_Api_Key: ${twice('X-Api-Key')}`,
      `9 routes[0].response_headers.set.cache-control: ${twice('Cache-Control')}`,
    ],
  );
});

test("request header rules may not set or add RFC 9440's Client-Cert or Client-Cert-Chain, which Candor writes for a verified certificate; remove stays allowed, and an answer's are no upstream's", () => {
  const text = withRoutes(`  - upstream: api
    request_headers:
      set: { Client-Cert: ":Zm9yZ2Vk:" }
      add: { client-cert-chain: ":Zm9yZ2Vk:" }
      remove: [Client-Cert, Client-Cert-Chain]
  - match: { path: /b }
    upstream: api
    request_headers:
      remove: [client-cert]
    response_headers:
      set: { Client-Cert: ":Zm9v:" }
`);
  const certificate = (name: string) =>
    `${name} is RFC 9440's, which Candor writes for a verified client certificate (its DER as :base64:): name another field`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      `6 routes[0].request_headers.set.Client-Cert: ${certificate('client-cert')}`,
      `7 routes[0].request_headers.add.client-cert-chain: ${certificate('client-cert-chain')}`,
    ],
  );
});

test('every hop-by-hop field of the HTTP/1.1 layer is refused by the header rules too', () => {
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade'])
    assert.ok(isHopByHop(name) && reservedHeaderProblem(name) !== undefined, name);
});

test('a variable that is not one is named, with what was probably meant; an unquoted one says to quote it', () => {
  const text = withRoutes(`  - upstream: api
    request_headers:
      set: { X-Id: "id={reqest_id}", X-Client: {client_ip} }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.path}: ${p.message}`),
    [
      'routes[0].request_headers.set.X-Id: unknown variable {reqest_id} in "id={reqest_id}" (did you mean {request_id}?; "{{" is a literal brace)',
      'routes[0].request_headers.set.X-Client: expected a header value (quote one that starts with "{", like "{request_id}"), got a mapping',
    ],
  );
});

test('a header value or a redirect location that cannot go on the wire as written is refused, with its line', () => {
  // Each was accepted before: the upstream got X-A's \x01 and answered 400; the arrow went out
  // as byte 0x92; the padded value is a malformed field to an HTTP/2 peer.
  const text = withRoutes(`  - upstream: api
    request_headers:
      set: { X-A: "a\\x01b", X-Line: "a\\r\\nX-Injected: 1" }
    response_headers:
      set: { X-U: "caf\\u00e9 \\u2192" }
      add: { X-Padded: " padded " }
  - match: { path: /r }
    redirect: { location: "https://ex\\u00e4mple.com/\\u00fc", status: 301 }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.file === SOURCE} ${p.line} ${p.path}: ${p.message}`),
    [
      'true 6 routes[0].request_headers.set.X-A: expected a header value in visible ASCII, spaces and tabs (percent-encode other characters), got "a\\u0001b"',
      'true 6 routes[0].request_headers.set.X-Line: expected a header value on one line, got "a\\r\\nX-Injected: 1"',
      'true 8 routes[0].response_headers.set.X-U: expected a header value in visible ASCII, spaces and tabs (percent-encode other characters), got "café →"',
      'true 9 routes[0].response_headers.add.X-Padded: expected a header value without whitespace at either end (a peer drops it, an HTTP/2 one refuses the field), got " padded "',
      'true 11 routes[1].redirect.location: expected a URL in visible ASCII, got "https://exämple.com/ü" (write it "https://xn--exmple-cua.com/%C3%BC")',
    ],
  );
});
test('a route forwards or redirects; a redirect goes somewhere, and forwards nothing (nor caches)', () => {
  const text = withRoutes(`  - match: { path: /a }
  - match: { path: /b }
    upstream: api
    redirect: { scheme: https }
  - match: { path: /c }
    redirect: { status: 301 }
  - match: { path: /d }
    redirect: { location: "https://example.com/", port: 8443 }
    strip_prefix: true
  - match: { path: /e }
    redirect: { location: "ftp://example.com/", status: 303 }
  - match: { path: /f }
    redirect: { scheme: https }
    cache: {}
  - match: { path: /g }
    redirect: { scheme: https }
    compression: {}
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      "4 routes[0].upstream: missing required field 'upstream'",
      '7 routes[1].redirect: a route has an upstream or a redirect, not both',
      '9 routes[2].redirect: a redirect needs a location, or a scheme and/or port',
      '11 routes[3].redirect.location: a redirect goes to a fixed location or keeps the host with another scheme and/or port, not both',
      '12 routes[3].strip_prefix: a route that redirects forwards nothing: strip_prefix has nothing to apply to',
      '14 routes[4].redirect.location: expected an http:// or https:// URL, got "ftp://example.com/"',
      '14 routes[4].redirect.status: expected one of 301, 302, 307, 308, got 303',
      '17 routes[5].cache: a route that redirects forwards nothing: cache has nothing to apply to',
      '20 routes[6].compression: a route that redirects forwards nothing: compression has nothing to apply to',
    ],
  );
});

test('a rewrite has a prefix or a regex with its replace, and is not combined with strip_prefix', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    strip_prefix: true
    rewrite: { prefix: /b }
  - match: { path: /b }
    upstream: api
    rewrite: { regex: "^/b" }
  - match: { path: /c }
    upstream: api
    rewrite: { prefix: /x, regex: "^/c", replace: /y }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].strip_prefix: strip_prefix and rewrite both set the path: use rewrite.prefix: / to strip',
      "10 routes[1].rewrite.replace: missing required field 'replace'",
      '13 routes[2].rewrite: a rewrite has a prefix, or a regex and its replace (one of the two)',
    ],
  );
});

test('a replacement whose own text makes a dot-segment is refused: the gateway would answer each request it rewrites 400, blaming the client', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    rewrite: { regex: "^/a/(.*)$", replace: "/static/../$1" }
  - match: { path: /b }
    upstream: api
    rewrite: { regex: "^/b/(?P<rest>.*)$", replace: "/x/%2E/$<rest>" }
  - match: { path: /c }
    upstream: api
    rewrite: { regex: "^/c-(.*)$", replace: "/c/$1.." }
  - match: { path: /d }
    upstream: api
    rewrite: { regex: "^/d/(.*)$", replace: "/d/..x/$1" }
`);
  const own = (replace: string) =>
    `${JSON.stringify(replace)} has a "." or ".." segment of its own: every path it rewrites would leave the route's prefix, and each such request would be refused with a 400 that blames the client; write the path it means`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      `6 routes[0].rewrite.replace: ${own('/static/../$1')}`,
      `9 routes[1].rewrite.replace: ${own('/x/%2E/$<rest>')}`,
    ],
  );
});

test('a replacement naming a group its pattern does not have is refused: the upstream was sent the reference as written', () => {
  // Each loaded: "/n/$2" beside one group went upstream as "/n/$2", "$<rset>" (a typo) as
  // "$<rset>", and "$0" (the whole match in Go or Java) as "$0".
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    rewrite: { regex: "^/a/(.*)$", replace: "/n/$2" }
  - match: { path: /b }
    upstream: api
    rewrite: { regex: "^/b/(?P<rest>.*)$", replace: "/x/$<rset>" }
  - match: { path: /c }
    upstream: api
    rewrite: { regex: "^/c/(.*)$", replace: "/c/$0" }
  - match: { path: /d }
    upstream: api
    rewrite: { regex: "^/d/(.*)$", replace: "/d/$<rest>" }
  - match: { path: /e }
    upstream: api
    rewrite: { regex: "^/e/(?P<rest>.*)/(.*)$", replace: "/e/$<rest>/$2/$$/$10" }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].rewrite.replace: "$2" names group 2, and the pattern has 1 group: the upstream would be sent "$2" as written (a "$" is written "$$")',
      '9 routes[1].rewrite.replace: "$<rset>" names no group of the pattern (its named groups: rest): the upstream would be sent "$<rset>" as written (a "$" is written "$$")',
      '12 routes[2].rewrite.replace: "$0" names group 0, and the pattern has 1 group: the upstream would be sent "$0" as written (groups are numbered from 1; a "$" is written "$$")',
      '15 routes[3].rewrite.replace: "$<rest>" names no group of the pattern (it has no named group): the upstream would be sent "$<rest>" as written (a "$" is written "$$")',
    ],
  );
});

test('a replacement holding what no request path may is refused: it went upstream as written', () => {
  // Each passed the check before: "/f#x" reached the upstream with a fragment in its target,
  // "/é/x" as a byte an HTTP/1.1 parser refuses, "/new?x=a" as "/new?x=a?y=2" (the client's
  // query swallowed into x).
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    rewrite: { regex: "^/a/(.*)$", replace: "/f#$1" }
  - match: { path: /b }
    upstream: api
    rewrite: { regex: "^/b/(.*)$", replace: "/\\u00e9/$1" }
  - match: { path: /c }
    upstream: api
    rewrite: { regex: "^/c/(.*)$", replace: "/new?x=$1" }
  - match: { path: /d }
    upstream: api
    rewrite: { regex: "^/d/(.*)$", replace: "/d\\\\$1" }
  - match: { path: /e }
    upstream: api
    rewrite: { regex: "^/e/(.*)$", replace: "/%zz/$1" }
  - match: { path: /f }
    upstream: api
    rewrite: { regex: "^/f/(.*)$", replace: "/cost/$$/%2F/$1" }
`);
  const wrong = (replace: string, why: string) =>
    `routes[${replace}: expected a path a request may carry, got ${why}`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      `6 ${wrong('0].rewrite.replace', '"/f#$1": it holds a fragment ("#")')}`,
      `9 ${wrong('1].rewrite.replace', '"/é/$1": it holds a byte that is not visible ASCII')}`,
      `12 ${wrong('2].rewrite.replace', '"/new?x=$1": the query goes on as the client sent it, so a replacement has no "?"')}`,
      `15 ${wrong('3].rewrite.replace', '"/d\\\\$1": it holds a backslash')}`,
      `18 ${wrong('4].rewrite.replace', '"/%zz/$1": it holds a "%" that is not followed by two hex digits')}`,
    ],
  );
});

test('two routes that a request could meet both are refused; different conditions are not', () => {
  const text = withRoutes(`  - match: { path: /a, methods: [GET, HEAD] }
    upstream: api
  - match: { path: /a, methods: [POST, GET] }
    upstream: api
  - match: { path: /a, methods: [PUT] }
    upstream: api
  - match: { path: /b, headers: { X-Canary: "1" } }
    upstream: api
  - match: { path: /b, headers: { x-canary: { present: true } } }
    upstream: api
  - match: { path: /b, headers: { X-Canary: { regex: "^[0-9]$" } } }
    upstream: api
  - match: { path: /c, query: { v: "2" } }
    upstream: api
  - match: { path: /c, query: { v: { regex: "^[3-9]$" } } }
    upstream: api
  - match: { path: /c, query: { v: { present: false } } }
    upstream: api
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[1].match: same host, path and conditions as routes[0] (/a): a request could meet both, and only file order would pick',
      '12 routes[4].match: same host, path and conditions as routes[3] (/b): a request could meet both, and only file order would pick',
      // routes[4] (present) takes every value routes[5]'s pattern takes: named as the route that
      // shadows it whole (issue 32, item 4), no longer as routes[3], the first it overlaps.
      '14 routes[5].match: routes[4] (/b, header x-canary present) is tried first (earlier in the file) and matches every request this route matches, so this route would never be used',
    ],
  );
});

test('hash_key needs the hash balancer; a client certificate needs its key', () => {
  const text = withRoutes(
    `  - upstream: api\n`,
    `    hash_key: cookie:session
    tls: { cert: client.pem }
  web:
    targets: [{ url: http://127.0.0.1:3002 }]
    balancer: hash
    hash_key: "cookie:"
`,
  );
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.path}: ${p.message}`),
    [
      'upstreams.api.hash_key: hash_key is read by the hash balancer only: add balancer: hash',
      'upstreams.api.tls.cert: a client certificate needs its private key: add tls.key',
      'upstreams.web.hash_key: expected client, header:NAME or cookie:NAME (e.g. cookie:session), got "cookie:"',
    ],
  );
});

test('the routing fields load into their runtime form', () => {
  const config = parseConfig(
    withRoutes(`  - match: { path: /v1, methods: [GET, GET], headers: { X-Canary: { present: true } }, query: { Debug: "1" } }
    upstream: api
    rewrite: { prefix: /api }
    request_headers: { set: { X-Id: "{request_id}@{host}" }, remove: [X-Debug] }
  - match: { path: /old }
    redirect: { location: "https://example.com/new" }
`),
    SOURCE,
    {},
  );
  const [forward, redirect] = config.routes;
  assert.deepEqual(forward.conditions, {
    // A route that takes GET takes HEAD too (RFC 9110 §9.3.2).
    methods: ['GET', 'HEAD'],
    headers: [{ name: 'x-canary', test: { kind: 'present', present: true } }],
    query: [{ name: 'Debug', test: { kind: 'value', value: '1' } }],
  });
  assert.deepEqual(forward.rewrite, { kind: 'prefix', prefix: '/api' });
  assert.deepEqual(forward.requestHeaders, {
    set: [{ name: 'X-Id', lower: 'x-id', value: [{ variable: 'request_id' }, '@', { variable: 'host' }] }],
    add: [],
    remove: ['x-debug'],
  });
  assert.equal(redirect.upstream, undefined);
  assert.deepEqual(redirect.redirect, { kind: 'location', location: 'https://example.com/new', status: 308 });
});

test('a certificate listed for SNI must go with its key, and be readable', async () => {
  const { testCertificates } = await import('../../../src/kits/fault-kit/tls-certs.ts');
  const { localhost, wrongHost } = testCertificates();
  const text = `listen:
  - address: 127.0.0.1:8443
    tls:
      cert: ${localhost.certPath}
      key: ${localhost.keyPath}
      certificates:
        - { cert: ${localhost.certPath}, key: ${wrongHost.keyPath} }
        - { cert: ${localhost.certPath}, key: missing.key }
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  const problems = problemsOf(text);
  assert.deepEqual(
    problems.map((p) => `${p.line} ${p.path}`),
    ['7 listen[0].tls.certificates[0].key', '8 listen[0].tls.certificates[1].key'],
  );
  assert.match(problems[0].message, /^cannot use this key with ".*localhost\.pem": .*key values mismatch/);
  assert.match(problems[1].message, /^cannot read ".*missing\.key": no such file/);
});

test('a certificate file that holds no certificate is told at its cert field, not blamed on the key', async () => {
  const { testCertificates } = await import('../../../src/kits/fault-kit/tls-certs.ts');
  const { localhost } = testCertificates();
  const dir = tempDir('candor-broken-cert-');
  const cut = join(dir, 'cut.pem');
  const garbage = join(dir, 'garbage.pem');
  const pem = readFileSync(localhost.certPath, 'latin1');
  writeFileSync(cut, pem.slice(0, pem.length / 2));
  writeFileSync(garbage, 'not a certificate\n');
  const text = `listen:
  - address: 127.0.0.1:8443
    tls:
      cert: ${cut}
      key: ${localhost.keyPath}
      certificates:
        - { cert: ${garbage}, key: ${localhost.keyPath} }
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  try {
    assert.deepEqual(
      problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
      [
        `4 listen[0].tls.cert: ${JSON.stringify(cut)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
        `7 listen[0].tls.certificates[0].cert: ${JSON.stringify(garbage)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a standard method written in another case is refused: no client sends it, so the route would match nothing', () => {
  const text = withRoutes(`  - match: { path: /a, methods: [get, Post, PURGE, purge] }
    upstream: api
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '4 routes[0].match.methods[0]: methods are compared as clients send them, in upper case: write GET, not "get"',
      '4 routes[0].match.methods[1]: methods are compared as clients send them, in upper case: write POST, not "Post"',
    ],
  );
});

// A prefix holding an encoded slash (`/a%2Fb`, the normal form) takes only paths that hold one,
// which a route without allow_encoded_slashes answers 400: `candor check` said ok to a route
// that could answer nothing else.
test('a path prefix with %2F or %5C needs allow_encoded_slashes on its route', () => {
  const text = withRoutes(`  - match: { path: /objects/a%2Fb }
    upstream: api
  - match: { path: /win%5Cdir }
    upstream: api
`);
  const refused = (prefix: string) =>
    `"${prefix}" would match only paths holding an encoded slash (%2F or %5C), which this route answers 400: add allow_encoded_slashes: true`;
  assert.deepEqual(problemsOf(text), [
    problem(4, 20, 'routes[0].match.path', refused('/objects/a%2Fb')),
    problem(6, 20, 'routes[1].match.path', refused('/win%5Cdir')),
  ]);
});

// A redirect forwards nothing and answers a path with an encoded slash with its redirect.
test('with allow_encoded_slashes, or on a redirect, the prefix loads, and so does one without an encoded slash', () => {
  const text = withRoutes(`  - match: { path: /objects/a%2Fb }
    upstream: api
    allow_encoded_slashes: true
  - match: { path: /a%3Fb }
    upstream: api
  - match: { path: /win%5Cdir }
    redirect: { scheme: https }
`);
  const config = parseConfig(text, SOURCE, {});
  assert.deepEqual(
    config.routes.map((route) => route.path),
    ['/objects/a%2Fb', '/a%3Fb', '/win%5Cdir'],
  );
});

// A prefix holding ";" matches only paths whose ";" parameters, dropped as a servlet container
// drops them, make another route's path: route-request.ts answers those 400.
test('a path prefix with ";" is refused: the route could answer nothing', () => {
  const text = withRoutes(`  - match: { path: /v1;beta }
    upstream: api
`);
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      20,
      'routes[0].match.path',
      '"/v1;beta" would match only paths with ";" parameters, which the gateway answers 400 where dropping them (as a servlet container does) makes another route\'s path: write "/v1%3Bbeta" for a ";" that is data',
    ),
  ]);
});

test('maintenance, rate_limit, max_in_flight and request_buffering beside a redirect are warnings: the redirect answers first', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    withRoutes(`  - match: { path: /old }
    redirect: { location: "https://example.com/new" }
    maintenance: { retry_after: 30s }
    rate_limit: { rate: 1, burst: 1 }
    max_in_flight: 3
    request_buffering: false
  - upstream: api
    maintenance: { retry_after: 30s }
`),
    SOURCE,
    {},
    { warnings },
  );
  assert.deepEqual(
    warnings.map((w) => `${w.path}: ${w.message}`),
    ['maintenance', 'rate_limit', 'max_in_flight', 'request_buffering'].map(
      (field) =>
        `routes[0].${field}: a route that redirects answers before its admit policies and reads no body: ${field} does nothing here`,
    ),
  );
});
