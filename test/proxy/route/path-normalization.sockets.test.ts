/**
 * Paths are routed in their normal form (issue 31, item 5): a route that closes /admin (here by
 * maintenance: any per-route policy works the same) in front of an upstream that resolves
 * dot-segments cannot be reached through the catch-all by /x/../admin, /./admin, %2e or
 * backslash tricks, or a fragment; over HTTP/1.1 and HTTP/2 alike. The upstream receives the
 * normal form, rewrites cannot leave their prefix, and what cannot be settled is a 400 like
 * the gateway's other refusals. The access log keeps the target as sent beside what went upstream.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

type Protocol = 'HTTP/1.1' | 'HTTP/2';

/** One request with its target exactly as written (node:http's client would resolve it first). */
async function send(
  gw: TestGateway,
  protocol: Protocol,
  target: string,
  authorization?: string,
): Promise<Answer> {
  if (protocol === 'HTTP/1.1') {
    const credentials = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
    const { raw } = await rawRequest(
      gw.port,
      `GET ${target} HTTP/1.1\r\nHost: gw.test\r\n${credentials}Connection: close\r\n\r\n`,
    );
    const split = raw.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(split + 4) };
  }
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({
        ':path': target,
        ':authority': 'gw.test',
        ...(authorization === undefined ? {} : { authorization }),
      });
      const timer = setTimeout(() => reject(new Error(`no answer to ${target} within 5 s`)), 5000);
      let headers: Record<string, string> = {};
      let body = '';
      stream.on('response', (h) => {
        headers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));
      });
      stream.setEncoding('latin1');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({ status: Number(headers[':status']), headers, body });
      });
      stream.end();
    });
  } finally {
    session.destroy();
  }
}

const keep = closeAfterAll();

/** Records each target as received and, as many servers do, serves the path its dot-segments resolve to. */
const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.url ?? '');
    const resolved = new URL(req.url ?? '/', 'http://upstream').pathname;
    res.setHeader('content-type', 'text/plain');
    res.end(resolved.startsWith('/admin') ? 'ADMIN PAGE' : `served ${resolved}`);
  }),
);

/** The staff area is behind basic auth (issue 34): one user, `staff` with password `s3cret`. */
const usersFile = join(tempDir('candor-normal-auth-'), 'users');
writeFileSync(usersFile, `staff:${bcrypt.hashSync('s3cret', 4)}\n`);
const STAFF = `Basic ${Buffer.from('staff:s3cret').toString('base64')}`;

const gw = await keep(
  startTestGateway(
    `name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    maintenance: { retry_after: 90s, message: Closed. }
  - name: staff
    match: { path: /staff }
    upstream: app
    auth:
      basic: { users_file: ${usersFile}, realm: Staff }
  - name: v1
    match: { path: /v1 }
    upstream: app
    rewrite: { prefix: /api/v1 }
  - name: assets
    match: { path: /assets }
    upstream: app
    rewrite: { regex: "^/assets/v-(.*)$", replace: "/static/$1" }
  - name: files
    match: { path: /files }
    upstream: app
    allow_encoded_slashes: true
  - name: moved
    match: { path: /moved }
    redirect: { scheme: https }
  - name: catch-all
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
    retries: { attempts: 1 }
`,
    {},
    'http2: true',
  ),
);

/** What reached the upstream for one request: its target, or undefined when nothing did. */
async function forwarded(
  protocol: Protocol,
  target: string,
  authorization?: string,
): Promise<{ answer: Answer; seen?: string }> {
  const before = received.length;
  const answer = await send(gw, protocol, target, authorization);
  return { answer, seen: received.length > before ? received.at(-1) : undefined };
}

const PROXY_STATUS_400 = (details: string) =>
  `edge-1; error=http_request_error; details="${details.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

for (const protocol of ['HTTP/1.1', 'HTTP/2'] as const) {
  describe(`over ${protocol}`, () => {
    test('every spelling of /admin through the catch-all meets the /admin route and its maintenance', async () => {
      for (const target of [
        '/x/../admin',
        '/./admin',
        '/x/%2e%2e/admin',
        '/x/.%2E/admin',
        '/%61dmin',
        '/admin/x/..',
      ]) {
        const { answer, seen } = await forwarded(protocol, target);
        assert.equal(answer.status, 503, target);
        assert.match(
          answer.headers['proxy-status'] ?? '',
          /^edge-1; error=proxy_internal_response; /,
          target,
        );
        assert.equal(seen, undefined, `${target} reached the upstream`);
        const line = await gw.logFor(answer.headers['x-request-id'] ?? '');
        assert.equal(line.route, 'admin', target);
        assert.equal(line.path, target, 'the log keeps the target as the client sent it');
      }
    });

    test('no spelling of /staff reaches its upstream without credentials: auth runs on the normal form', async () => {
      const spellings = [
        '/x/../staff/list',
        '/./staff/list',
        '/x/%2e%2e/staff/list',
        '/%73taff/list',
        '//staff/list',
      ];
      for (const target of spellings) {
        const { answer, seen } = await forwarded(protocol, target);
        assert.equal(answer.status, 401, target);
        assert.equal(answer.headers['www-authenticate'], 'Basic realm="Staff", charset="UTF-8"', target);
        assert.equal(seen, undefined, `${target} reached the upstream`);
        const line = await gw.logFor(answer.headers['x-request-id'] ?? '');
        assert.equal(line.route, 'staff', target);
        assert.equal(line.auth, 'denied: basic no credentials', target);
      }
      for (const target of spellings) {
        const { answer, seen } = await forwarded(protocol, target, STAFF);
        assert.equal(answer.status, 200, target);
        assert.equal(seen, '/staff/list', target);
      }
    });

    test('the upstream receives the normal form, the query as sent', async () => {
      const { answer, seen } = await forwarded(protocol, '/x/./y/../%7Euser/%2fa?q=%2e%2e/../admin');
      assert.equal(answer.status, 400, 'an encoded slash outside a route that opts in');
      assert.equal(seen, undefined);
      const plain = await forwarded(protocol, '/x/./y/../%7Euser/a%3fb?q=%2e%2e/../admin');
      assert.equal(plain.answer.status, 200);
      assert.equal(plain.seen, '/x/~user/a%3Fb?q=%2e%2e/../admin');
      const line = await gw.logFor(plain.answer.headers['x-request-id'] ?? '');
      assert.equal(line.path, '/x/./y/../%7Euser/a%3fb?q=%2e%2e/../admin');
      assert.equal(line.upstream_path, '/x/~user/a%3Fb?q=%2e%2e/../admin');
      assert.equal(line.route, 'catch-all');
      const same = await forwarded(protocol, '/x/y?z');
      assert.equal(same.seen, '/x/y?z');
      const sameLine = await gw.logFor(same.answer.headers['x-request-id'] ?? '');
      assert.equal(sameLine.upstream_path, undefined, 'no upstream_path when the target went as sent');
    });

    test('a rewrite cannot leave its prefix', async () => {
      // Normalised first: /v1/../../secret is /secret, which the /v1 route does not claim.
      const climbed = await forwarded(protocol, '/v1/../../secret');
      assert.equal(climbed.answer.status, 200);
      assert.equal(climbed.seen, '/secret');
      assert.equal(climbed.answer.body, 'served /secret');
      const inside = await forwarded(protocol, '/v1/users/./7/../8?x=..');
      assert.equal(inside.seen, '/api/v1/users/8?x=..');
      // Before, the pattern sent this as /static/1/../../secret.
      const pattern = await forwarded(protocol, '/assets/v-1/../../secret');
      assert.equal(pattern.seen, '/secret');
      // A pattern can join what it captured into a dot-segment: refused, never resolved.
      const joined = await forwarded(protocol, '/assets/v-../../secret');
      assert.equal(
        joined.answer.status,
        200,
        'normalised first: /assets/secret, which the pattern leaves alone',
      );
      assert.equal(joined.seen, '/assets/secret');
      const made = await forwarded(protocol, '/assets/v-../secret');
      assert.equal(made.answer.status, 400);
      assert.equal(
        made.answer.headers['proxy-status'],
        PROXY_STATUS_400("the route's rewrite of this path has a dot-segment, which would leave its prefix"),
      );
      assert.equal(made.seen, undefined);
      const fine = await forwarded(protocol, '/assets/v-2/app.js');
      assert.equal(fine.seen, '/static/2/app.js');
    });

    test('a rewrite cannot join a dot-segment with parameters either, which a servlet container resolves', async () => {
      // `v-..;x` is a name where the client sent it; the pattern makes `..;x` a segment of its
      // own, which Tomcat, Jetty and Spring read as `..`: /static/..;x/secret is their /secret.
      for (const target of [
        '/assets/v-..;x/secret',
        '/assets/v-%2e%2e;/secret',
        '/assets/v-.%2E;a=1/secret',
      ]) {
        const made = await forwarded(protocol, target);
        assert.equal(made.answer.status, 400, target);
        assert.equal(
          made.answer.headers['proxy-status'],
          PROXY_STATUS_400(
            "the route's rewrite of this path has a dot-segment, which would leave its prefix",
          ),
        );
        assert.equal(made.seen, undefined, target);
      }
      // A name that only holds dots and parameters further in is no dot-segment.
      const name = await forwarded(protocol, '/assets/v-2/..a;x/app.js');
      assert.equal(name.seen, '/static/2/..a;x/app.js');
    });

    test('what cannot be made safe is refused with 400, as the gateway refuses other bad requests', async () => {
      const cases: Array<[string, string]> = [
        ['/x/..\\admin', 'the path cannot be made safe to route: the path holds a backslash'],
        ['/admin#x', 'the request target holds a fragment ("#"), which HTTP does not allow'],
        ['/x?a#b', 'the request target holds a fragment ("#"), which HTTP does not allow'],
        ['/a%00b', 'the path cannot be made safe to route: the path holds an encoded NUL (%00)'],
        [
          '/x/%c0%ae%c0%ae/admin',
          'the path cannot be made safe to route: the path holds an overlong UTF-8 sequence (such as %C0%AE for ".")',
        ],
        // RFC 2279's five- and six-byte forms, in the IIS traversal strings of fuzzing lists.
        [
          '/x/%f8%80%80%80%ae%f8%80%80%80%ae/admin',
          'the path cannot be made safe to route: the path holds an overlong UTF-8 sequence (such as %C0%AE for ".")',
        ],
        [
          '/x/..%FC%80%80%80%80%AFadmin',
          'the path cannot be made safe to route: the path holds an overlong UTF-8 sequence (such as %C0%AE for ".")',
        ],
        [
          '/a%zz',
          'the path cannot be made safe to route: the path holds a "%" that is not followed by two hex digits',
        ],
        [
          '/public/..;/admin',
          'the path cannot be made safe to route: the path holds a dot-segment with parameters (such as "..;"), which servlet containers read as the dot-segment',
        ],
        [
          '/public%2F..%2Fadmin',
          'the path holds an encoded slash (%2F or %5C), which this route does not accept',
        ],
        ['/x/..%5cadmin', 'the path holds an encoded slash (%2F or %5C), which this route does not accept'],
      ];
      for (const [target, details] of cases) {
        const { answer, seen } = await forwarded(protocol, target);
        assert.equal(answer.status, 400, target);
        assert.equal(answer.headers['proxy-status'], PROXY_STATUS_400(details), target);
        assert.equal(answer.headers['cache-control'], 'no-store', target);
        assert.ok(answer.body.includes(`could not accept this request: ${details}.`), answer.body);
        assert.equal(seen, undefined, `${target} reached the upstream`);
        const line = await gw.logFor(answer.headers['x-request-id'] ?? '');
        assert.equal(line.status, 400);
        assert.equal(line.error, 'http_request_error');
        assert.equal(line.details, details);
        assert.equal(line.path, target);
        assert.equal(line.protocol, protocol);
      }
    });

    test('a redirect keeps the normal path, the query as sent', async () => {
      const { answer, seen } = await forwarded(protocol, '/x/../moved/./a/%62?q=%2e');
      assert.equal(answer.status, 308);
      assert.equal(answer.headers.location, 'https://gw.test/moved/a/b?q=%2e');
      assert.equal(seen, undefined);
    });

    test('a route that opts in forwards encoded slashes as they are (hex in upper case)', async () => {
      const { answer, seen } = await forwarded(protocol, '/files/a%2fb/../c%5Cd');
      assert.equal(answer.status, 200);
      assert.equal(seen, '/files/c%5Cd', 'a%2fb is one segment: ".." removes it');
    });
  });
}

test('HTTP/2: a byte above 0x7e in :path is refused as HTTP/1.1 refuses it', async () => {
  const { answer, seen } = await forwarded('HTTP/2', '/caf\u00e9?x=\u00e9');
  assert.equal(answer.status, 400);
  assert.equal(
    answer.headers['proxy-status'],
    // The accept phase's request rules (one set for both protocols) refuse it before routing.
    PROXY_STATUS_400('malformed request (HPE_INVALID_URL: invalid request target)'),
  );
  assert.equal(seen, undefined);
  const query = await forwarded('HTTP/2', '/cafe?x=\u00e9');
  assert.equal(query.answer.status, 400);
  assert.equal(query.seen, undefined);
});

describe('paths options', () => {
  test('merge_slashes: runs of "/" are one before matching (the default); off, an empty segment goes on', async () => {
    const before = received.length;
    assert.equal((await send(gw, 'HTTP/1.1', '//admin')).status, 503);
    assert.equal((await send(gw, 'HTTP/2', '/x//..//admin')).status, 503);
    assert.equal((await send(gw, 'HTTP/1.1', '/a//b///')).status, 200);
    assert.deepEqual(received.slice(before), ['/a/b/']);
    const kept = await keep(
      startTestGateway(`name: edge-1
paths: { merge_slashes: false }
routes:
  - { match: { path: /admin }, upstream: app, maintenance: { retry_after: 1s } }
  - { match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`),
    );
    assert.equal((await send(kept, 'HTTP/1.1', '/a//b')).status, 200);
    assert.equal((await send(kept, 'HTTP/1.1', '/admin//x')).status, 503);
    assert.deepEqual(received.slice(before), ['/a/b/', '/a//b']);
  });

  test('normalize: false routes and forwards the path as sent, and still refuses what cannot be made safe', async () => {
    const raw = await keep(
      startTestGateway(`name: edge-1
paths: { normalize: false }
routes:
  - { match: { path: /v1 }, upstream: app, rewrite: { prefix: /api } }
  - { match: { path: / }, upstream: app }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`),
    );
    const before = received.length;
    assert.equal((await send(raw, 'HTTP/1.1', '/x/%2e%2E/y')).status, 200);
    assert.deepEqual(received.slice(before), ['/x/%2e%2E/y']);
    assert.equal((await send(raw, 'HTTP/1.1', '/a#b')).status, 400);
    assert.equal(
      (await send(raw, 'HTTP/1.1', '/v1/../../secret')).status,
      400,
      'the rewrite would leave /api',
    );
    assert.deepEqual(received.slice(before), ['/x/%2e%2E/y']);
  });
});
