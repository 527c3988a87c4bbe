/**
 * Resources under hostile upstreams and clients: a 1xx flood, 10^6 one-byte chunks, a
 * dripping body, a 1 GiB announced chunk, a client that stops reading. Each case runs its own
 * `candor serve --workers 1` (see resource-fixture.ts) so the worker's peak RSS is the case's
 * alone, and asserts three things: what the client sees (the exact status), that the exchange
 * ended within its configured timeouts plus a generous margin, and that the worker's resident
 * memory grew by at most RSS_BOUND over its baseline (measured after a warm-up).
 *
 * The bound, 128 MiB of growth over the baseline (about 85 MiB after the warm-up, so a peak
 * near 215 MiB): a worker that streams with backpressure still holds garbage V8 has not
 * collected yet — the read buffers of up to 64 MiB of traffic (V8 forces a full collection
 * only once external memory has grown by 64 MiB), two 16 MiB young-generation semi-spaces under
 * the worker's V8 flags, and old-generation slack — besides socket buffers and one head at a
 * time. That is about 106 MiB at worst; correct streaming measures 35–70 MiB here. What an
 * unbounded buffer holds is far beyond it: the bodies are 512 MiB and 1 GiB, and the 1xx flood
 * queues hundreds of MiB of interim heads within its response timeout. So the bound separates
 * "bounded" from "unbounded" with room on both sides, on a loaded 2-core CI machine too, where
 * a slower gateway only buffers less.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import {
  type LogLine,
  MiB,
  meterRss,
  mib,
  pump,
  type RawUpstream,
  type RssReport,
  sleep,
  startRawUpstream,
  startWorkerGateway,
  type UpstreamConnection,
  type WorkerGateway,
} from './resource-fixture.ts';

const RSS_BOUND_KIB = 128 * 1024;
/** Added to every configured timeout before an exchange counts as not ended in time. */
const MARGIN_MS = 3000;

function reportRss(t: TestContext, label: string, rss: RssReport): void {
  t.diagnostic(
    `${label}: worker RSS baseline ${mib(rss.baselineKiB)}, peak ${mib(rss.peakKiB)}, growth ${mib(rss.growthKiB)} (bound ${mib(RSS_BOUND_KIB)}, ${rss.method}); worker CPU ${rss.cpuMs} ms`,
  );
}

/** The access-log line's fields that say how the exchange ended, and whatever the worker wrote to stderr. */
function reportLine(t: TestContext, label: string, gw: WorkerGateway, line: LogLine | undefined): void {
  if (line) {
    const { status, error, stage, details, bytes_out, total_ms, client_aborted, upstream_reset } = line;
    t.diagnostic(
      `${label}: access log ${JSON.stringify({ status, error, stage, details, bytes_out, total_ms, client_aborted, upstream_reset })}`,
    );
  } else t.diagnostic(`${label}: no access-log line`);
  const stderr = gw.stderr().trim();
  if (stderr) {
    const warnings = stderr.split('\n').filter((l) => /Warning:/.test(l));
    t.diagnostic(
      `${label}: worker stderr: ${warnings.length} warning line(s); first: ${stderr.split('\n')[0]}`,
    );
  }
}

/** The access-log line of the case's request, or undefined if none came within `waitMs`. */
async function lineOf(gw: WorkerGateway, waitMs = 5000): Promise<LogLine | undefined> {
  return gw.accessLine(1, waitMs).catch(() => undefined);
}

function assertRssBounded(rss: RssReport): void {
  assert.ok(
    rss.growthKiB <= RSS_BOUND_KIB,
    `worker RSS grew by ${mib(rss.growthKiB)} (from ${mib(rss.baselineKiB)} to ${mib(rss.peakKiB)}), over the bound of ${mib(RSS_BOUND_KIB)}`,
  );
}

async function setUp(
  script: (connection: UpstreamConnection) => Promise<void> | void,
  timeouts: string,
  extra = '',
): Promise<{ upstream: RawUpstream; gw: WorkerGateway }> {
  const upstream = await startRawUpstream(script);
  try {
    const gw = await startWorkerGateway(
      `targets:
  - url: ${upstream.url}
timeouts: ${timeouts}
retries: { attempts: 1 }
`,
      extra,
    );
    await gw.warmUp();
    return { upstream, gw };
  } catch (err) {
    await upstream.close();
    throw err;
  }
}

interface ClientResult {
  status: number;
  received: number;
  /** Ended without its framing saying it was whole. */
  aborted: boolean;
  /** performance.now() when the response was over (closed), or undefined if the client gave up first. */
  endedAt: number | undefined;
  /** Whether every body byte was `x` (for the chunk case). */
  allX: boolean;
}

/** A node:http GET that reads as fast as it can, giving up (destroying) after `giveUpMs`. */
function get(
  port: number,
  path: string,
  giveUpMs: number,
  checkX = false,
): { done: Promise<ClientResult>; result: ClientResult } {
  const result: ClientResult = { status: 0, received: 0, aborted: false, endedAt: undefined, allX: true };
  const done = new Promise<ClientResult>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false });
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      req.destroy();
    }, giveUpMs);
    const finish = () => {
      clearTimeout(timer);
      if (!gaveUp && result.endedAt === undefined) result.endedAt = performance.now();
      resolve(result);
    };
    req.on('error', () => {
      result.aborted = true;
      finish();
    });
    req.on('response', (res) => {
      result.status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        result.received += chunk.length;
        if (checkX && result.allX) for (const byte of chunk) if (byte !== 0x78) result.allX = false;
      });
      res.on('error', () => {});
      res.on('close', () => {
        result.aborted = !res.complete;
        finish();
      });
    });
  });
  return { done, result };
}

// ── 1. a 1xx flood ───────────────────────────────────────────────────────────────────

test('a 1xx flood to a client that does not read: 502 once the interim heads pass the response head limit, memory bounded', async (t) => {
  // A 102, then a 103 of about 4 KiB (32 Link fields): each interim head the gateway passes on
  // to a client that does not read is memory it holds, until it caps them or drops them.
  const links = Array.from(
    { length: 32 },
    (_, i) => `Link: </assets/style-${i}-${'x'.repeat(80)}.css>; rel=preload; as=style\r\n`,
  ).join('');
  const interim = Buffer.from(
    `HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n${links}\r\n`,
    'latin1',
  );
  const batch = Buffer.concat(
    Array.from({ length: Math.floor((64 * 1024) / interim.length) }, () => interim),
  );
  const FLOOD_MS = 3000;
  const { upstream, gw } = await setUp(async (connection) => {
    // Interim heads as fast as the gateway takes them, and never a final response.
    const until = connection.requestAt + FLOOD_MS;
    await pump(connection, batch, () => performance.now() >= until);
  }, '{ response: 2s, read: 2s, total: 10s }');
  try {
    const meter = meterRss(gw.workerPid);
    const startedAt = performance.now();
    const client = net.connect(gw.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET /flood HTTP/1.1\r\nHost: candor.test\r\nConnection: close\r\n\r\n');
    // The client reads nothing while the flood lasts (no 'data' listener: the socket's buffer
    // fills, then the kernel's, then the gateway's writes queue up — or are dropped).
    const connection = await upstream.firstConnection();
    const upstreamClosedAt = await Promise.race([
      connection.closed,
      sleep(FLOOD_MS + MARGIN_MS).then(() => 0),
    ]);
    const floodSent = connection.sent;
    await sleep(Math.max(0, startedAt + FLOOD_MS + 500 - performance.now()));
    const rss = meter.stop();

    // Now the client reads everything the gateway queued for it, looking for the final head.
    let received = 0;
    let interimHeads = 0;
    let carry = '';
    let final = '';
    const ended = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      client.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (final) {
          final += chunk.toString('latin1');
          return;
        }
        const text = carry + chunk.toString('latin1');
        interimHeads += text.match(/HTTP\/1\.1 1\d\d /g)?.length ?? 0;
        const at = text.search(/HTTP\/1\.1 [2-5]\d\d /);
        if (at >= 0) final = text.slice(at);
        else carry = text.slice(-12); // shorter than "HTTP/1.1 1xx ": a head is never counted twice
      });
      client.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      client.resume();
    });
    client.destroy();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(final)?.[1] ?? 0);
    t.diagnostic(
      `1xx flood: upstream wrote ${mib(floodSent / 1024)} of interim heads; the client then read ${mib(received / 1024)} (${interimHeads} interim heads) and ${status ? `a final ${status}` : 'no final head'}; upstream connection ${upstreamClosedAt ? `closed by the gateway ${Math.round(upstreamClosedAt - connection.requestAt)} ms after the request` : `still open after ${FLOOD_MS + MARGIN_MS} ms`}`,
    );
    reportRss(t, '1xx flood', rss);
    const line = await lineOf(gw);
    reportLine(t, '1xx flood', gw, line);

    assert.ok(
      upstreamClosedAt > 0,
      'the gateway gave up on the upstream by the response timeout (2 s) + margin (at the head limit, sooner)',
    );
    assert.ok(upstreamClosedAt - connection.requestAt <= 2000 + MARGIN_MS);
    assert.ok(ended, 'the client, once reading, sees the connection end');
    // Told as the flood it is (their bytes past the response head limit), not as a silent upstream.
    assert.equal(status, 502, `final head: ${JSON.stringify(final.slice(0, 300))}`);
    assert.match(
      final,
      /\r\nproxy-status: edge-1; error=http_protocol_error; details="\d+ interim \(1xx\) responses and no final one/i,
    );
    assert.ok(line, 'the exchange has its access-log line');
    assert.equal(line.status, 502);
    assert.equal(line.error, 'http_protocol_error');
    assertRssBounded(rss);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// ── 2. 10^6 one-byte chunks ─────────────────────────────────────────────────────────────

test('10^6 one-byte chunks reach the client whole, memory bounded', async (t) => {
  const CHUNKS = 1_000_000;
  const PER_BATCH = 10_000;
  const batch = Buffer.from('1\r\nx\r\n'.repeat(PER_BATCH), 'latin1');
  const { upstream, gw } = await setUp(async (connection) => {
    connection.socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    let batches = 0;
    if (await pump(connection, batch, () => batches++ === CHUNKS / PER_BATCH))
      connection.socket.write('0\r\n\r\n');
    // A generous total: this case is about memory and completeness, not speed.
  }, '{ response: 2s, read: 2s, total: 30s }');
  try {
    const meter = meterRss(gw.workerPid);
    const startedAt = performance.now();
    const { done } = get(gw.port, '/chunks', 30_000 + MARGIN_MS, true);
    const res = await done;
    const rss = meter.stop();
    t.diagnostic(
      `one-byte chunks: status ${res.status}, ${res.received} bytes, ${res.aborted ? 'aborted' : 'complete'}, ${res.endedAt ? `over after ${Math.round(res.endedAt - startedAt)} ms` : `not over after ${30_000 + MARGIN_MS} ms`}`,
    );
    reportRss(t, 'one-byte chunks', rss);
    const line = await lineOf(gw);
    reportLine(t, 'one-byte chunks', gw, line);

    assert.equal(res.status, 200);
    assert.equal(res.received, CHUNKS);
    assert.ok(res.allX, 'every byte is the one the upstream sent');
    assert.equal(res.aborted, false, 'the body ended whole');
    assert.ok(
      res.endedAt !== undefined && res.endedAt - startedAt <= 30_000 + MARGIN_MS,
      'over within total + margin',
    );
    assert.ok(line, 'the exchange has its access-log line');
    assert.equal(line.status, 200);
    assert.equal(line.bytes_out, CHUNKS);
    assert.equal(line.error, undefined);
    assertRssBounded(rss);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// ── 3. a dripping body ──────────────────────────────────────────────────────────────────

test('a body dripping a byte every 300 ms is cut at the total timeout with total_includes_body, not the read timeout', async (t) => {
  const { upstream, gw } = await setUp(async (connection) => {
    const { socket } = connection;
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n');
    // 100 bytes at 300 ms: 30 s in all; every gap is well inside the read timeout.
    for (let i = 0; i < 100 && !connection.isClosed(); i++) {
      socket.write('x');
      connection.sent++;
      await sleep(300);
    }
  }, '{ response: 2s, read: 1s, total: 3s, total_includes_body: true }');
  try {
    const meter = meterRss(gw.workerPid);
    const startedAt = performance.now();
    const { done } = get(gw.port, '/drip', 3000 + MARGIN_MS + 500);
    const connection = await upstream.firstConnection();
    const res = await done;
    const upstreamClosedAt = await Promise.race([connection.closed, sleep(500).then(() => 0)]);
    const rss = meter.stop();
    t.diagnostic(
      `dripping body: status ${res.status}, ${res.received} of 100 bytes, ${res.aborted ? 'cut' : 'complete'}, ${res.endedAt ? `over after ${Math.round(res.endedAt - startedAt)} ms` : `not over after ${3000 + MARGIN_MS + 500} ms (the client gave up)`}; upstream connection ${upstreamClosedAt ? 'closed' : 'still open'}`,
    );
    reportRss(t, 'dripping body', rss);
    const line = await lineOf(gw);
    reportLine(t, 'dripping body', gw, line);

    assert.equal(res.status, 200);
    assert.ok(
      res.endedAt !== undefined && res.endedAt - startedAt <= 3000 + MARGIN_MS,
      'the transfer ended by the total timeout (3 s) + margin',
    );
    assert.equal(res.aborted, true, 'the transfer was cut, never finished as if whole');
    assert.ok(res.received < 100);
    assert.ok(upstreamClosedAt > 0, 'the gateway closed its upstream connection');
    assert.ok(line, 'the exchange has its access-log line');
    assert.equal(line.status, 200);
    assert.equal(line.error, 'connection_read_timeout');
    assertRssBounded(rss);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// ── 4. a 1 GiB announced chunk ──────────────────────────────────────────────────────────

test('a 1 GiB announced chunk streams through without being buffered', async (t) => {
  const STREAM_BYTES = 200 * MiB;
  const STREAM_MS = 4000;
  const data = Buffer.alloc(64 * 1024, 0x61);
  let pumped: () => void = () => {};
  const pumpedDone = new Promise<void>((resolve) => {
    pumped = resolve;
  });
  const { upstream, gw } = await setUp(async (connection) => {
    connection.socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n',
    );
    const until = connection.requestAt + STREAM_MS;
    await pump(connection, data, () => connection.sent >= STREAM_BYTES || performance.now() >= until);
    pumped();
  }, '{ response: 2s, read: 5s, total: 30s }');
  try {
    const meter = meterRss(gw.workerPid);
    const { done, result } = get(gw.port, '/huge-chunk', STREAM_MS + 3000 + MARGIN_MS);
    const connection = await upstream.firstConnection();
    await pumpedDone;
    // Everything the upstream sent reaches the client before the upstream hangs up mid-chunk.
    const caughtUpBy = performance.now() + 3000;
    while (
      result.received < connection.sent &&
      performance.now() < caughtUpBy &&
      result.endedAt === undefined
    )
      await sleep(10);
    const caughtUp = result.received === connection.sent;
    const cutAt = performance.now();
    connection.socket.end();
    const res = await done;
    const rss = meter.stop();
    t.diagnostic(
      `1 GiB chunk: status ${res.status}, upstream sent ${mib(connection.sent / 1024)}, client received ${mib(res.received / 1024)}, ${res.aborted ? 'cut' : 'complete'} ${res.endedAt ? `${Math.round(res.endedAt - cutAt)} ms after the upstream hung up` : '(client gave up)'}`,
    );
    reportRss(t, '1 GiB chunk', rss);
    const line = await lineOf(gw);
    reportLine(t, '1 GiB chunk', gw, line);

    assert.equal(res.status, 200);
    assert.ok(caughtUp, 'the client received every byte the upstream sent');
    assert.equal(res.received, connection.sent);
    assert.equal(res.aborted, true, 'a chunk cut short is never finished as if whole');
    assert.ok(
      res.endedAt !== undefined && res.endedAt - cutAt <= MARGIN_MS,
      'the cut reached the client at once',
    );
    assert.ok(line, 'the exchange has its access-log line');
    assert.equal(line.status, 200);
    assert.equal(line.bytes_out, connection.sent);
    assertRssBounded(rss);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

// ── 5. a client that stops reading ──────────────────────────────────────────────────────

// A spool takes what the client cannot (limits.spool, response-spool.test.ts) up to its bound:
// 16 MiB here, past which the upstream waits for the client as it did before spooling.
test('a client that stops reading a 512 MiB body: past the spool, backpressure holds memory, its close frees the upstream', async (t) => {
  const LENGTH = 512 * MiB;
  const STALL_MS = 3000;
  const RESUMED_BYTES = 32 * MiB;
  const data = Buffer.alloc(64 * 1024, 0x62);
  const { upstream, gw } = await setUp(
    async (connection) => {
      connection.socket.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${LENGTH}\r\n\r\n`,
      );
      await pump(connection, data, () => connection.sent >= LENGTH);
    },
    '{ response: 2s, read: 1s, total: 30s }',
    'limits: { spool: { max_response: 16MiB } }\n',
  );
  try {
    const meter = meterRss(gw.workerPid);
    const client = net.connect(gw.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET /big HTTP/1.1\r\nHost: candor.test\r\n\r\n');
    let head = '';
    let body = 0;
    let closedByGateway = false;
    client.once('close', () => {
      closedByGateway = true;
    });
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        if (head.endsWith('\r\n\r\n')) {
          body += chunk.length;
          return;
        }
        const text = head + chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) {
          head = text;
          return;
        }
        head = text.slice(0, end + 4);
        body += chunk.length - (end + 4 - (text.length - chunk.length));
        client.pause(); // the head is in: the client stops reading
        resolve();
      };
      client.on('data', onData);
    });
    const connection = await upstream.firstConnection();
    const sentAtStall = connection.sent;
    await sleep(STALL_MS);
    const sentDuringStall = connection.sent - sentAtStall;
    const stalledRss = meter.stop();
    const meterAfter = meterRss(gw.workerPid);
    // Reading again: the transfer goes on (the read timeout was suspended while the client held it back).
    const bodyAtResume = body;
    const resumed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (body - bodyAtResume >= RESUMED_BYTES) {
          clearTimeout(timer);
          client.off('data', check);
          client.pause();
          resolve(true);
        }
      };
      client.on('data', check);
      client.once('close', () => resolve(false));
      client.resume();
    });
    const gatewayClosedFirst = closedByGateway;
    const closedAt = performance.now();
    client.destroy();
    const upstreamClosedAt = await Promise.race([connection.closed, sleep(MARGIN_MS).then(() => 0)]);
    const afterRss = meterAfter.stop();
    const rss: RssReport = {
      ...stalledRss,
      peakKiB: Math.max(stalledRss.peakKiB, afterRss.peakKiB),
      growthKiB: Math.max(stalledRss.peakKiB, afterRss.peakKiB) - stalledRss.baselineKiB,
    };
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    t.diagnostic(
      `stopped reader: status ${status}; upstream sent ${mib(sentDuringStall / 1024)} during the ${STALL_MS} ms stall (${mib(connection.sent / 1024)} in all); after resuming the client read ${mib((body - bodyAtResume) / 1024)}${gatewayClosedFirst ? ', but the gateway had closed the connection' : ''}; upstream connection ${upstreamClosedAt ? `closed ${Math.round(upstreamClosedAt - closedAt)} ms after the client closed` : 'still open'}`,
    );
    reportRss(t, 'stopped reader (stall)', stalledRss);
    reportRss(t, 'stopped reader (stall, resume and close)', rss);
    const line = await lineOf(gw);
    reportLine(t, 'stopped reader', gw, line);

    assert.equal(status, 200);
    assert.ok(
      sentDuringStall <= 64 * MiB,
      'backpressure reached the upstream: it could not send on while the client read nothing',
    );
    assert.ok(resumed && !gatewayClosedFirst, 'the transfer resumed once the client read again');
    assert.ok(
      upstreamClosedAt > 0 && upstreamClosedAt - closedAt <= MARGIN_MS,
      "the client's close freed the upstream connection",
    );
    assert.ok(line, 'the exchange has its access-log line');
    assert.equal(line.status, 200);
    assert.equal(line.client_aborted, true);
    assertRssBounded(rss);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
