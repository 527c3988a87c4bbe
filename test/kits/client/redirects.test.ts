/**
 * candor/client follows redirects as fetch does, one hop at a time, so that a failure after a
 * redirect is known to come after a server answered: a POST answered 303 (processed, see
 * there) is never sent again because its Location refused. The hops keep fetch's rules: a
 * POST turned into a GET loses its body, a 307 keeps it, credentials stay with their origin.
 * And what fetch refuses before any connection (a bad port, a scheme not HTTP's) is its own
 * TypeError at once, never a lost connection retried; no credential is quoted on the way.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

interface Seen {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An origin that records what reached it and answers with `answer`. */
async function recording(answer: (path: string) => [number, Record<string, string>]) {
  const seen: Seen[] = [];
  const origin = await listenOnLoopback((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const [status, headers] = answer(req.url ?? '/');
      res.writeHead(status, headers).end('moved');
    });
  });
  return { origin, seen };
}

for (const status of [303, 307]) {
  test(`a POST answered ${status} whose Location refuses is sent once: the server that redirected it had it`, async () => {
    const refused = await startRefusing();
    const { origin, seen } = await recording(() => [status, { location: `${refused.url}/done` }]);
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const error = await api(`${origin.url}/orders`, { method: 'POST', body: '{"sku":42}' }).then(
        () => assert.fail('resolved'),
        (err: unknown) => err,
      );
      assert.equal(seen.length, 1, 'the POST reached the origin once');
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
      assert.equal(error.type, 'connection_refused');
      assert.deepEqual(
        reports.map((r) => [r.type, r.retry, r.reason]),
        [['connection_refused', false, 'not_idempotent']],
      );
      assert.ok(
        // As URL writes it: port 80, which the kit may give, is the scheme's and left out.
        error.message.includes(`, at ${new URL('/done', refused.url).href} after 1 redirect; not retried: `),
        error.message,
      );
    } finally {
      await origin.close();
      await refused.close();
    }
  });
}

test('a POST answered 303 whose location answers a gateway\'s 503 "never reached its upstream" is not sent again: the first server had it', async () => {
  const gateway = await recording(() => [
    503,
    { 'proxy-status': 'edge; error=destination_unavailable; details="no healthy target"' },
  ]);
  const { origin, seen } = await recording(() => [303, { location: `${gateway.origin.url}/orders/42` }]);
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
    const res = await api(`${origin.url}/orders`, { method: 'POST', body: '{"sku":42}' });
    assert.equal(res.status, 503);
    assert.equal(seen.length, 1, 'the POST reached the origin once');
    assert.deepEqual(
      reports.map((r) => [r.status, r.type, r.retry, r.reason]),
      [[503, 'destination_unavailable', false, 'not_idempotent']],
    );
  } finally {
    await origin.close();
    await gateway.origin.close();
  }
});

test('a GET whose redirect target refuses is sent again (it is idempotent), from the start', async () => {
  const refused = await startRefusing();
  const { origin, seen } = await recording(() => [302, { location: `${refused.url}/there` }]);
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
    await api(`${origin.url}/here`).then(
      () => assert.fail('resolved'),
      (err: unknown) => assert.ok(err instanceof UpstreamError),
    );
    assert.equal(seen.length, 3);
    assert.deepEqual(
      reports.map((r) => r.reason),
      ['idempotent', 'idempotent', 'attempts'],
    );
  } finally {
    await origin.close();
    await refused.close();
  }
});

test('the hops keep fetch’s rules: 303 makes a bodiless GET, 307 keeps method and body, credentials stay with their origin', async () => {
  const other = await recording(() => [200, {}]);
  const first = await recording((path) =>
    path === '/see-other'
      ? [303, { location: '/same-origin' }]
      : path === '/same-origin'
        ? [307, { location: `${other.origin.url}/elsewhere` }]
        : [200, {}],
  );
  try {
    const api = createFetch();
    const res = await api(`${first.origin.url}/see-other`, {
      method: 'POST',
      body: 'secret order',
      headers: { authorization: 'Bearer t0ken', cookie: 'session=s3cret', 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.redirected, true);
    assert.equal(res.url, `${other.origin.url}/elsewhere`);
    assert.deepEqual(
      first.seen.map((s) => [s.method, s.url, s.body, s.headers.authorization, s.headers['content-type']]),
      [
        ['POST', '/see-other', 'secret order', 'Bearer t0ken', 'text/plain'],
        ['GET', '/same-origin', '', 'Bearer t0ken', undefined],
      ],
    );
    const [there] = other.seen;
    assert.deepEqual([there.method, there.url], ['GET', '/elsewhere']);
    assert.equal(there.headers.authorization, undefined);
    assert.equal(there.headers.cookie, undefined);

    // A 307 keeps the method and the body, a function's made afresh.
    other.seen.length = 0;
    const kept = await api(`${first.origin.url}/same-origin`, { method: 'PUT', body: () => 'again' });
    assert.equal(kept.status, 200);
    assert.deepEqual(
      other.seen.map((s) => [s.method, s.body]),
      [['PUT', 'again']],
    );

    // A stream passed as it is went with the first hop: it cannot follow a 307.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    });
    const refusal = await api(`${first.origin.url}/same-origin`, { method: 'PUT', body: stream }).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(refusal instanceof TypeError && !(refusal instanceof UpstreamError));
    assert.match((refusal.cause as Error).message, /cannot be followed with a stream body/);
  } finally {
    await first.origin.close();
    await other.origin.close();
  }
});

test("a URL on a port fetch blocks (6000) is fetch's own TypeError at once: nothing was sent, nothing is retried or counted", async () => {
  const reports: AttemptReport[] = [];
  const api = createFetch({
    backoff: { base: 1, cap: 2 },
    circuitBreaker: { failures: 1 },
    onAttemptFailed: (r) => reports.push(r),
  });
  for (let call = 0; call < 2; call++) {
    const error = await api('http://127.0.0.1:6000/x').then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof TypeError && !(error instanceof UpstreamError), String(error));
    assert.equal((error.cause as Error).message, 'bad port');
  }
  assert.deepEqual(reports, [], 'no attempt failed: none was made, and the circuit stays closed');
});

test('a credential in a query (the call’s api_key, a presigned location’s signature) is in none of the reports and errors', async () => {
  const refused = await startRefusing();
  const presigned = `${refused.url}/bucket/report.pdf?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=5ec4e7&X-Amz-Expires=60`;
  const { origin, seen } = await recording(() => [302, { location: presigned }]);
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
    const error = await api(`${origin.url}/download?id=7&api_key=k3y-s3cret`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.equal(seen[0].url, '/download?id=7&api_key=k3y-s3cret', 'the call goes as written');
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.url, `${origin.url}/download?id=7&api_key=***`);
    const told = [error.message, error.url, ...reports.flatMap((r) => [r.url, r.detail])].join('\n');
    for (const secret of ['k3y-s3cret', 'AKIA', '5ec4e7']) assert.ok(!told.includes(secret), told);
    assert.ok(
      error.message.includes('/bucket/report.pdf?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60'),
      error.message,
    );
  } finally {
    await origin.close();
    await refused.close();
  }
});

test('a redirect to a URL with user:password@ is refused without quoting the password anywhere', async () => {
  const { origin, seen } = await recording(() => [302, { location: 'http://app:hunter2@127.0.0.1:9/x' }]);
  try {
    const error = await createFetch()(`${origin.url}/`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof TypeError && !(error instanceof UpstreamError));
    assert.equal((error.cause as Error).message, 'redirect location includes credentials');
    assert.ok(!`${error.message}\n${error.stack}`.includes('hunter2'), String(error));
    assert.equal(seen.length, 1, 'sent once: the same redirect would come again');
  } finally {
    await origin.close();
  }
});

test("what another origin a redirect led to meets is not the first origin's: no circuit opened, no pause on its other paths", async () => {
  const refused = await startRefusing();
  const other = await recording(() => [503, { 'retry-after': '30' }]);
  const first = await recording((path) =>
    path === '/to-refused'
      ? [302, { location: `${refused.url}/x` }]
      : path === '/to-busy'
        ? [302, { location: `${other.origin.url}/y` }]
        : [200, {}],
  );
  try {
    const api = createFetch({
      attempts: 1,
      deadline: 2_000,
      circuitBreaker: { failures: 1, openTime: 60_000 },
    });
    await api(`${first.origin.url}/to-refused`).then(
      () => assert.fail('resolved'),
      (err: unknown) => assert.equal((err as UpstreamError).type, 'connection_refused'),
    );
    assert.equal((await api(`${first.origin.url}/here`)).status, 200, 'its circuit is closed');
    assert.equal((await api(`${first.origin.url}/to-busy`)).status, 503);
    assert.equal((await api(`${first.origin.url}/here`)).status, 200, 'not paused 30 s');
    assert.deepEqual(
      first.seen.map((s) => s.url),
      ['/to-refused', '/here', '/to-busy', '/here'],
    );
  } finally {
    await first.origin.close();
    await other.origin.close();
    await refused.close();
  }
});

test('another origin a redirect led to that hangs until the deadline opens no circuit of the origin called', async () => {
  const hanging = await listenOnLoopback(() => {});
  const first = await recording((path) =>
    path === '/to-hanging' ? [302, { location: `${hanging.url}/h` }] : [200, {}],
  );
  try {
    const api = createFetch({
      attempts: 1,
      deadline: 400,
      circuitBreaker: { failures: 1, openTime: 60_000 },
    });
    await api(`${first.origin.url}/to-hanging`).then(
      () => assert.fail('resolved'),
      (err: unknown) => assert.equal((err as UpstreamError).code, 'UPSTREAM_DEADLINE'),
    );
    assert.equal((await api(`${first.origin.url}/here`)).status, 200, 'its circuit is closed');
  } finally {
    await first.origin.close();
    await hanging.close();
  }
});

test("a URL of another scheme is fetch's own call, made once: file: and ws: are its refusal, data: its answer", async () => {
  const reports: AttemptReport[] = [];
  const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
  for (const url of ['file:///etc/hosts', 'ws://127.0.0.1:9/']) {
    const error = await api(url).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof TypeError && !(error instanceof UpstreamError), String(error));
  }
  assert.equal(await (await api('data:,hello')).text(), 'hello');
  assert.deepEqual(reports, [], 'no attempt failed: none was a connection');
});

// A redirect the client will not follow ends the call, and its answer is nobody's: its body is
// cancelled, as every followed hop's is, so its connection goes (one that holds the unread rest
// of a body serves no other request), not kept until the garbage collector finds it.
for (const [what, location] of [
  ['to a scheme that is not http(s)', 'ftp://files.example/x'],
  ['to a location that is not a URL', 'http://[::1'],
] as const) {
  test(`a redirect ${what}, its body still coming: the call ends with fetch's refusal and the connection is let go`, async () => {
    const origin = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(
        `HTTP/1.1 302 Found\r\nlocation: ${location}\r\ncontent-length: 1000\r\n\r\nmoved...`,
      );
    });
    try {
      const error = await createFetch()(`${origin.url}/old`).then(
        () => assert.fail('resolved'),
        (err: unknown) => err,
      );
      assert.ok(error instanceof TypeError && !(error instanceof UpstreamError));
      const connection = await origin.waitForConnection(1);
      const ended = await Promise.race([connection.ended, sleep(5_000, 'still open' as const)]);
      assert.notEqual(ended, 'still open');
      assert.equal(origin.received.length, 1);
    } finally {
      await origin.close();
    }
  });
}
