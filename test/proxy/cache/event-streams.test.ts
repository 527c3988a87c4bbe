/**
 * A server-sent event stream (`text/event-stream`) on a cached route: every subscriber gets its
 * own live stream from the upstream. Kept by the route's `lifetimes` (the origin said nothing)
 * or under `Cache-Control: no-cache` (what SSE servers send), a second subscriber waited on the
 * first one's fetch (request coalescing) for the whole stream, silent, up to `lock_timeout`, and
 * then got a stream that had ended, in one piece, as did every later one while it was fresh.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { cachedPages } from '../../helpers/cached-pages.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

/** An SSE origin: each request gets its first event at once, and the rest when `endAll` is called. */
async function sseOrigin(fields: Record<string, string>) {
  const open = new Set<http.ServerResponse>();
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'text/event-stream', ...fields });
    res.write(`data: ${requests}\n\n`);
    open.add(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    endAll() {
      for (const res of open) res.end('data: end\n\n');
      open.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A subscriber: its status, Cache-Status and first event once they come, and its whole body at its end. */
function subscribe(url: string) {
  let body = '';
  let firstEvent: (text: string) => void = () => {};
  const first = new Promise<string>((resolve) => {
    firstEvent = resolve;
  });
  const whole = new Promise<{ status: number | undefined; cacheStatus: string; body: string }>(
    (resolve, reject) => {
      http
        .get(`${url}/pages/events`, { agent: false }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
            if (body.includes('\n\n')) firstEvent(body);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode, cacheStatus: String(res.headers['cache-status']), body }),
          );
        })
        .on('error', reject);
    },
  );
  return { first, whole };
}

for (const [said, fields, cache] of [
  ['nothing (the route gives 200s a lifetime)', {}, '{ lifetimes: { 200: 1h }, lock_timeout: 1h }'],
  ['Cache-Control: no-cache', { 'cache-control': 'no-cache' }, '{ lock_timeout: 1h }'],
  ['Cache-Control: max-age=0', { 'cache-control': 'max-age=0' }, '{ lock_timeout: 1h }'],
] as const) {
  test(`an event stream whose origin says ${said} is neither waited on nor kept: each subscriber has its own`, async () => {
    const origin = await keep(sseOrigin(fields));
    const gw = await keep(startTestGateway(cachedPages(origin.url, cache)));
    const lead = subscribe(gw.url);
    assert.equal(await lead.first, 'data: 1\n\n');
    // The first stream still open: the second subscriber is not held behind it.
    const second = subscribe(gw.url);
    await waitUntil('the second subscriber reaching the upstream', () => origin.requests() === 2);
    assert.equal(await second.first, 'data: 2\n\n');
    origin.endAll();
    assert.deepEqual(await lead.whole, {
      status: 200,
      cacheStatus: 'edge-1; fwd=uri-miss',
      body: 'data: 1\n\ndata: end\n\n',
    });
    assert.equal((await second.whole).body, 'data: 2\n\ndata: end\n\n');
    // Nor kept once it ended: a later subscriber gets a live stream, not a replay of the old one.
    const third = subscribe(gw.url);
    assert.equal(await third.first, 'data: 3\n\n');
    origin.endAll();
    assert.equal((await third.whole).cacheStatus, 'edge-1; fwd=uri-miss');
  });
}
