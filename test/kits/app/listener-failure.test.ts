/**
 * candor/app: a request listener that throws, or an async one that rejects (an app's bug, or the
 * docs' own `if (!(error instanceof UpstreamError)) throw error`), fails that request alone: a 500
 * when its head has not left, the response cut when it has, one log line. The process, and every
 * other request in flight, goes on: an unhandled rejection would end the process, and the
 * gateway would answer a 502 for each request the app was serving.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { type AppEvent, serveApp } from '../../../src/kits/app/index.ts';

async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (req.url === '/async-bug') throw new Error('async bug');
  if (req.url === '/labelled-bug') {
    // Headers for the export it meant to send, set before its bug.
    res.setHeader('content-encoding', 'gzip');
    res.setHeader('content-disposition', 'attachment; filename="rates.csv.gz"');
    res.setHeader('etag', '"v1"');
    res.setHeader('access-control-allow-origin', '*');
    throw new Error('labelled bug');
  }
  if (req.url === '/late-bug') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' }).write('partial ');
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('late bug');
  }
  res.end('ok\n');
}

test('a listener that throws or rejects fails its request alone: 500, or cut once the head left; the app goes on', async () => {
  const events: AppEvent[] = [];
  const { app, port, ready } = await serveApp(
    (req, res) => (req.url === '/sync-bug' ? listenerSync(req, res) : listener(req, res)),
    {
      host: '127.0.0.1',
      shutdown: { delay: 0 },
      signals: [],
      exit: false,
      log: (event) => events.push(event),
    },
  );
  try {
    await ready;
    const base = `http://127.0.0.1:${port}`;
    for (const path of ['/async-bug', '/sync-bug']) {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(res.status, 500, path);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      assert.match(await res.text(), /^500 Internal Server Error\n/, path);
    }
    const labelled = await fetch(`${base}/labelled-bug`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(labelled.status, 500);
    assert.match(
      await labelled.text(),
      /^500 Internal Server Error\n/,
      'readable: no content coding claimed',
    );
    for (const name of ['content-encoding', 'content-disposition', 'etag'])
      assert.equal(labelled.headers.get(name), null, name);
    assert.equal(
      labelled.headers.get('access-control-allow-origin'),
      '*',
      'what is not about the representation stays',
    );
    const late = await fetch(`${base}/late-bug`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(late.status, 200);
    await assert.rejects(late.text(), TypeError, 'cut, never finished as if whole');
    const ok = await fetch(`${base}/ok`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(await ok.text(), 'ok\n', 'the app still serves');
    assert.deepEqual(
      events.filter((e) => e.msg === 'request failed').map((e) => [e.method, e.path, e.error]),
      [
        ['GET', '/async-bug', 'async bug'],
        ['GET', '/sync-bug', 'sync bug'],
        ['GET', '/labelled-bug', 'labelled bug'],
        ['GET', '/late-bug', 'late bug'],
      ],
    );
  } finally {
    await app.shutdown('test');
  }
});

/** A listener that throws at once, as a synchronous one does. */
function listenerSync(_req: IncomingMessage, _res: ServerResponse): void {
  throw new Error('sync bug');
}

test('what cannot be read as text (an object without a prototype, a message getter that throws) fails its request alone too; a check and a hook that reject with one neither', async () => {
  const events: AppEvent[] = [];
  // `String()` of an object without a prototype throws (what querystring.parse gives is one).
  const unreadable = () => Object.create(null) as unknown;
  const badMessage = () => {
    const error = new Error('hidden');
    Object.defineProperty(error, 'message', {
      get() {
        throw new Error('no message');
      },
    });
    return error;
  };
  let checks = 0;
  const { app, port, ready } = await serveApp(
    (req) => {
      if (req.url === '/sync') throw unreadable();
      if (req.url === '/async') return Promise.reject(unreadable());
      if (req.url === '/getter') return Promise.reject(badMessage());
      return undefined;
    },
    {
      host: '127.0.0.1',
      // The first check rejects with one: "not yet", as any rejection, then ready.
      ready: () => (++checks === 1 ? Promise.reject(unreadable()) : true),
      readyRetry: 10,
      onShutdown: () => Promise.reject(unreadable()),
      shutdown: { delay: 0 },
      signals: [],
      exit: false,
      log: (event) => events.push(event),
    },
  );
  let report: Awaited<ReturnType<typeof app.shutdown>> | undefined;
  try {
    await ready;
    assert.equal(app.state, 'ready');
    for (const path of ['/sync', '/async', '/getter']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(res.status, 500, path);
      assert.match(await res.text(), /^500 Internal Server Error\n/, path);
    }
  } finally {
    report = await app.shutdown('test');
  }
  assert.equal(report.cleanupFailures, 1);
  const unreadableWords = 'a thrown object that cannot be read as text';
  assert.deepEqual(
    events.filter((e) => e.msg === 'request failed').map((e) => [e.path, e.error]),
    [
      ['/sync', unreadableWords],
      ['/async', unreadableWords],
      ['/getter', unreadableWords],
    ],
  );
  assert.equal(events.find((e) => e.msg === 'not ready yet')?.error, unreadableWords);
  assert.equal(events.find((e) => e.msg === 'cleanup failed')?.error, unreadableWords);
});

test('a body read that fails because the client left says so on its line (client_aborted): not told as a bug of the app', async () => {
  const events: AppEvent[] = [];
  let failedRead: () => void = () => {};
  const readFailed = new Promise<void>((resolve) => {
    failedRead = resolve;
  });
  let reading: () => void = () => {};
  const readStarted = new Promise<void>((resolve) => {
    reading = resolve;
  });
  const { app, port, ready } = await serveApp(
    async (req, res) => {
      if (req.url === '/bug') throw new Error('a bug');
      try {
        reading();
        for await (const _ of req);
      } finally {
        failedRead();
      }
      res.end('read\n');
    },
    {
      host: '127.0.0.1',
      shutdown: { delay: 0 },
      signals: [],
      exit: false,
      log: (event) => events.push(event),
    },
  );
  try {
    await ready;
    // A head announcing 100 bytes, 10 of them, then the client gone.
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: 100\r\n\r\n0123456789');
    await readStarted;
    socket.destroy();
    await readFailed;
    const bug = await fetch(`http://127.0.0.1:${port}/bug`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(bug.status, 500);
    await bug.text();
  } finally {
    await app.shutdown('test');
  }
  assert.deepEqual(
    events.filter((e) => e.msg === 'request failed').map((e) => [e.path, e.error, e.client_aborted]),
    [
      ['/upload', 'aborted', true],
      ['/bug', 'a bug', undefined],
    ],
  );
});

test("the request failed line names the request id the request came with (the gateway's), so that the gateway's line and the app's meet", async () => {
  const events: AppEvent[] = [];
  const { app, port, ready } = await serveApp(
    () => {
      throw new Error('a bug');
    },
    {
      host: '127.0.0.1',
      shutdown: { delay: 0 },
      signals: [],
      exit: false,
      log: (event) => events.push(event),
    },
  );
  const answered: (string | null)[] = [];
  try {
    await ready;
    for (const id of ['edge-7f3a9c', undefined, 'not safe\u00e9']) {
      const headers: Record<string, string> = id === undefined ? {} : { 'x-request-id': id };
      const res = await fetch(`http://127.0.0.1:${port}/bug`, {
        headers,
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(res.status, 500);
      answered.push(res.headers.get('x-request-id'));
      await res.text();
    }
  } finally {
    await app.shutdown('test');
  }
  // None came (or one that could not be passed on as it came): the one made for the answer,
  // never the unsafe one.
  assert.equal(answered[0], 'edge-7f3a9c');
  for (const id of answered.slice(1)) assert.match(id ?? '', /^[0-9a-f]{8}-[0-9a-f-]{27}$/);
  assert.deepEqual(
    events.filter((e) => e.msg === 'request failed').map((e) => [e.path, e.request_id]),
    answered.map((id) => ['/bug', id]),
  );
});

test("a listener's 500 is negotiated as the kit's other answers (problem+json, a page, text) and carries a request id to quote, never the error's words", async () => {
  const events: AppEvent[] = [];
  const { app, port, ready } = await serveApp(
    async () => {
      throw new Error('db password hunter2');
    },
    {
      host: '127.0.0.1',
      shutdown: { delay: 0 },
      signals: [],
      exit: false,
      log: (event) => events.push(event),
    },
  );
  const answers: { accept?: string; id: string | null; type: string | null; body: string }[] = [];
  let headId: string | null = null;
  try {
    await ready;
    const cases: { accept?: string; id?: string }[] = [
      { accept: 'application/json', id: 'edge-7f3a9c' },
      { accept: 'text/html,application/xhtml+xml' },
      { accept: '*/*' },
      {},
    ];
    for (const { accept, id } of cases) {
      const headers: Record<string, string> = {};
      if (accept !== undefined) headers.accept = accept;
      if (id !== undefined) headers['x-request-id'] = id;
      const res = await fetch(`http://127.0.0.1:${port}/bug`, {
        headers,
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('vary'), 'Accept');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      answers.push({
        accept,
        id: res.headers.get('x-request-id'),
        type: res.headers.get('content-type'),
        body: await res.text(),
      });
    }
    const head = await fetch(`http://127.0.0.1:${port}/bug`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(head.status, 500);
    headId = head.headers.get('x-request-id');
    assert.match(headId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await head.text(), '');
  } finally {
    await app.shutdown('test');
  }
  const [json, page, any, none] = answers;
  // The id the request came with (the gateway's) is the one answered; a direct caller gets one made for it.
  assert.equal(json.id, 'edge-7f3a9c');
  for (const { id } of [page, any, none]) assert.match(id ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(json.type, 'application/problem+json');
  assert.deepEqual(JSON.parse(json.body), {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'The server failed while handling this request.',
    request_id: 'edge-7f3a9c',
  });
  assert.equal(page.type, 'text/html; charset=utf-8');
  assert.match(page.body, /^<!doctype html>/);
  assert.ok(page.body.includes(page.id ?? '-'), 'the page shows the id');
  for (const { type, body, id } of [any, none]) {
    assert.equal(type, 'text/plain; charset=utf-8');
    assert.equal(
      body,
      `500 Internal Server Error\n\nThe server failed while handling this request.\nrequest id: ${id}\n`,
    );
  }
  for (const { body } of answers) assert.ok(!body.includes('hunter2'), 'no error message, no stack');
  // Each line names the id its answer gave: the one a caller quotes finds it.
  assert.deepEqual(
    events.filter((e) => e.msg === 'request failed').map((e) => e.request_id),
    [...answers.map((a) => a.id), headId],
  );
});
