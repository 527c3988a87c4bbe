/**
 * A stale stored answer the origin has since replaced or deleted never stands in for a failure
 * (RFC 9111 §4.3.3: a full answer to a revalidation says none of the stored answers is suitable).
 * The origin answers once (v1, stale at once, stale-if-error for a minute), then answers the
 * revalidation with a full answer the cache does not keep, then is stopped: the client gets the
 * failure's own 502, not v1 as a 200. Real sockets: a node:http origin whose answer changes.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** v1: stale at once, with a validator, allowed to stand in for errors for a minute. */
const V1: Answer = (_req, res) => {
  res.setHeader('cache-control', 'max-age=0, stale-if-error=60');
  res.setHeader('etag', '"v1"');
  res.end('v1 page');
};

async function origin(): Promise<{
  url: string;
  answer: Answer;
  seen: http.IncomingHttpHeaders[];
  stop(): Promise<void>;
}> {
  const state = {
    url: '',
    answer: V1,
    seen: [] as http.IncomingHttpHeaders[],
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    state.seen.push(req.headers);
    state.answer(req, res);
  });
  // Stopped mid-test to refuse: on a port no other test file's listen(0) is given meanwhile.
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${port}`;
  return state;
}

const SUPERSEDING: ReadonlyArray<[string, Answer]> = [
  [
    'a 404 with no-store (the page was deleted)',
    (_req, res) => {
      res.statusCode = 404;
      res.setHeader('cache-control', 'no-store');
      res.end('no such page');
    },
  ],
  [
    'a 410 with private',
    (_req, res) => {
      res.statusCode = 410;
      res.setHeader('cache-control', 'private, max-age=60');
      res.end('gone');
    },
  ],
  [
    'a new 200 with no-store (v2)',
    (_req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.setHeader('etag', '"v2"');
      res.end('v2 page');
    },
  ],
  [
    'a new 200 that sets a cookie',
    (_req, res) => {
      res.setHeader('cache-control', 'max-age=0, stale-if-error=60');
      res.setHeader('etag', '"v2"');
      res.setHeader('set-cookie', 'seen=1');
      res.end('v2 page');
    },
  ],
  [
    'a new 200 whose body, without Content-Length, passes max_entry',
    (_req, res) => {
      res.setHeader('cache-control', 'max-age=0, stale-if-error=60');
      res.setHeader('etag', '"v2"');
      res.write('v2 '.repeat(400));
      res.end('v2 '.repeat(400));
    },
  ],
];

for (const [what, answer] of SUPERSEDING) {
  test(`a stale answer revalidated with ${what} is dropped: the next failure is the gateway's 502, never the old page as a 200`, async () => {
    const app = await origin();
    const gw = await startTestGateway(cachedPages(app.url, '{ max_entry: 1KiB }'));
    try {
      const first = await request(gw.url, { path: '/pages/a' });
      assert.equal(first.status, 200);
      assert.equal(first.text, 'v1 page');

      app.answer = answer;
      const revalidated = await request(gw.url, { path: '/pages/a' });
      assert.equal(revalidated.headers['cache-status'], 'edge-1; fwd=stale');
      assert.equal(app.seen[1]['if-none-match'], '"v1"', 'the stored answer was revalidated');
      assert.notEqual(revalidated.text, 'v1 page');

      await app.stop();
      const failed = await request(gw.url, { path: '/pages/a', headers: { 'x-request-id': 'failed' } });
      assert.equal(failed.status, 502);
      assert.notEqual(failed.text, 'v1 page');
      assert.match(String(failed.headers['proxy-status']), /^edge-1; error=connection_refused; /);
      assert.equal((await gw.logFor('failed')).cache, 'fwd=uri-miss', 'nothing stored');
      assert.equal(failed.headers['cache-control'], 'no-store');
    } finally {
      await gw.close();
      await app.stop().catch(() => {});
    }
  });
}

test('with cache.dir the file goes too: the worker, missing in memory, does not read the old page back for the next failure', async () => {
  const app = await origin();
  const dir = tempDir('candor-superseded-');
  const gw = await startTestGateway(cachedPages(app.url, `{ dir: ${dir} }`));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    app.answer = SUPERSEDING[0][1];
    assert.equal((await request(gw.url, { path: '/pages/a' })).status, 404);
    await app.stop();
    const failed = await request(gw.url, { path: '/pages/a', headers: { 'x-request-id': 'failed' } });
    assert.equal(failed.status, 502);
    assert.equal((await gw.logFor('failed')).cache, 'fwd=uri-miss', 'nothing stored');
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a HEAD the upstream answers 404 (no-store) drops the stale GET answer too: its status is the GET's, and the next failure is the 502", async () => {
  const app = await origin();
  const gw = await startTestGateway(cachedPages(app.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    app.answer = (_req, res) => {
      res.statusCode = 404;
      res.setHeader('cache-control', 'no-store');
      res.end();
    };
    const head = await request(gw.url, { path: '/pages/a', method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal(app.seen.length, 2, 'the HEAD went upstream: nothing fresh was stored');
    await app.stop();
    const failed = await request(gw.url, { path: '/pages/a', headers: { 'x-request-id': 'failed' } });
    assert.equal(failed.status, 502);
    assert.equal((await gw.logFor('failed')).cache, 'fwd=uri-miss', 'nothing stored');
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
  }
});

test('a HEAD the upstream answers 200 with the stored validators keeps the stale answer: it still stands in for the next failure', async () => {
  const app = await origin();
  const gw = await startTestGateway(cachedPages(app.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    assert.equal((await request(gw.url, { path: '/pages/a', method: 'HEAD' })).status, 200);
    await app.stop();
    const stale = await request(gw.url, { path: '/pages/a' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'v1 page');
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
  }
});

test("a stale answer revalidated with a 200 of the same ETag that sets a cookie stays: its body is the resource's still, and stands in for the next failure", async () => {
  const app = await origin();
  const gw = await startTestGateway(cachedPages(app.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    app.answer = (_req, res) => {
      res.setHeader('cache-control', 'max-age=0, stale-if-error=60');
      res.setHeader('etag', '"v1"');
      res.setHeader('set-cookie', 'visitor=1');
      res.end('v1 page');
    };
    assert.equal((await request(gw.url, { path: '/pages/a' })).headers['set-cookie']?.[0], 'visitor=1');
    await app.stop();
    const stale = await request(gw.url, { path: '/pages/a' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'v1 page');
    assert.equal(stale.headers['set-cookie'], undefined, "no client's cookie is given to another");
    assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; fwd-status=502; /);
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
  }
});

test("a stale answer revalidated with a 429 (the request's, not the resource's) still stands in for the next failure", async () => {
  const app = await origin();
  const gw = await startTestGateway(cachedPages(app.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    app.answer = (_req, res) => {
      res.statusCode = 429;
      res.setHeader('retry-after', '1');
      res.end('slow down');
    };
    assert.equal((await request(gw.url, { path: '/pages/a' })).status, 429);
    await app.stop();
    const stale = await request(gw.url, { path: '/pages/a' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, 'v1 page');
    assert.match(String(stale.headers['cache-status']), /^edge-1; hit; fwd=stale; fwd-status=502; /);
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
  }
});

test('a fresh stored answer stays when a client reload brings a full answer that is not kept: the cache may give it while fresh', async () => {
  const app = await origin();
  app.answer = (_req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.setHeader('etag', '"v1"');
    res.end('v1 page');
  };
  const gw = await startTestGateway(cachedPages(app.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/a' })).text, 'v1 page');
    app.answer = (_req, res) => {
      res.setHeader('cache-control', 'private');
      res.end('your page');
    };
    const reload = await request(gw.url, { path: '/pages/a', headers: { 'cache-control': 'max-age=0' } });
    assert.equal(reload.text, 'your page');
    const hit = await request(gw.url, { path: '/pages/a' });
    assert.equal(hit.text, 'v1 page');
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(app.seen.length, 2);
  } finally {
    await gw.close();
    await app.stop().catch(() => {});
  }
});
