/**
 * A stale answer's background refresh (stale-while-revalidate) whose answer turns out not to be
 * kept (over `max_entry`, `no-store`) answers nobody: the gateway stops reading it (the upstream's
 * connection closes) rather than download the whole body for no one, and its log line says the
 * gateway dropped it (`proxy_internal_response`), never that a client left (499 `client_closed`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const BIG = 32 * 1024 * 1024;

/** How one big answer went out: the bytes written, and whether its connection closed before the whole body went. */
interface Sent {
  written: number;
  cut: boolean;
  whole: boolean;
}

/** An origin whose first answer is stale at once within stale-while-revalidate, and whose next ones are 32 MiB with `fields`. */
async function bigAfterStale(fields: Record<string, string>) {
  const sent: Sent[] = [];
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  const up = await listenOnLoopback((_req, res) => {
    if (sent.length === 0 && !res.req.headers['if-none-match'] && !first.done) {
      first.done = true;
      res.writeHead(200, { 'cache-control': 'max-age=0, stale-while-revalidate=60', etag: '"v1"' });
      return void res.end('page v1');
    }
    const s: Sent = { written: 0, cut: false, whole: false };
    sent.push(s);
    res.writeHead(200, fields);
    res.on('finish', () => {
      s.whole = true;
    });
    res.on('close', () => {
      s.cut = !s.whole;
    });
    const pump = (): void => {
      while (!res.destroyed && s.written < BIG) {
        s.written += chunk.length;
        const more = res.write(chunk);
        if (s.written >= BIG) return void res.end();
        if (!more) return void res.once('drain', pump);
      }
    };
    pump();
  });
  const first = { done: false };
  return { up, sent };
}

for (const [name, fields, why] of [
  [
    'over max_entry (its Content-Length says so)',
    { 'cache-control': 'max-age=60', 'content-length': String(BIG) },
    /its answer's Content-Length \(33554432 bytes\) is over the cache's max_entry \(1024 bytes\)$/,
  ],
  [
    'over max_entry as its body comes (chunked: no Content-Length)',
    { 'cache-control': 'max-age=60' },
    /passed what the cache may hold of it \(max_entry, 1024 bytes/,
  ],
  [
    'no-store (a chunked body)',
    { 'cache-control': 'no-store' },
    /its 200 is not kept \(Cache-Control: no-store\), and its body passed max_entry \(1024 bytes\)$/,
  ],
] as const) {
  test(`a refresh whose answer is ${name} is dropped: the upstream's connection closes, and the line says the gateway dropped it`, async (t) => {
    const { up, sent } = await bigAfterStale(fields);
    t.after(() => up.close());
    const gw = await startTestGateway(
      `metrics:\n  listen: 127.0.0.1:0\n${cachedPages(up.url, '{ max_entry: 1KiB }')}`,
    );
    t.after(() => gw.close());
    assert.equal((await request(gw.url, { path: '/pages/big' })).text, 'page v1');
    const stale = await request(gw.url, { path: '/pages/big', headers: { 'x-request-id': 'stale-one' } });
    assert.equal(stale.text, 'page v1');
    assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; ttl=-?\d+$/);
    await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.background === 'refresh'), 10_000);
    const line = gw.logs.find((l) => l.background === 'refresh') as Record<string, unknown>;
    assert.equal(line.for_req_id, (await gw.logFor('stale-one')).req_id);
    assert.equal(line.status, 200, "the upstream's head had come");
    assert.equal(line.error, 'proxy_internal_response');
    assert.equal(line.shape, 'gateway');
    assert.equal(line.stage, 'body_streaming');
    assert.match(String(line.details), /^the gateway dropped its background refresh: /);
    assert.match(String(line.details), why);
    assert.equal(line.client_aborted, false);
    assert.equal(line.cache, 'fwd=stale');
    assert.ok((line.bytes_out as number) < BIG, `read ${line.bytes_out} bytes of ${BIG}`);
    // What reached the upstream: one refresh, whose body it could not finish sending.
    await waitUntil('the upstream saw its connection close', () => sent[0]?.cut === true, 10_000);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].whole, false);
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    const counted = (labels: Record<string, string>) =>
      sampleValue(all, 'candor_responses_total', { route: 'pages', ...labels });
    assert.equal(counted({ code: '499', origin: 'client', error_type: 'client_closed' }), undefined);
    assert.equal(counted({ code: '200', origin: 'upstream', error_type: 'client_closed' }), undefined);
    assert.equal(counted({ code: '200', origin: 'upstream', error_type: 'proxy_internal_response' }), 1);
  });
}

test("a refresh whose answer is not kept but small (the upstream's 503) is read whole: its line is the upstream's answer, its connection kept", async (t) => {
  let asked = 0;
  const connections = new Set<unknown>();
  const up = await listenOnLoopback((req, res) => {
    asked++;
    connections.add(req.socket);
    if (asked === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0, stale-while-revalidate=60', etag: '"v1"' });
      return void res.end('page v1');
    }
    res.writeHead(503, { 'content-length': '4' });
    res.end('down');
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url, '{ max_entry: 1KiB }'));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/small' });
  const stale = await request(gw.url, { path: '/pages/small' });
  assert.equal(stale.text, 'page v1');
  await waitUntil('the refresh is logged', () => gw.logs.some((l) => l.background === 'refresh'), 10_000);
  const line = gw.logs.find((l) => l.background === 'refresh') as Record<string, unknown>;
  assert.equal(line.status, 503);
  assert.equal(line.error, undefined);
  assert.equal(line.bytes_out, 4);
  // The refresh's connection went back to the pool: the next request reuses it.
  await request(gw.url, { path: '/pages/small' });
  await waitUntil('the third request reached the upstream', () => asked === 3, 10_000);
  assert.equal(connections.size, 1);
});
