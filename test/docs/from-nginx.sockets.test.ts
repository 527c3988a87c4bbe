/**
 * docs/migrating-from-nginx.md holds: the Candor config it shows, run through `candor serve` (two
 * workers) with only its listener (a public name's TLS) and its paths made local, does what the
 * nginx server block beside it does: the static asset with its lifetime, HSTS on every answer
 * (the gateway's own errors too), the API's answers kept for the lifetimes the gateway sets, and
 * served stale when the app is down, whichever worker takes the request.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startMoodyOrigin } from '../helpers/moody-origin.ts';
import { startServe, storedFiles, workersCacheDir } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

const PAGE = readFileSync(join(import.meta.dirname, '../../docs/migrating-from-nginx.md'), 'utf8');

/** The page's Candor config: the yaml block under "The same site in Candor". */
function candorConfig(): string {
  const section = PAGE.slice(PAGE.indexOf('## The same site in Candor'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'a yaml block under "The same site in Candor"');
  return block[1];
}

const HSTS = 'max-age=31536000; includeSubDomains';

/** The table's row whose nginx cell is `nginx`. */
function row(nginx: string): string {
  const line = PAGE.split('\n').find((l) => l.startsWith(`| ${nginx} |`));
  assert.ok(line, `a row for ${nginx}`);
  return line;
}

test('the Candor config of the nginx migration page serves the assets, the API cached and stale, HSTS on every answer', async (t) => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Content-Type', 'application/json'],
    body: '{"items":[]}',
  });
  t.after(() => origin.stop());
  const dir = tempDir('candor-from-nginx-');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log("app");\n');
  const yaml = candorConfig();
  // Only the listener (a public name's certificate, port 443) and the paths are made local.
  const listener = /^listen:\n(?: {2,}.*\n)+/m;
  assert.match(yaml, listener);
  const local = yaml
    .replace(listener, 'listen:\n  - address: 127.0.0.1:0\n')
    .replace(/^acme:\n(?: {2,}.*\n)+/m, '')
    .replace('/srv/www/assets', join(dir, 'assets'))
    .replace('http://127.0.0.1:3000', origin.url);
  const file = join(dir, 'candor.yaml');
  writeFileSync(file, local);
  const serve = await startServe(file, 2);
  t.after(() => serve.stop());
  const url = `http://127.0.0.1:${serve.port}`;

  const asset = await request(url, { path: '/assets/app.js' });
  assert.equal(asset.status, 200);
  assert.equal(asset.text, 'console.log("app");\n');
  assert.equal(asset.headers['cache-control'], 'public, max-age=2592000');
  assert.equal(asset.headers['strict-transport-security'], HSTS);
  assert.match(String(asset.headers.etag), /^"[0-9a-f-]+"$/);
  // One range as nginx; several get the whole file (nginx: a multipart 206); `/assets` itself is
  // the route's, a 301 (nginx's `location /assets/` leaves it to `location /`); a directory
  // without an index a 404 (nginx: 403). The row says each.
  const part = await request(url, { path: '/assets/app.js', headers: { range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], 'bytes 2-5/20');
  const several = await request(url, { path: '/assets/app.js', headers: { range: 'bytes=0-1,4-5' } });
  assert.equal(several.status, 200);
  assert.equal(several.text, 'console.log("app");\n');
  const bare = await request(url, { path: '/assets' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.location, '/assets/');
  const listing = await request(url, { path: '/assets/' });
  assert.equal(listing.status, 404);
  const staticRow = row('`location /assets/ { root /srv/www; }`');
  assert.match(staticRow, /several ranges get the whole `200` \(nginx: a `multipart\/byteranges` 206\)/);
  assert.match(staticRow, /`\/assets` itself, without its slash, is the route's too, a 301 to `\/assets\/`/);
  assert.match(
    staticRow,
    /a directory without an index is a 404, never a listing \(nginx's `autoindex off` says 403\)/,
  );
  const missing = await request(url, { path: '/assets/none.js' });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['strict-transport-security'], HSTS, "the gateway's own answer too");

  // The API: kept 10 minutes by the route's lifetimes (the app said nothing of it).
  const first = await request(url, { path: '/api/items' });
  assert.equal(first.status, 200);
  // The miss that stored it gives no ttl: the page says only answers given from the store do.
  assert.equal(first.headers['cache-status'], 'edge; fwd=uri-miss');
  assert.match(PAGE, /the miss that stored it says `edge; fwd=uri-miss` and no more/);
  // What reached the app: the client's Host and the forwarded fields, where nginx's `proxy_pass
  // http://app` sends `Host: app` and none of them; the page's `proxy_pass` row says so.
  const head = origin.heads[0].toLowerCase();
  assert.match(head, new RegExp(`\r\nhost: 127\\.0\\.0\\.1:${serve.port}\r\n`));
  assert.match(head, new RegExp(`\r\nx-forwarded-host: 127\\.0\\.0\\.1:${serve.port}\r\n`));
  assert.match(head, /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
  assert.match(head, /\r\nx-forwarded-proto: http\r\n/);
  assert.match(
    row('`proxy_pass http://app;`'),
    /the app gets the client's `Host` \(`example\.com`\), where nginx sends the upstream's name, `Host: app`/,
  );
  assert.equal(first.headers['strict-transport-security'], HSTS);
  // Written to the workers' folder behind the answer: there before the other worker looks.
  const shared = workersCacheDir(serve);
  await waitUntil("the answer in the workers' folder", () => storedFiles(shared, 'api').length === 1);
  for (let i = 0; i < 4; i++) {
    const again = await request(url, { path: '/api/items', headers: { connection: 'close' } });
    assert.equal(again.text, '{"items":[]}');
    assert.match(String(again.headers['cache-status']), /^edge; hit; ttl=(59\d|600)$/);
  }
  assert.equal(origin.heads.length, 1, 'both workers answered from the one stored answer');

  // The site: proxied, not cached, HSTS.
  const home = await request(url, { path: '/' });
  assert.equal(home.status, 200);
  assert.equal(home.headers['cache-status'], undefined);
  assert.equal(home.headers['strict-transport-security'], HSTS);
  // A 2 MiB body, past nginx's default client_max_body_size (1 MiB), within Candor's limits.body.
  const upload = await request(url, { method: 'POST', path: '/upload', body: Buffer.alloc(2 * 1024 * 1024) });
  assert.equal(upload.status, 200);
  assert.match(
    row("no `client_max_body_size` (nginx's default, 1 MiB)"),
    /no `limits.body` \(Candor's default, 10 MiB\)/,
  );
  // The path goes normalised, as it was routed, where nginx's `proxy_pass` sends the client's spelling.
  const spelled = await request(url, { path: '/a//b/%41/./c/../d' });
  assert.equal(spelled.status, 200);
  assert.match(origin.heads.at(-1) ?? '', /^GET \/a\/b\/A\/d HTTP\/1\.1\r\n/);
  assert.match(row('`proxy_pass http://app;`'), /`\/a\/\/b\/%41\/\.\/c\/\.\.\/d` is `\/a\/b\/A\/d`/);

  // The app down: the API's stored answer is fresh still; the site's request is a 502 that says why.
  await origin.stop();
  const down = await request(url, { path: '/' });
  assert.equal(down.status, 502);
  assert.match(String(down.headers['proxy-status']), /^edge; error=connection_refused/);
  assert.equal(down.headers['strict-transport-security'], HSTS);
  const kept = await request(url, { path: '/api/items' });
  assert.equal(kept.status, 200);
  assert.equal(kept.text, '{"items":[]}');
});
