/**
 * Listener names and the route fields that read them (issue 31, item 6): names are unique (a
 * listener without one is named by its address), `match.listener` names listeners that exist,
 * `match.scheme` is one its listeners serve, and a redirect that sends a request to its own
 * scheme, host, port and path is refused, each with file, line and field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const tls = () =>
  `tls: { cert: ${testCertificates().localhost.certPath}, key: ${testCertificates().localhost.keyPath} }`;

const config = (routes: string, listen = '') => `listen:
  - { name: public, address: 127.0.0.1:8080 }
  - name: public-tls
    address: 127.0.0.1:8443
    ${tls()}
${listen}routes:
${routes}upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;

const lines = (problems: readonly ConfigProblem[]) =>
  problems.map((p) => `${p.line} ${p.path}: ${p.message}`);

test('a listener is named by its address unless it has a name; names are unique', () => {
  const loaded = parseConfig(config('  - upstream: api\n', '  - address: 127.0.0.1:9000\n'), SOURCE, {});
  assert.deepEqual(
    loaded.listen.map((l) => l.name),
    ['public', 'public-tls', '127.0.0.1:9000'],
  );
  const text = config(
    '  - upstream: api\n',
    `  - { name: public, address: 127.0.0.1:9000 }
  - { name: "127.0.0.1:8080", address: 127.0.0.1:9001 }
  - { address: 127.0.0.1:9002 }
  - { name: 9lives, address: 127.0.0.1:9003 }
  - { name: 127.0.0.1:9002, address: 127.0.0.1:9004 }
`,
  );
  assert.deepEqual(lines(problemsOf(text)), [
    "6 listen[2].name: duplicate listener name 'public' (already the name of listen[0]; a listener without a name is named by its address)",
    `7 listen[3].name: expected a listener name of letters, digits, '.', '_', '-' or ':', starting with a letter, got "127.0.0.1:8080"`,
    `9 listen[5].name: expected a listener name of letters, digits, '.', '_', '-' or ':', starting with a letter, got "9lives"`,
    `10 listen[6].name: expected a listener name of letters, digits, '.', '_', '-' or ':', starting with a letter, got "127.0.0.1:9002"`,
  ]);
});

test('match.listener names listeners that exist; match.scheme is one they serve', () => {
  const text = config(`  - match: { path: /a, listener: pubic }
    upstream: api
  - match: { path: /b, listener: [public, nope] }
    upstream: api
  - match: { path: /c, listener: public, scheme: https }
    upstream: api
`);
  assert.deepEqual(lines(problemsOf(text)), [
    "7 routes[0].match.listener: no listener named 'pubic' (did you mean 'public'?)",
    "9 routes[1].match.listener[1]: no listener named 'nope' (defined: public, public-tls)",
    '11 routes[2].match.scheme: no listener this route can take requests from serves https: the route would never be used',
  ]);
});

test('a redirect to its own scheme, host, port and path is refused on the listeners it can loop on', () => {
  // The complete example as it was (issue 31, item 6): both looped on the TLS listener.
  const text = config(`  - match: { host: www.example.com }
    redirect: { scheme: https, status: 308 }
  - match: { host: admin.example.com }
    redirect: { scheme: https, port: 8443, status: 307 }
  - match: { host: plain.example.com }
    redirect: { port: 8080 }
`);
  const loop = (listener: string, scheme: string, port: number) =>
    `on listener '${listener}' (${scheme}, port ${port}) this redirect sends a request to its own scheme, host, port and path, and a client would follow it forever: add match.scheme or match.listener so the route takes only the requests it moves elsewhere`;
  assert.deepEqual(lines(problemsOf(text)), [
    `8 routes[0].redirect: ${loop('public-tls', 'https', 8443)}`,
    `10 routes[1].redirect: ${loop('public-tls', 'https', 8443)}`,
    `12 routes[2].redirect: ${loop('public', 'http', 8080)}`,
  ]);
  // Each kept to the requests it moves elsewhere.
  const fixed = config(`  - match: { host: www.example.com, listener: public }
    redirect: { scheme: https, status: 308 }
  - match: { host: admin.example.com, scheme: http }
    redirect: { scheme: https, port: 8443, status: 307 }
  - match: { host: plain.example.com, listener: public-tls }
    redirect: { port: 8080 }
`);
  assert.equal(parseConfig(fixed, SOURCE, {}).routes.length, 3);
});

test('a redirect to a fixed location that this route takes again is refused; one another route takes first, or to a host the route is not for, is not', () => {
  const text = config(`  - match: { host: www.example.com, path: /docs }
    redirect: { location: "https://www.example.com:8443/docs/start" }
  - match: { host: old.example.com, path: /old }
    redirect: { location: "http://old.example.com/old" }
  - match: { path: / }
    redirect: { location: "https://new.example.com/" }
  - match: { path: /moved, scheme: http }
    redirect: { location: "https://www.example.com/moved" }
  - match: { path: /gone }
    redirect: { location: "https://www.example.com:9443/gone" }
  - match: { path: /start }
    redirect: { location: "https://www.example.com:8443/start/here" }
  - match: { path: /start/here }
    upstream: api
`);
  assert.deepEqual(lines(problemsOf(text)), [
    "8 routes[0].redirect.location: on listener 'public-tls' (https, port 8443) this redirect sends a request to https://www.example.com:8443/docs/start, which this route takes again, and a client would follow it forever: point it elsewhere, or add match.scheme, match.listener or a narrower match.path so the route does not take the requests it moves to",
    "10 routes[1].redirect.location: on listener 'public' (http, port 8080) this redirect sends a request to http://old.example.com/old (port 80, or one mapped to 8080), which this route takes again, and a client would follow it forever: point it elsewhere, or add match.scheme, match.listener or a narrower match.path so the route does not take the requests it moves to",
  ]);
});

test('the metrics and admin listeners, and a wildcard, cannot share a main listener’s port: each clash is a problem naming both', () => {
  const text = `listen:
  - address: 0.0.0.0:8080
  - address: 127.0.0.1:8080
  - address: "[::]:9901"
  - address: "[::1]:9464"
metrics: { listen: 127.0.0.1:8080 }
admin: { token_env: TOKEN }
routes:
  - name: web
    upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  const clash = (address: string, label: string, other: string) =>
    `${address} is where ${label} (${other}) listens already: the gateway could not open both (address in use)`;
  // Two main listeners both open under serve's workers (SO_REUSEPORT): seen with two workers, 20
  // connections of 20 to 127.0.0.1 went to its listener, those to another address to 0.0.0.0's.
  const overlap = (address: string, label: string, other: string, specific: string, wild: string) =>
    `${address} is where ${label} (${other}) listens already: under candor serve's workers (SO_REUSEPORT) both open and ${specific} takes every connection to its address, ${wild} only the others (in one process the second cannot open: address in use); give them different ports, or keep one`;
  assert.deepEqual(lines(problemsOf(text, { TOKEN: 'a-token-of-32-characters-or-so-00' })), [
    `3 listen[1].address: ${overlap('127.0.0.1:8080', 'listen[0]', '0.0.0.0:8080', 'listen[1] (127.0.0.1:8080)', 'listen[0]')}`,
    `6 metrics.listen: ${clash('127.0.0.1:8080', 'listen[0]', '0.0.0.0:8080')}`,
    `7 admin: ${clash("127.0.0.1:9901 (admin.listen's default)", 'listen[2]', '[::]:9901')}`,
  ]);
  // An address of the other family than a 0.0.0.0, on its port, is another socket.
  assert.deepEqual(
    lines(
      problemsOf(
        text.replace('  - address: 127.0.0.1:8080\n', '').replace('127.0.0.1:8080 }', '"[::1]:8080" }'),
        { TOKEN: 'a-token-of-32-characters-or-so-00' },
      ),
    ).filter((l) => l.includes('8080')),
    [],
  );
});

// A listen host is looked up when its listener opens: workers bind with SO_REUSEPORT, so both
// sockets of one address twice opened, and the kernel shared its connections between the two
// listeners (and their routes, TLS or not) at random, while check said ok.
test('one address written two ways (localhost, 127.1, [0::1]) on one port is a duplicate listen address, at the second', () => {
  const text = `listen:
  - { name: a, address: localhost:8080 }
  - { name: b, address: 127.0.0.1:8080 }
  - address: 127.1:8081
  - address: 127.0.0.1:8081
  - address: "[0::1]:8082"
  - address: "[::1]:8082"
  - address: 0:8083
  - address: 127.0.0.1:8083
  - address: localhost:8084
  - address: 10.0.0.1:8084
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  const duplicate = (address: string, label: string, other: string, spelled: string) =>
    `duplicate listen address ${address}: ${label} (${other}) listens there already, and ${spelled}; the two would share its connections at random: write each address once`;
  assert.deepEqual(lines(problemsOf(text)), [
    `3 listen[1].address: ${duplicate('127.0.0.1:8080', 'listen[0]', 'localhost:8080', 'localhost is 127.0.0.1 or ::1 as the system resolves it')}`,
    `5 listen[3].address: ${duplicate('127.0.0.1:8081', 'listen[2]', '127.1:8081', '127.1 is 127.0.0.1')}`,
    `7 listen[5].address: ${duplicate('[::1]:8082', 'listen[4]', '[0::1]:8082', '0::1 is ::1')}`,
    "9 listen[7].address: 127.0.0.1:8083 is where listen[6] (0:8083) listens already, and 0 is 0.0.0.0: under candor serve's workers (SO_REUSEPORT) both open and listen[7] (127.0.0.1:8083) takes every connection to its address, listen[6] only the others (in one process the second cannot open: address in use); give them different ports, or keep one",
  ]);
  // Both wildcards: every IPv4 connection goes to 0.0.0.0's socket, :: keeps IPv6's alone.
  assert.deepEqual(
    lines(problemsOf(text.replace('  - address: 127.0.0.1:8083\n', '  - address: "[::]:8083"\n'))).at(-1),
    "9 listen[7].address: [::]:8083 is where listen[6] (0:8083) listens already, and 0 is 0.0.0.0: under candor serve's workers (SO_REUSEPORT) both open and listen[6] (0:8083) takes every IPv4 connection, listen[7] only the others (in one process the second cannot open: address in use); give them different ports, or keep one",
  );
});

// Seen with candor serve: both opened, and every connection to 127.0.0.1:8085 went to the IPv4
// listener (the kernel scores an AF_INET socket above an IPv4-mapped AF_INET6 one), so the
// routes only the mapped listener took were never reached, from a file check said was fine.
test('an IPv4-mapped IPv6 listen address ([::ffff:127.0.0.1]) is its IPv4 address: beside that address it is a duplicate', () => {
  const text = `listen:
  - { name: a, address: "[::ffff:127.0.0.1]:8085" }
  - { name: b, address: 127.0.0.1:8085 }
  - { name: c, address: "[::FFFF:7f00:2]:8086" }
  - { name: d, address: "127.0.0.2:8086" }
  - { name: e, address: "[::ffff:127.0.0.1]:8087" }
  - { name: f, address: "[::1]:8087" }
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  const mapped = (address: string, label: string, other: string, spelled: string) =>
    `duplicate listen address ${address}: ${label} (${other}) listens there already, and ${spelled}; the kernel gives the IPv4 socket every connection and the other none: write each address once`;
  assert.deepEqual(lines(problemsOf(text)), [
    `3 listen[1].address: ${mapped('127.0.0.1:8085', 'listen[0]', '[::ffff:127.0.0.1]:8085', '::ffff:127.0.0.1 is 127.0.0.1')}`,
    `5 listen[3].address: ${mapped('127.0.0.2:8086', 'listen[2]', '[::FFFF:7f00:2]:8086', '::FFFF:7f00:2 is 127.0.0.2')}`,
  ]);
});

// A host that ends in a number is read as an IPv4 address (127.1 is 127.0.0.1), or is none: no
// top-level domain is numeric. `10.0.0.256:8080`, a typo of an address, passed candor check and
// failed only when serve opened it (`cannot listen on 10.0.0.256:8080 (ENOTFOUND)`, a DNS lookup
// of the text), or on a reload that moved the listener there.
test('a listen host that ends in a number but is no IPv4 address is refused at its field', () => {
  const text = `listen:
  - address: 10.0.0.256:8080
  - address: 127.0.0.1.5:8081
  - address: 1.2.3:8082
admin: { listen: "999.0.0.1:9901", token_env: ADMIN_TOKEN }
metrics: { listen: "127.0.0.0x100:9464" }
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;
  const no = (address: string, host: string) =>
    `expected host:port like 127.0.0.1:8080 or [::1]:8080, got "${address}" (${host} ends in a number, so it is read as an IPv4 address, and is none: a host name never ends in a number)`;
  assert.deepEqual(lines(problemsOf(text, { ADMIN_TOKEN: 'a'.repeat(32) })), [
    `2 listen[0].address: ${no('10.0.0.256:8080', '10.0.0.256')}`,
    `3 listen[1].address: ${no('127.0.0.1.5:8081', '127.0.0.1.5')}`,
    `5 admin.listen: ${no('999.0.0.1:9901', '999.0.0.1')}`,
    `6 metrics.listen: ${no('127.0.0.0x100:9464', '127.0.0.0x100')}`,
  ]);
});
