/**
 * `timeouts.total` bounds the wait for the answer, not a body that keeps moving: by default it
 * stops once the response head came, and the body is bounded by `timeouts.read` between reads
 * (nginx's proxy_read_timeout). Before, the default 60 s cut a healthy 75-second download
 * mid-body. `timeouts.total_includes_body: true` keeps the overall cap for who wants one.
 *
 * No timing is measured: the upstream trickles its body in 8 pieces 100 ms apart (a timer fires
 * no earlier than asked), so the body lasts at least 700 ms, past the 300 ms total, whatever the
 * machine's load, and each gap is far inside the 10 s read timeout.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';

const PIECES = 8;

/** An upstream whose body comes in PIECES pieces 100 ms apart (`stallAfter`: it goes silent after that many, never ending). */
async function startTrickling(stallAfter = PIECES): Promise<{ url: string; close(): Promise<void> }> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(PIECES) });
    let sent = 0;
    const next = (): void => {
      if (res.destroyed) return;
      res.write('x');
      sent++;
      if (sent === PIECES) return void res.end();
      if (sent >= stallAfter) return; // silent from here: the read timeout's to cut
      const timer = setTimeout(() => {
        timers.delete(timer);
        next();
      }, 100);
      timers.add(timer);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway that did not start leaves nothing open behind it: the upstream closes, the error goes on. */
function closing(upstream: { close(): Promise<void> }): (error: unknown) => Promise<never> {
  return async (error) => {
    await upstream.close();
    throw error;
  };
}

test('a body that keeps moving past timeouts.total is relayed whole by default: the total deadline ends at the head', {
  timeout: 10_000,
}, async () => {
  const upstream = await startTrickling();
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: '    timeouts: { response: 300ms, read: 10s, total: 300ms }\n',
    }),
  ).catch(closing(upstream));
  try {
    const res = await request(gw.url, { path: '/download', headers: { 'x-request-id': 'download' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false, 'the body came whole');
    assert.equal(res.text, 'x'.repeat(PIECES));
    const line = await gw.logFor('download');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a body that stalls is still cut, at timeouts.read of silence: connection_read_timeout', {
  timeout: 10_000,
}, async () => {
  const upstream = await startTrickling(2);
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: '    timeouts: { response: 300ms, read: 300ms, total: 10m }\n',
    }),
  ).catch(closing(upstream));
  try {
    const res = await request(gw.url, { path: '/download', headers: { 'x-request-id': 'stalled' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true, 'the transfer was cut, never finished as if whole');
    assert.equal(res.text, 'xx');
    const line = await gw.logFor('stalled');
    assert.equal(line.error, 'connection_read_timeout');
    assert.match(String(line.details), /^response body stalled \(read timeout of 300 ms\)/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('timeouts.total_includes_body: true caps the whole exchange, body included, as before', {
  timeout: 10_000,
}, async () => {
  const upstream = await startTrickling();
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: '    timeouts: { response: 300ms, read: 10s, total: 300ms, total_includes_body: true }\n',
    }),
  ).catch(closing(upstream));
  try {
    const res = await request(gw.url, { path: '/download', headers: { 'x-request-id': 'capped' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true, 'the transfer was cut at the total timeout');
    assert.ok(res.text.length < PIECES);
    const line = await gw.logFor('capped');
    assert.equal(line.error, 'connection_read_timeout');
    assert.equal(line.details, 'total timeout of 300 ms reached while streaming the body');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// The cap is the gateway's own: an upstream still sending when it passed was not failing (a
// stalled one is `read`'s to cut, and judged so). Judged, every server-sent event stream or long
// download on a capped route ejected its healthy target (and counted toward its circuit), as
// Envoy's route timeout does not once the response head came.
test('a body cut by total_includes_body while it still moves judges no target: no ejection', {
  timeout: 10_000,
}, async () => {
  const upstream = await startTrickling();
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream:
        '    timeouts: { response: 300ms, read: 10s, total: 300ms, total_includes_body: true }\n' +
        '    outlier_detection: { consecutive_failures: 1, max_ejected_percent: 100 }\n',
    }),
  ).catch(closing(upstream));
  try {
    for (const id of ['capped-1', 'capped-2']) {
      const res = await request(gw.url, { path: '/download', headers: { 'x-request-id': id } });
      assert.equal(res.aborted, true, 'the transfer was cut at the total timeout');
      assert.equal((await gw.logFor(id)).error, 'connection_read_timeout');
    }
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected'),
      [],
      'the target kept sending: it was not ejected',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
