/**
 * A GET's Range that finds nothing stored, whose whole answer the cache will not keep (`no-store`,
 * `private`, past `max_entry`): the whole fetch is read no further than `max_entry`, logged as the
 * gateway's drop, the Range goes upstream as sent, and the key is not fetched whole again a while.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { BIG, rangedOrigin, type Seen, type Sent, WHOLE } from '../../helpers/ranged-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();
const origin = (seen: Seen[], sent: Sent[] = []) => keep(rangedOrigin(seen, sent));
const gateway = (url: string, cache = '{}', upstream = '') =>
  keep(startTestGateway(cachedPages(url, cache, 'edge-1', upstream)));

test('a Range miss whose answer is not kept (no-store, private): the whole fetch ends, and the Range goes upstream as sent, its 206 relayed', async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  for (const path of ['/pages/no-store', '/pages/private']) {
    const part = await request(gw.url, { path, headers: { range: 'bytes=0-3', 'if-range': '"v1"' } });
    assert.equal(part.status, 206, path);
    assert.equal(part.text, '0123', path);
    assert.equal(part.headers['content-range'], 'bytes 0-3/2000', path);
    assert.equal(part.headers['cache-status'], 'edge-1; fwd=uri-miss', path);
  }
  assert.deepEqual(seen, [
    WHOLE('/pages/no-store'),
    { method: 'GET', path: '/pages/no-store', range: 'bytes=0-3', ifRange: '"v1"' },
    WHOLE('/pages/private'),
    { method: 'GET', path: '/pages/private', range: 'bytes=0-3', ifRange: '"v1"' },
  ]);
});

test("a Range with the client's own Cache-Control: no-store fetches nothing whole: it goes upstream as sent", async () => {
  const seen: Seen[] = [];
  const gw = await gateway((await origin(seen)).url);
  const part = await request(gw.url, {
    path: '/pages/file',
    headers: { range: 'bytes=0-3', 'cache-control': 'no-store' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.text, '0123');
  assert.equal(part.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.deepEqual(seen, [{ method: 'GET', path: '/pages/file', range: 'bytes=0-3', ifRange: undefined }]);
});

for (const [name, path, why] of [
  [
    'its Content-Length over max_entry',
    '/pages/big',
    /^the gateway dropped its background fetch of a Range's whole answer: its answer's Content-Length \(33554432 bytes\) is over the cache's max_entry \(65536 bytes\)$/,
  ],
  [
    'a chunked body passing max_entry',
    '/pages/big-chunked',
    /^the gateway dropped its background fetch of a Range's whole answer: its body passed what the cache may hold of it \(max_entry, 65536 bytes/,
  ],
  [
    'no-store, a chunked body passing max_entry',
    '/pages/big-chunked-no-store',
    /^the gateway dropped its background fetch of a Range's whole answer: its 200 is not kept \(Cache-Control: no-store\), and its body passed max_entry \(65536 bytes\)$/,
  ],
] as const) {
  test(`a Range miss whose whole answer is too big to keep (${name}): the whole fetch is dropped unread, logged as the gateway's, and the Range goes upstream`, async () => {
    const seen: Seen[] = [];
    const sent: Sent[] = [];
    const gw = await gateway((await origin(seen, sent)).url, '{ max_entry: 64KiB }');
    const part = await request(gw.url, { path, headers: { range: 'bytes=5-9', 'x-request-id': 'seek' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'xxxxx');
    assert.equal(part.headers['content-range'], `bytes 5-9/${BIG}`);
    assert.equal(part.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.deepEqual(seen, [WHOLE(path), { method: 'GET', path, range: 'bytes=5-9', ifRange: undefined }]);
    await waitUntil('the upstream saw the whole fetch close', () => sent[0]?.closed === true, 10_000);
    assert.equal(sent[0].whole, false, 'the whole answer was not read to its end');
    await waitUntil('the whole fetch is logged', () => gw.logs.some((l) => l.background === 'fill'));
    const line = gw.logs.find((l) => l.background === 'fill') as Record<string, unknown>;
    assert.equal(line.for_req_id, (await gw.logFor('seek')).req_id);
    assert.equal(line.error, 'proxy_internal_response');
    assert.match(String(line.details), why);
    assert.equal(line.client_aborted, false);
    assert.ok((line.bytes_out as number) < BIG, `read ${line.bytes_out} bytes of ${BIG}`);
  });
}

test('a key whose whole answer was not kept is not fetched whole again for the next Ranges (for a while, as Varnish remembers a hit-for-miss): they go as sent', async () => {
  const seen: Seen[] = [];
  const sent: Sent[] = [];
  const gw = await gateway((await origin(seen, sent)).url, '{ max_entry: 64KiB }');
  for (const path of ['/pages/no-store', '/pages/big']) {
    for (const range of ['bytes=0-3', 'bytes=5-9', 'bytes=10-12']) {
      const part = await request(gw.url, { path, headers: { range } });
      assert.equal(part.status, 206, `${path} ${range}`);
      assert.equal(part.headers['cache-status'], 'edge-1; fwd=uri-miss', `${path} ${range}`);
    }
  }
  const ranged = (path: string, range: string): Seen => ({ method: 'GET', path, range, ifRange: undefined });
  assert.deepEqual(seen, [
    WHOLE('/pages/no-store'),
    ranged('/pages/no-store', 'bytes=0-3'),
    ranged('/pages/no-store', 'bytes=5-9'),
    ranged('/pages/no-store', 'bytes=10-12'),
    WHOLE('/pages/big'),
    ranged('/pages/big', 'bytes=0-3'),
    ranged('/pages/big', 'bytes=5-9'),
    ranged('/pages/big', 'bytes=10-12'),
  ]);
  assert.equal(sent.length, 1, 'one whole fetch of the big answer began');
});
