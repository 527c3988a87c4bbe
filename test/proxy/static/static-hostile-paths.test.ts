/**
 * routes[].static as an outsider probes it, on raw sockets (the request bytes exactly as written,
 * nothing normalised on the client's side): every spelling of a way out of root (dot-segments
 * plain, encoded in either case, half encoded, double encoded, backslashes, NUL, overlong UTF-8,
 * an absolute-form target), dotfiles, a directory's redirect (the query kept, never to another
 * host), a symbolic link to a directory, the methods and the conditionals (RFC 9110 §13.2.2's
 * order), names with spaces, `%` and non-ASCII letters asked by their percent-encoding, and a
 * root that is `/` itself.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-hostile-');
const root = join(dir, 'site');
let gw: TestGateway;

before(async () => {
  mkdirSync(join(root, 'docs'), { recursive: true });
  mkdirSync(join(root, 'bare'));
  mkdirSync(join(root, '.git'));
  mkdirSync(join(dir, 'outdir'));
  writeFileSync(join(dir, 'secret.txt'), 'OUTSIDE');
  writeFileSync(join(dir, 'outdir', 'x.txt'), 'OUTSIDE');
  writeFileSync(join(root, '.git', 'config'), 'SECRET');
  writeFileSync(join(root, '.env'), 'SECRET');
  writeFileSync(join(root, '.htpasswd'), 'SECRET');
  writeFileSync(join(root, 'docs', 'index.html'), 'DOCS');
  writeFileSync(join(root, 'docs', 'a.txt'), 'A');
  // A time in the past: a file system whose clock is not the gateway's can stamp a new file a
  // second ahead, sent as the gateway's now, which then moves under the conditionals below.
  const past = new Date('2026-05-01T12:00:00Z');
  utimesSync(join(root, 'docs', 'a.txt'), past, past);
  writeFileSync(join(root, 'with space.txt'), 'SPACE');
  writeFileSync(join(root, '100%.txt'), 'PERCENT');
  writeFileSync(join(root, 'café.txt'), 'CAFE');
  writeFileSync(join(root, 'what?.txt'), 'QUESTION');
  writeFileSync(join(root, 'a#b.txt'), 'HASH');
  writeFileSync(join(root, 'a+b.txt'), 'PLUS');
  writeFileSync(join(root, '%2e%2e'), 'LITERAL');
  writeFileSync(join(root, 'notes.unknownext'), 'U');
  writeFileSync(join(root, 'PAGE.HTML'), 'P');
  // A directory reached by a link that stays under root (a `latest -> docs` a deploy keeps), and
  // one that leads out of it.
  symlinkSync(join(root, 'docs'), join(root, 'latest'));
  symlinkSync(join(dir, 'outdir'), join(root, 'out-link'));
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root}, cache_control: no-cache }
`);
});

after(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  head: string;
  body: string;
}

/** One request of `target` exactly as written; its status, head (lower-cased names) and body. */
async function send(target: string, fields = '', method = 'GET'): Promise<Answer> {
  const res = await rawRequest(
    gw.port,
    `${method} ${target} HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`,
  );
  const end = res.raw.indexOf('\r\n\r\n');
  return { status: res.status, head: res.raw.slice(0, end), body: res.raw.slice(end + 4) };
}

function field(answer: Answer, name: string): string | undefined {
  return new RegExp(`\r\n${name}: ([^\r]*)`, 'i').exec(answer.head)?.[1];
}

test('no spelling of a way out of root reads a byte outside it: plain, encoded, double encoded, backslash, NUL, overlong UTF-8, absolute-form', async () => {
  const statuses: Record<string, number> = {};
  for (const target of [
    '/../secret.txt',
    '/../../../../etc/passwd',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..%2fsecret.txt',
    '/.%2e/secret.txt',
    '/%252e%252e/secret.txt',
    '/..\\..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/docs/a.txt%00.html',
    '/%c0%ae%c0%ae/secret.txt',
    'http://x/../secret.txt',
    'http://x/%2e%2e/secret.txt',
    '/out-link/x.txt',
    '/out-link',
  ]) {
    const res = await send(target);
    statuses[target] = res.status;
    assert.ok(!res.body.includes('OUTSIDE'), `${target} read a file outside root`);
  }
  assert.deepEqual(statuses, {
    // Dot-segments the router's normal form removes (RFC 3986 §5.2.4) stop at the route's root:
    // the root's own secret.txt, which is not there.
    '/../secret.txt': 404,
    '/../../../../etc/passwd': 404,
    '/%2e%2e/secret.txt': 404,
    '/%2E%2E/secret.txt': 404,
    '/.%2e/secret.txt': 404,
    'http://x/../secret.txt': 404,
    'http://x/%2e%2e/secret.txt': 404,
    // An encoded slash or backslash, a raw backslash, NUL, bytes that are no UTF-8: no name.
    '/%2E%2E%2Fsecret.txt': 400,
    '/..%2fsecret.txt': 400,
    '/..\\..\\secret.txt': 400,
    '/%5c..%5csecret.txt': 400,
    '/docs/a.txt%00.html': 400,
    '/%c0%ae%c0%ae/secret.txt': 400,
    // Decoded once: `%2e%2e` is a name like any other, not there under this one.
    '/%252e%252e/secret.txt': 404,
    // A link out of root, on the way or as the last name.
    '/out-link/x.txt': 404,
    '/out-link': 404,
  });
  // Decoded once, never twice: `%252e%252e` names the file called `%2e%2e`.
  const literal = await send('/%252e%252e');
  assert.deepEqual([literal.status, literal.body], [200, 'LITERAL']);
});

test('dotfiles are the 404 a missing file is, a directory of them too', async () => {
  for (const target of [
    '/.git/config',
    '/.git/',
    '/.git',
    '/.env',
    '/.htpasswd',
    '/%2eenv',
    '/docs/../.env',
  ]) {
    const res = await send(target);
    assert.equal(res.status, 404, target);
    assert.match(String(field(res, 'proxy-status')), /error=destination_not_found/, target);
    assert.ok(!res.body.includes('SECRET'), target);
  }
});

test('a directory without its `/` is sent there, the query kept; never to another host; without an index a 404, never a listing', async () => {
  const moved = await send('/docs?a=1&b=%2F');
  assert.equal(moved.status, 301);
  assert.equal(field(moved, 'location'), '/docs/?a=1&b=%2F');
  const bare = await send('/bare');
  assert.deepEqual([bare.status, field(bare, 'location')], [301, '/bare/']);
  const listing = await send('/bare/');
  assert.equal(listing.status, 404);
  const index = await send('/docs/');
  assert.deepEqual([index.status, index.body], [200, 'DOCS']);
  // A path that would make a network-path reference: merged to one `/` (the router's default),
  // encoded slashes and backslashes refused; no Location names a host.
  for (const target of [
    '//evil.com/',
    '//evil.com',
    '/%2f%2fevil.com',
    '/%5cevil.com',
    '/%2F%2Fevil.com%2F',
  ]) {
    const res = await send(target);
    assert.ok([400, 404].includes(res.status), `${target}: ${res.status}`);
    assert.equal(field(res, 'location'), undefined, target);
  }
});

test('a link to a directory under root is that directory: sent to its `/`, its index and files served', async () => {
  const moved = await send('/latest?v=1');
  assert.equal(moved.status, 301);
  assert.equal(field(moved, 'location'), '/latest/?v=1');
  const index = await send('/latest/');
  assert.deepEqual([index.status, index.body], [200, 'DOCS']);
  const file = await send('/latest/a.txt');
  assert.deepEqual([file.status, file.body], [200, 'A']);
});

test('GET and HEAD only: every other method a 405 with Allow; a HEAD has the head of its GET, to the field', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const res = await send('/docs/a.txt', 'Content-Length: 0\r\n', method);
    assert.equal(res.status, 405, method);
    assert.equal(field(res, 'allow'), 'GET, HEAD', method);
  }
  const without = (answer: Answer) => answer.head.replace(/\r\n(date|x-request-id): [^\r]*/gi, '');
  for (const target of ['/docs/a.txt', '/docs', '/nothing.txt']) {
    const get = await send(target);
    const head = await send(target, '', 'HEAD');
    assert.equal(without(head), without(get), target);
    assert.equal(head.body, '', target);
  }
});

test('conditionals in RFC 9110 §13.2.2 order: If-None-Match (weak compare, lists, `*`) over If-Modified-Since; a 304 has the validators and Cache-Control, no body', async () => {
  const first = await send('/docs/a.txt');
  const etag = String(field(first, 'etag'));
  const modified = String(field(first, 'last-modified'));
  const cases: [string, number][] = [
    [`If-None-Match: ${etag}\r\n`, 304],
    [`If-None-Match: W/${etag}\r\n`, 304],
    [`If-None-Match: "a", W/"b",${etag}\r\n`, 304],
    ['If-None-Match: *\r\n', 304],
    ['If-None-Match: "other"\r\n', 200],
    // If-None-Match present: If-Modified-Since is not looked at, whichever way it would go.
    [`If-None-Match: "other"\r\nIf-Modified-Since: ${modified}\r\n`, 200],
    [`If-None-Match: ${etag}\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n`, 304],
    [`If-Modified-Since: ${modified}\r\n`, 304],
    ['If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n', 200],
    // §13.2.2 step 4: not modified since a date ahead of it (a client's clock ahead) is 304.
    ['If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n', 304],
    // §5.6.7: the obsolete forms are read as well.
    [`If-Modified-Since: ${asctime(modified)}\r\n`, 304],
    // §13.1.3: a value that is no HTTP-date, or more than one, is ignored.
    ['If-Modified-Since: yesterday\r\n', 200],
    [`If-Modified-Since: ${modified}, ${modified}\r\n`, 200],
  ];
  for (const [fields, status] of cases) {
    const res = await send('/docs/a.txt', fields);
    assert.equal(res.status, status, fields);
    if (status !== 304) continue;
    assert.equal(field(res, 'etag'), etag, fields);
    assert.equal(field(res, 'last-modified'), modified, fields);
    assert.equal(field(res, 'cache-control'), 'no-cache', fields);
    assert.equal(field(res, 'content-type'), undefined, fields);
    assert.equal(res.body, '', fields);
  }
  const head = await send('/docs/a.txt', `If-None-Match: ${etag}\r\n`, 'HEAD');
  assert.equal(head.status, 304);
  // `*` is met by a current file only: a missing one is the 404.
  assert.equal((await send('/nothing.txt', 'If-None-Match: *\r\n')).status, 404);
});

test('names with a space, a `%` and a non-ASCII letter are reached by their percent-encoding; the type by extension, any case, else octet-stream, always nosniff', async () => {
  for (const [target, body, type] of [
    ['/with%20space.txt', 'SPACE', 'text/plain; charset=utf-8'],
    ['/100%25.txt', 'PERCENT', 'text/plain; charset=utf-8'],
    ['/caf%C3%A9.txt', 'CAFE', 'text/plain; charset=utf-8'],
    ['/caf%c3%a9.txt', 'CAFE', 'text/plain; charset=utf-8'],
    ['/what%3F.txt', 'QUESTION', 'text/plain; charset=utf-8'],
    ['/a%23b.txt', 'HASH', 'text/plain; charset=utf-8'],
    ['/a+b.txt', 'PLUS', 'text/plain; charset=utf-8'],
    ['/notes.unknownext', 'U', 'application/octet-stream'],
    ['/PAGE.HTML', 'P', 'text/html; charset=utf-8'],
  ]) {
    const res = await send(target);
    assert.deepEqual([res.status, res.body], [200, body], target);
    assert.equal(field(res, 'content-type'), type, target);
    assert.equal(field(res, 'x-content-type-options'), 'nosniff', target);
  }
  // The raw bytes of a non-ASCII name are no request-target (RFC 9112 §3.2), a `%` not followed
  // by two hex digits no percent-encoding, and Latin-1's `%E9` no UTF-8: each a 400.
  for (const target of ['/caf\u00e9.txt', '/100%.txt', '/caf%E9.txt'])
    assert.equal((await send(target)).status, 400, target);
});

test("a root that is the file system's own `/` serves the files under it (every real path is under `/`)", async (t) => {
  const whole = await startTestGateway(`name: edge-1
routes:
  - match: { path: /fs }
    static: { root: / }
`);
  t.after(() => whole.close());
  const res = await rawRequest(
    whole.port,
    `GET /fs${join(root, 'docs', 'a.txt')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(res.status, 200, res.raw);
  assert.ok(res.raw.endsWith('\r\n\r\nA'), res.raw);
});

/** An IMF-fixdate (`Sat, 28 Nov 2026 02:47:15 GMT`) in asctime's form (`Sat Nov 28 02:47:15 2026`). */
function asctime(date: string): string {
  const [, day, dd, month, year, time] = /^(\w{3}), (\d{2}) (\w{3}) (\d{4}) (\S+) GMT$/.exec(date) ?? [];
  return `${day} ${month} ${dd.replace(/^0/, ' ')} ${time} ${year}`;
}
