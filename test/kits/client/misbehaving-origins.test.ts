/**
 * candor/client called straight at origins that misbehave: one that answers something that is
 * not HTTP (or a status line undici refuses: a code below 100, a 101 nobody asked for) is told as
 * the gateway's table tells it (the garbage shape, never "the connection broke") and is not sent
 * again, GET or not; a Retry-After above `maxPause` (or past any clock) ends the call with
 * its answer (later calls wait `maxPause`); a redirect fetch will not follow is fetch's own error;
 * a retry the circuit stops is told as stopped, not as "nothing was sent".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHugeHeader,
  startInvalidHeader,
  startInvalidStatusLine,
  startSshBanner,
} from '../../../src/kits/fault-kit/garbage-faults.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

const garbage: [string, () => Promise<Fault>, string][] = [
  ['an SSH banner', startSshBanner, 'http_protocol_error'],
  ['a header name with a space', () => startInvalidHeader(), 'http_protocol_error'],
  ['a 64 KiB header', () => startHugeHeader(), 'http_response_header_section_size'],
  // undici reports any head its parser refuses once a Content-Length was read in it as a
  // Content-Length mismatch: an invalid field after it, or Transfer-Encoding beside it, is not
  // a bad Content-Length, and which it was undici does not say.
  [
    'a header name with a space after its Content-Length',
    () => startInvalidHeader({ afterContentLength: true }),
    'http_protocol_error',
  ],
  [
    'Content-Length beside Transfer-Encoding: chunked',
    () => startBadFraming({ variant: 'length-and-chunked' }),
    'http_protocol_error',
  ],
  // Lines llhttp parses and undici refuses in its own code (an assertion, a SocketError), not its parser's.
  ['status 099', () => startInvalidStatusLine({ variant: 'code-below-100' }), 'http_protocol_error'],
  [
    'an unasked 101 with Upgrade',
    () => startInvalidStatusLine({ variant: 'unasked-101' }),
    'http_protocol_error',
  ],
  [
    'an unasked 101 without Upgrade',
    () => startInvalidStatusLine({ variant: 'unasked-101-bare' }),
    'http_protocol_error',
  ],
  // Framings fetch reads anyway and the gateway's parser refuses (answer-rules.ts): a body
  // gzipped as a transfer coding, read until the close and handed over compressed as if plain.
  [
    'Transfer-Encoding gzip without chunked',
    () => startBadFraming({ variant: 'gzip-not-chunked' }),
    'http_response_transfer_coding',
  ],
  [
    'Transfer-Encoding chunked twice',
    () =>
      startRawFault(async (connection) => {
        await readRequest(connection);
        await connection.end(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        );
      }),
    'http_response_transfer_coding',
  ],
];

for (const [what, start, type] of garbage) {
  test(`an origin that answers ${what}: ${type}, sent once even for a GET`, async () => {
    const origin = await start();
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
      const error = await api(`${origin.url}/x`).then(
        () => assert.fail('resolved'),
        (err: unknown) => err,
      );
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.code, 'UPSTREAM_UNREACHABLE');
      assert.equal(error.type, type);
      assert.deepEqual(
        reports.map((r) => [r.type, r.retry, r.reason]),
        [[type, false, 'not_retryable']],
      );
      assert.match(
        error.message,
        new RegExp(
          `: the last attempt got no response: the connection failed or broke, or what came was not HTTP \\(1 attempt, ${type}: .*; not retried: `,
        ),
      );
      assert.equal(origin.received.length, 1, 'the origin got the request once');
    } finally {
      await origin.close();
    }
  });
}

for (const coding of ['gzip', 'deflate'] as const) {
  test(`a body under Transfer-Encoding "${coding}, chunked" (valid: the gateway undoes it) is given decoded, not as compressed bytes`, async () => {
    const compressed = coding === 'gzip' ? gzipSync('hello, plain') : deflateSync('hello, plain');
    const origin = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.end(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}, chunked\r\n\r\n${compressed.length.toString(16)}\r\n`,
          ),
          compressed,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      );
    });
    try {
      const reports: AttemptReport[] = [];
      const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
      const answer = await api(`${origin.url}/x`);
      assert.equal(answer.status, 200);
      assert.equal(answer.url, `${origin.url}/x`);
      assert.equal(await answer.text(), 'hello, plain');
      assert.deepEqual(reports, []);
    } finally {
      await origin.close();
    }
  });
}

test('a HEAD answered with Transfer-Encoding gzip has no body to frame: its answer is given as it came', async () => {
  const origin = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n');
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
    const answer = await api(`${origin.url}/x`, { method: 'HEAD' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('transfer-encoding'), 'gzip');
    assert.deepEqual(reports, []);
  } finally {
    await origin.close();
  }
});

test('a 503 whose Retry-After is above maxPause: the call ends with it at once (never sent before the announced time), the next call goes after maxPause', async () => {
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    if (hits === 1) res.writeHead(503, { 'retry-after': '30' }).end('later\n');
    else res.end('ok\n');
  });
  try {
    const reports: AttemptReport[] = [];
    // The deadline is past the announced 30 s: only maxPause decides.
    const api = createFetch({ maxPause: 300, deadline: 60_000, onAttemptFailed: (r) => reports.push(r) });
    const answer = await api(`${origin.url}/a`);
    assert.equal(answer.status, 503);
    assert.equal(await answer.text(), 'later\n');
    assert.equal(hits, 1, 'not sent again before the announced 30 s');
    assert.deepEqual(
      reports.map((r) => [r.status, r.retryAfterMs, r.retry, r.reason, r.why, r.delayMs]),
      [[503, 30_000, false, 'retry_after_past_max_pause', 'Retry-After reaches past maxPause', undefined]],
    );
    const next = await api(`${origin.url}/b`);
    assert.equal(next.status, 200, 'a later call waits maxPause, not 30 s');
    assert.equal(hits, 2);
  } finally {
    await origin.close();
  }
});

test('a 502 whose Retry-After is above maxPause ends the call with it: no Retry-After holds a call longer than maxPause, paused or not', async () => {
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    res.writeHead(502, { 'retry-after': '3' }).end('bad gateway\n');
  });
  try {
    const reports: AttemptReport[] = [];
    // The deadline is past the announced 3 s: only maxPause decides.
    const api = createFetch({ maxPause: 300, deadline: 60_000, onAttemptFailed: (r) => reports.push(r) });
    const answer = await api(`${origin.url}/a`);
    assert.equal(answer.status, 502);
    assert.equal(await answer.text(), 'bad gateway\n');
    assert.equal(hits, 1, 'not sent again after a wait past maxPause');
    assert.deepEqual(
      reports.map((r) => [r.status, r.retryAfterMs, r.retry, r.reason, r.delayMs]),
      [[502, 3_000, false, 'retry_after_past_max_pause', undefined]],
    );
  } finally {
    await origin.close();
  }
});

test('a 503 of another origin a redirect led to, whose Retry-After is above maxPause, ends the call with it (it pauses nothing here, and is waited no longer for that)', async () => {
  let elsewhereHits = 0;
  const elsewhere = await listenOnLoopback((_req, res) => {
    elsewhereHits++;
    res.writeHead(503, { 'retry-after': '3' }).end('later\n');
  });
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    res.writeHead(307, { location: `${elsewhere.url}/b` }).end();
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ maxPause: 300, deadline: 60_000, onAttemptFailed: (r) => reports.push(r) });
    const answer = await api(`${origin.url}/a`);
    assert.equal(answer.status, 503);
    assert.equal(await answer.text(), 'later\n');
    assert.deepEqual([hits, elsewhereHits], [1, 1], 'sent once to each');
    assert.deepEqual(
      reports.map((r) => [r.status, r.retryAfterMs, r.retry, r.reason]),
      [[503, 3_000, false, 'retry_after_past_max_pause']],
    );
  } finally {
    await origin.close();
    await elsewhere.close();
  }
});

test('a 503 whose Retry-After is more seconds than any clock holds is the longest wait, not no header: the GET is not sent again after a backoff', async () => {
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    if (hits === 1) res.writeHead(503, { 'retry-after': '99999999999999999999' }).end('later\n');
    else res.end('ok\n');
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ maxPause: 200, onAttemptFailed: (r) => reports.push(r) });
    const answer = await api(`${origin.url}/a`);
    assert.equal(answer.status, 503);
    assert.equal(await answer.text(), 'later\n');
    assert.equal(hits, 1, 'not sent again');
    assert.deepEqual(
      reports.map((r) => [r.retryAfterMs, r.retry, r.reason]),
      // Past maxPause (and the deadline): maxPause is told, as the docs' order has it.
      [[2 ** 31 * 1000, false, 'retry_after_past_max_pause']],
    );
    const next = await api(`${origin.url}/b`);
    assert.equal(next.status, 200, 'a later call waits maxPause');
    assert.equal(hits, 2);
  } finally {
    await origin.close();
  }
});

test('a 502 with Retry-After, or a 503 with Retry-After: 0, pauses nothing and counts for the circuit as a failure', async () => {
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    if (hits === 1) res.writeHead(502, { 'retry-after': '1' }).end('bad gateway\n');
    else res.writeHead(503, { 'retry-after': '0' }).end('unavailable\n');
  });
  try {
    const api = createFetch({ attempts: 1, circuitBreaker: { failures: 2, openTime: 60_000 } });
    assert.equal((await api(`${origin.url}/a`)).status, 502);
    assert.equal((await api(`${origin.url}/a`)).status, 503);
    const error = await api(`${origin.url}/a`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_CIRCUIT_OPEN');
    assert.equal(hits, 2, 'the third call sent nothing');
  } finally {
    await origin.close();
  }
});

test("a redirect fetch will not follow ends the call with fetch's own TypeError, after one attempt: a loop is not sent three times", async () => {
  let hits = 0;
  const origin = await listenOnLoopback((_req, res) => {
    hits++;
    res.writeHead(302, { location: '/again' }).end();
  });
  try {
    const reports: AttemptReport[] = [];
    const api = createFetch({ backoff: { base: 1, cap: 2 }, onAttemptFailed: (r) => reports.push(r) });
    const loop = await api(`${origin.url}/x`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(loop instanceof TypeError && !(loop instanceof UpstreamError));
    assert.equal((loop.cause as Error).message, 'redirect count exceeded');
    assert.equal(hits, 21, 'the request and fetch’s 20 redirects, once');

    hits = 0;
    const refused = await api(`${origin.url}/y`, { redirect: 'error' }).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof TypeError);
    assert.equal((refused.cause as Error).message, 'unexpected redirect');
    assert.equal(hits, 1);
    assert.deepEqual(reports, [], 'no attempt failed: the origin answered');
  } finally {
    await origin.close();
  }
});

test('a retry the circuit stops (the first attempt opened it) is told so: the error does not say nothing was sent', async () => {
  const refused = await startRefusing();
  try {
    const api = createFetch({
      circuitBreaker: { failures: 1, openTime: 60_000 },
      backoff: { base: 1, cap: 1 },
    });
    const error = await api(`${refused.url}/`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_CIRCUIT_OPEN');
    assert.deepEqual(
      error.attempts.map((a) => [a.type, a.retry, a.reason]),
      [['connection_refused', true, 'not_sent']],
    );
    assert.match(
      error.message,
      /: the origin's circuit is open: the call failed fast, nothing \(more\) was sent \(1 attempt, connection_refused: circuit open for http:\/\/127\.0\.0\.1:\d+, next probe in \d+ ms; not retried: the circuit to this origin is open\)$/,
    );
  } finally {
    await refused.close();
  }
});
