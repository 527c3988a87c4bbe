/**
 * routes[].static on real sockets through the library gateway: files under a root with their
 * validators, 304, 206, 416, HEAD, precompressed siblings, index and fallback, cache_control; no
 * byte of a path leaves root (encoded dots and slashes, backslashes, NUL, dotfiles, long names,
 * a symbolic link out of root, a file swapped for one); only GET and HEAD.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const dir = tempDir('candor-static-');
const root = join(dir, 'site');
const outside = join(dir, 'secret.txt');
const APP = 'console.log("candor");\n'.repeat(100);
const DATA_TIME = new Date('2026-05-01T12:00:00.750Z');
let gw: TestGateway;

before(async () => {
  mkdirSync(join(root, 'docs'), { recursive: true });
  mkdirSync(join(root, 'app'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  writeFileSync(join(root, 'app.js'), APP);
  writeFileSync(join(root, 'app.js.br'), 'BROTLI-BYTES');
  writeFileSync(join(root, 'app.js.gz'), 'GZIP-BYTES');
  writeFileSync(join(root, 'data.bin'), Buffer.from('0123456789'));
  // A time of its own in the past: a file system whose clock is not the gateway's (a host's share,
  // an overlay) can stamp a new file a second ahead, which the gateway then sends as its own now.
  utimesSync(join(root, 'data.bin'), DATA_TIME, DATA_TIME);
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'ahead.txt'), 'from a clock ahead');
  // A file whose time is ahead of the gateway's clock (a build machine's skewed clock, a tar's).
  utimesSync(join(root, 'ahead.txt'), new Date('2099-01-01T00:00:00Z'), new Date('2099-01-01T00:00:00Z'));
  for (const release of ['release-1', 'release-2']) {
    mkdirSync(join(dir, release));
    writeFileSync(join(dir, release, 'version.txt'), release);
  }
  symlinkSync(join(dir, 'release-1'), join(dir, 'current'));
  writeFileSync(join(root, '.env'), 'SECRET=1');
  mkdirSync(join(root, '.well-known'));
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:security@example.com\n');
  writeFileSync(join(root, '.well-known', '.secret'), 'SECRET=1');
  mkdirSync(join(root, 'docs', '.well-known'));
  writeFileSync(join(root, 'docs', '.well-known', 'security.txt'), 'SECRET=1');
  writeFileSync(join(root, 'app', 'shell.html'), '<h1>spa</h1>');
  writeFileSync(outside, 'outside root');
  symlinkSync(outside, join(root, 'leak.txt'));
  symlinkSync(outside, join(root, 'app', 'leak.txt'));
  writeFileSync(join(root, 'app', 'other.html'), '<h1>other</h1>');
  symlinkSync(join(root, 'app', 'other.html'), join(root, 'app', 'other-link.html'));
  symlinkSync(dir, join(root, 'up'));
  execFileSync('mkfifo', [join(root, 'pipe')]);
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: /release }
    static: { root: ${dir}/current }
  - match: { path: /spa }
    static: { root: ${root}/app, fallback: /shell.html }
  - match: { path: /manual }
    static: { root: ${root}/docs }
  - match: { path: / }
    static:
      root: ${root}
      precompressed: [br, gzip]
      cache_control: public, max-age=60
`);
});

after(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a file is answered with its type, length, strong validators, cache_control and Vary', async () => {
  const res = await request(gw.url, { path: '/data.bin' });
  assert.equal(res.status, 200);
  assert.equal(res.text, '0123456789');
  assert.equal(res.headers['content-type'], 'application/octet-stream');
  assert.equal(res.headers['content-length'], '10');
  assert.equal(res.headers['cache-control'], 'public, max-age=60');
  assert.equal(res.headers.vary, 'Accept-Encoding');
  assert.equal(res.headers['accept-ranges'], 'bytes');
  assert.match(String(res.headers.etag), /^"[0-9a-f]+-a-[0-9a-f]+"$/);
  assert.equal(res.headers['last-modified'], 'Fri, 01 May 2026 12:00:00 GMT');
  assert.ok(res.headers['x-request-id']);
  const html = await request(gw.url, { path: '/' });
  assert.equal(html.status, 200);
  assert.equal(html.text, '<h1>home</h1>');
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
});

test('HEAD has the GET head and no body', async () => {
  const raw = await rawRequest(gw.port, 'HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(raw.raw, /^HTTP\/1\.1 200 /);
  assert.match(raw.raw, /content-length: 10\r\n/i);
  assert.ok(raw.raw.endsWith('\r\n\r\n'), raw.raw);
});

test('If-None-Match and If-Modified-Since give a 304 with the validators; If-Match failed a 412', async () => {
  const first = await request(gw.url, { path: '/data.bin' });
  const etag = String(first.headers.etag);
  const byTag = await request(gw.url, { path: '/data.bin', headers: { 'if-none-match': `"x", ${etag}` } });
  assert.equal(byTag.status, 304);
  assert.equal(byTag.headers.etag, etag);
  assert.equal(byTag.headers['cache-control'], 'public, max-age=60');
  assert.equal(byTag.body.length, 0);
  const byDate = await request(gw.url, {
    path: '/data.bin',
    headers: { 'if-modified-since': String(first.headers['last-modified']) },
  });
  assert.equal(byDate.status, 304);
  const changed = await request(gw.url, { path: '/data.bin', headers: { 'if-none-match': '"other"' } });
  assert.equal(changed.status, 200);
  const failed = await request(gw.url, { path: '/data.bin', headers: { 'if-match': '"other"' } });
  assert.equal(failed.status, 412);
  // The route's cache_control is for the file's answers, not a refusal a shared cache would keep.
  assert.equal(failed.headers['cache-control'], 'no-store');
});

test('one range is a 206; past the end a 416; If-Range with another tag the whole 200; several ranges the whole 200', async () => {
  const part = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=2-4' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '234');
  assert.equal(part.headers['content-range'], 'bytes 2-4/10');
  assert.equal(part.headers['content-length'], '3');
  const suffix = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=-3' } });
  assert.equal(suffix.text, '789');
  const past = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=10-' } });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], 'bytes */10');
  assert.equal(past.headers['cache-control'], 'no-store');
  const etag = String(part.headers.etag);
  const same = await request(gw.url, {
    path: '/data.bin',
    headers: { range: 'bytes=0-0', 'if-range': etag },
  });
  assert.equal(same.status, 206);
  assert.equal(same.text, '0');
  const other = await request(gw.url, {
    path: '/data.bin',
    headers: { range: 'bytes=0-0', 'if-range': '"v0"' },
  });
  assert.equal(other.status, 200);
  assert.equal(other.text, '0123456789');
  const several = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=0-0,2-2' } });
  assert.equal(several.status, 200);
  // Several ranges none of which is satisfiable: the 416 RFC 9110 §14.2 asks for (as nginx and
  // Caddy answer), not the whole body; one satisfiable among them, the whole 200 as above.
  const nonePast = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=10-19, 30-, -0' } });
  assert.equal(nonePast.status, 416);
  assert.equal(nonePast.headers['content-range'], 'bytes */10');
  assert.equal(nonePast.text, '');
  const onePast = await request(gw.url, { path: '/data.bin', headers: { range: 'bytes=10-19,0-1' } });
  assert.equal(onePast.status, 200);
});

test("a HEAD's Range is ignored (RFC 9110 §14.2: GET's alone): the whole 200 head, its length the file's", async () => {
  for (const range of ['bytes=2-4', 'bytes=10-']) {
    const raw = await rawRequest(
      gw.port,
      `HEAD /data.bin HTTP/1.1\r\nHost: x\r\nRange: ${range}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(raw.raw, /^HTTP\/1\.1 200 /, range);
    assert.match(raw.raw, /\r\ncontent-length: 10\r\n/i, range);
    assert.doesNotMatch(raw.raw, /content-range/i, range);
    assert.ok(raw.raw.endsWith('\r\n\r\n'), raw.raw);
  }
});

test('a precompressed sibling is chosen by Accept-Encoding (q-values, then the route order), with its own ETag', async () => {
  const br = await request(gw.url, { path: '/app.js', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(br.text, 'BROTLI-BYTES');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  const gz = await request(gw.url, { path: '/app.js', headers: { 'accept-encoding': 'gzip, br;q=0.5' } });
  assert.equal(gz.text, 'GZIP-BYTES');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.notEqual(gz.headers.etag, br.headers.etag);
  const plain = await request(gw.url, { path: '/app.js' });
  assert.equal(plain.text, APP);
  assert.equal(plain.headers['content-encoding'], undefined);
  const zstdOnly = await request(gw.url, { path: '/app.js', headers: { 'accept-encoding': 'zstd' } });
  assert.equal(zstdOnly.text, APP);
});

test('a directory is answered with its index (301 to its trailing slash first), never listed', async () => {
  const moved = await request(gw.url, { path: '/docs?x=1' });
  assert.equal(moved.status, 301);
  assert.equal(moved.headers.location, '/docs/?x=1');
  const docs = await request(gw.url, { path: '/docs/' });
  assert.equal(docs.status, 200);
  assert.equal(docs.text, '<h1>docs</h1>');
  const noIndex = await request(gw.url, { path: '/app/' });
  assert.equal(noIndex.status, 404);
});

test("a route's own root without its `/` is sent there (301, the query kept), before its fallback too", async () => {
  const manual = await request(gw.url, { path: '/manual?v=2' });
  assert.equal(manual.status, 301);
  assert.equal(manual.headers.location, '/manual/?v=2');
  const index = await request(gw.url, { path: '/manual/' });
  assert.equal(index.status, 200);
  assert.equal(index.text, '<h1>docs</h1>');
  const spa = await request(gw.url, { path: '/spa' });
  assert.equal(spa.status, 301);
  assert.equal(spa.headers.location, '/spa/');
});

test('a file asked with a trailing `/` is not there: 404, or the fallback', async () => {
  const file = await request(gw.url, { path: '/docs/index.html/' });
  assert.equal(file.status, 404);
  assert.match(String(file.headers['proxy-status']), /error=destination_not_found/);
  const onRoot = await request(gw.url, { path: '/data.bin/' });
  assert.equal(onRoot.status, 404);
  const spa = await request(gw.url, { path: '/spa/shell.html/' });
  assert.equal(spa.status, 200);
  assert.equal(spa.text, '<h1>spa</h1>');
});

test('a single-page app: a path no file answers gets the fallback file; the route prefix is stripped', async () => {
  const deep = await request(gw.url, { path: '/spa/users/42' });
  assert.equal(deep.status, 200);
  assert.equal(deep.text, '<h1>spa</h1>');
  const shell = await request(gw.url, { path: '/spa/shell.html' });
  assert.equal(shell.text, '<h1>spa</h1>');
});

test('a missing file is the gateway 404 with its negotiated body and request id', async () => {
  const res = await request(gw.url, { path: '/nope.txt', headers: { accept: 'application/json' } });
  assert.equal(res.status, 404);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  assert.match(String(res.headers['proxy-status']), /error=destination_not_found/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.ok(res.headers['x-request-id']);
});

test('no path leaves root: dotfiles, symlinks out of root, encoded dots and slashes, backslashes, NUL, long names', async () => {
  const statuses: Record<string, number> = {};
  for (const path of [
    '/.env',
    '/%2eenv',
    '/leak.txt',
    '/up/secret.txt',
    '/%2e%2e/secret.txt',
    '/docs/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/%00',
    `/${'a'.repeat(300)}`,
  ]) {
    const res = await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    statuses[path] = res.status;
    assert.ok(!res.raw.includes('outside root'), `${path} read a file outside root`);
    assert.ok(!res.raw.includes('SECRET=1'), `${path} read a dotfile`);
  }
  const backslash = await rawRequest(
    gw.port,
    'GET /..\\secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.equal(backslash.status, 400);
  assert.deepEqual(statuses, {
    '/.env': 404,
    '/%2eenv': 404,
    '/leak.txt': 404,
    '/up/secret.txt': 404,
    // The router's normal form takes these up to the route's root (RFC 3986 §5.2.4): the root's own
    // secret.txt, which is not there.
    '/%2e%2e/secret.txt': 404,
    '/docs/%2e%2e/%2e%2e/secret.txt': 404,
    '/..%2fsecret.txt': 400,
    '/..%5csecret.txt': 400,
    '/%00': 400,
    [`/${'a'.repeat(300)}`]: 404,
  });
});

test('/.well-known/ (RFC 8615) is served from a root mapped at /: its own dotfiles, and one deeper or on another route, stay hidden', async () => {
  const res = await request(gw.url, { path: '/.well-known/security.txt' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.text, 'Contact: mailto:security@example.com\n');
  for (const path of [
    '/.well-known/.secret',
    '/docs/.well-known/security.txt',
    '/manual/.well-known/security.txt',
  ]) {
    const hidden = await request(gw.url, { path });
    assert.equal(hidden.status, 404, path);
    assert.ok(!hidden.text.includes('SECRET=1'), path);
  }
});

test('a FIFO under root is a 404 at once: opened without blocking, and no regular file', async () => {
  const res = await request(gw.url, { path: '/pipe', timeoutMs: 3000 });
  assert.equal(res.status, 404);
});

test('a path no file answers: a 404 saying so, whose advice is the URL (no upstream to fix)', async () => {
  const res = await request(gw.url, {
    path: '/nothing-here.txt',
    headers: { accept: 'application/problem+json' },
  });
  assert.equal(res.status, 404);
  const body = JSON.parse(res.text) as { title: string; detail: string; advice: string; error: string };
  assert.deepEqual(body.error, 'destination_not_found');
  // The type's one title, no route's as well (RFC 9457 §3.1.3); the detail says it is a file.
  assert.equal(body.title, 'Nothing here answers this address');
  assert.match(
    body.detail,
    /: no file under the route's root answers this path\. Details: no file for \/nothing-here\.txt\.$/,
  );
  assert.equal(
    body.advice,
    'Retrying the same request will not help: check the URL, nothing here answers it.',
  );
});

test('only GET and HEAD: another method is a 405 with Allow: GET, HEAD', async () => {
  const res = await request(gw.url, { path: '/data.bin', method: 'POST', body: 'x' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.allow, 'GET, HEAD');
  const del = await request(gw.url, { path: '/data.bin', method: 'DELETE' });
  assert.equal(del.status, 405);
  // The problem's title fits every status of its type (RFC 9457 §3.1.3): not "Bad request" on a 405.
  const problem = await request(gw.url, {
    path: '/data.bin',
    method: 'PUT',
    body: 'x',
    headers: { accept: 'application/problem+json' },
  });
  assert.equal(problem.status, 405);
  const body = JSON.parse(problem.text) as { title: string; status: number };
  assert.deepEqual([body.status, body.title], [405, 'Request not accepted']);
});

test('an empty file: a suffix range is satisfiable (RFC 9110 §14.1.1) and gets the whole 200; bytes=0- is a 416', async () => {
  const suffix = await request(gw.url, { path: '/empty.txt', headers: { range: 'bytes=-5' } });
  assert.equal(suffix.status, 200);
  assert.equal(suffix.headers['content-length'], '0');
  assert.equal(suffix.headers['content-range'], undefined);
  const from = await request(gw.url, { path: '/empty.txt', headers: { range: 'bytes=0-' } });
  assert.equal(from.status, 416);
  assert.equal(from.headers['content-range'], 'bytes */0');
});

test("a file's time ahead of the clock is sent as the answer's Date (RFC 9110 §8.8.2.1), never a Last-Modified in the future", async () => {
  const res = await request(gw.url, { path: '/ahead.txt' });
  assert.equal(res.status, 200);
  const modified = Date.parse(String(res.headers['last-modified']));
  assert.ok(
    modified <= Date.parse(String(res.headers.date)),
    `${res.headers['last-modified']} after ${res.headers.date}`,
  );
});

test('a root that is a symbolic link is followed at each request: a release swapped in is served without a reload', async () => {
  const first = await request(gw.url, { path: '/release/version.txt' });
  assert.equal(first.text, 'release-1');
  // The atomic swap a deploy makes (ln -s release-2 current.new && mv -T current.new current).
  symlinkSync(join(dir, 'release-2'), join(dir, 'current.new'));
  renameSync(join(dir, 'current.new'), join(dir, 'current'));
  rmSync(join(dir, 'release-1'), { recursive: true });
  const second = await request(gw.url, { path: '/release/version.txt' });
  assert.equal(second.status, 200);
  assert.equal(second.text, 'release-2');
});

test('behind a fallback, a symbolic link is answered as a name not there (the fallback), so no client can tell one is there', async () => {
  const missing = await request(gw.url, { path: '/spa/nothing.txt' });
  assert.equal(missing.status, 200);
  assert.equal(missing.text, '<h1>spa</h1>');
  // A link as the last name is never followed, one staying under root too (O_NOFOLLOW).
  for (const path of ['/spa/leak.txt', '/spa/other-link.html']) {
    const link = await request(gw.url, { path });
    assert.equal(link.status, 200, path);
    assert.equal(link.text, '<h1>spa</h1>', path);
    assert.ok(!link.text.includes('outside root'), path);
  }
});
