/**
 * Response fields named like Object properties (`constructor`, `__proto__`) pass through the
 * route's cache as the upstream sent them: on the miss that stores the answer, on a hit, and
 * after a revalidation (the 304's value replacing the stored one, RFC 9111 §4.3.4). Before, the
 * stored fields were gathered in a plain object: a hit sent `constructor: function Object() {
 * [native code] }, c-1` and no `__proto__` at all.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ClientResponse, request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

async function setUp(cacheControl: string, cache = '{}') {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: [
      'cache-control',
      cacheControl,
      'etag',
      '"v1"',
      'constructor',
      'c-1',
      '__proto__',
      'p-1',
      'content-type',
      'text/plain',
    ],
    body: 'stored',
  });
  keep({ close: () => origin.stop() });
  const config = `name: edge-1
routes:
  - match: { path: /pages }
    upstream: app
    cache: ${cache}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`;
  const gw = await keep(startTestGateway(config));
  return { origin, gw, config };
}

/** Every value the answer carried for `name`, from its raw fields (node:http's object has no `__proto__` to give). */
function valuesOf(res: ClientResponse, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    if (res.rawHeaders[i].toLowerCase() === name) values.push(res.rawHeaders[i + 1]);
  return values;
}

test('fields named constructor and __proto__ reach the client as sent, on the miss and on the hit', async () => {
  const { origin, gw } = await setUp('max-age=60');
  const miss = await request(gw.url, { path: '/pages/a' });
  assert.equal(miss.status, 200);
  assert.match(String(miss.headers['cache-status']), /fwd=uri-miss/);
  assert.deepEqual(valuesOf(miss, 'constructor'), ['c-1']);
  assert.deepEqual(valuesOf(miss, '__proto__'), ['p-1']);

  const hit = await request(gw.url, { path: '/pages/a' });
  assert.equal(hit.status, 200);
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
  assert.equal(hit.text, 'stored');
  assert.deepEqual(valuesOf(hit, 'constructor'), ['c-1']);
  assert.deepEqual(valuesOf(hit, '__proto__'), ['p-1']);
  assert.equal(origin.heads.length, 1, 'the hit came from the store');
});

test("after a revalidation: the 304's constructor replaces the stored one, __proto__ is kept", async () => {
  const { origin, gw } = await setUp('max-age=0');
  assert.equal((await request(gw.url, { path: '/pages/b' })).status, 200);
  // The upstream's 304 carries the answer's fields, constructor changed.
  origin.notModifiedFor = '"v1"';
  origin.answer.fields[origin.answer.fields.indexOf('constructor') + 1] = 'c-2';
  const revalidated = await request(gw.url, { path: '/pages/b' });
  assert.equal(revalidated.status, 200);
  assert.match(String(revalidated.headers['cache-status']), /fwd=stale/);
  assert.match(origin.heads[1], /\r\nif-none-match: "v1"/i);
  assert.equal(revalidated.text, 'stored');
  assert.deepEqual(valuesOf(revalidated, 'constructor'), ['c-2']);
  assert.deepEqual(valuesOf(revalidated, '__proto__'), ['p-1']);
});

test('through the shared directory (cache.dir): a hit in another worker sends them as stored', async () => {
  const dir = tempDir('candor-cache-');
  const { origin, gw, config } = await setUp('max-age=60', `{ dir: ${dir} }`);
  // One Host for both: the key is the authority the client addressed.
  const headers = { host: 'pages.test' };
  assert.equal((await request(gw.url, { path: '/pages/c', headers })).status, 200);
  // The route's subdirectory: its default name, /pages, as a file name holds it.
  const files = join(dir, '%2Fpages');
  await waitUntil(
    'the answer written to the directory',
    () => existsSync(files) && readdirSync(files).filter((f) => /^[0-9a-f]{64}$/.test(f)).length === 1,
  );
  // Another gateway on the same directory stands in for another worker: its hit is read from the file.
  const other = await keep(startTestGateway(config));
  const hit = await request(other.url, { path: '/pages/c', headers });
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
  assert.deepEqual(valuesOf(hit, 'constructor'), ['c-1']);
  assert.deepEqual(valuesOf(hit, '__proto__'), ['p-1']);
  assert.equal(origin.heads.length, 1);
});
