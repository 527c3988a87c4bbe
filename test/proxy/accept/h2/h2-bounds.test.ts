/**
 * The downstream HTTP/2 server against hostile clients, with raw frames on node:net: each
 * bound (src/proxy/accept/h2/h2-limits.ts) set small, crossed, and answered with the right
 * GOAWAY (or RST_STREAM) code and one log line naming it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DownstreamExchange } from '../../../../src/core/net/downstream.ts';
import type { H2Limits } from '../../../../src/proxy/accept/h2/h2-limits.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import { type H2Fixture, type Handle, startH2Fixture } from './h2-fixture.ts';
import {
  ERROR,
  FRAME,
  frame,
  goawayCode,
  headerBlock,
  headers,
  PREFACE,
  ping,
  RawH2Client,
  type ReceivedFrame,
  requestFields,
  rstStream,
  SETTING,
  settings,
  windowUpdate,
} from './h2-frames.ts';

/** Never answers: streams stay open. */
const hang: Handle = () => {};

/** Answers 200 with a small body. */
const ok: Handle = (exchange: DownstreamExchange) => {
  exchange.answer.sendHead(200, 'OK', ['content-length', '2']);
  exchange.answer.write(Buffer.from('ok'));
  exchange.answer.end();
};

async function withRaw(
  limits: Partial<H2Limits>,
  handle: Handle,
  run: (client: RawH2Client, fx: H2Fixture) => Promise<void>,
  initial: [number, number][] = [],
): Promise<void> {
  const fx = await startH2Fixture({ limits, handle });
  const client = await RawH2Client.connect(fx.port, initial);
  try {
    await run(client, fx);
  } finally {
    client.close();
    await fx.close();
  }
}

function settingValue(f: ReceivedFrame, id: number): number | undefined {
  for (let i = 0; i + 6 <= f.payload.length; i += 6)
    if (f.payload.readUInt16BE(i) === id) return f.payload.readUInt32BE(i + 2);
  return undefined;
}

const rstCode = (f: ReceivedFrame) => f.payload.readUInt32BE(0);

test('max concurrent streams: announced in SETTINGS; a stream past it gets GOAWAY PROTOCOL_ERROR, logged', async () => {
  await withRaw({ maxConcurrentStreams: 2 }, hang, async (client, fx) => {
    const serverSettings = client.frames.find((f) => f.type === FRAME.SETTINGS && f.flags === 0);
    assert.equal(serverSettings && settingValue(serverSettings, SETTING.MAX_CONCURRENT_STREAMS), 2);
    // A PING's ACK tells the server has read our SETTINGS ACK: its bound is in force.
    client.send(ping());
    await client.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
    for (const id of [1, 3, 5]) client.send(headers(id, headerBlock(requestFields(`/${id}`))));
    assert.equal(goawayCode(await client.goaway()), ERROR.PROTOCOL_ERROR);
    await client.untilClosed();
    assert.equal(fx.logged.length, 1);
    assert.equal(fx.logged[0].bound, 'max_concurrent_streams');
    assert.equal(fx.logged[0].code, 'PROTOCOL_ERROR');
  });
});

// The field count was reset by node:http2 (its maxHeaderListPairs) before any JS saw the request:
// no answer, no log line.
test('max header list size and field count: announced; a list past the size is reset (ENHANCE_YOUR_CALM), one with too many fields refused 431, the connection serves on', async () => {
  await withRaw({ maxHeaderListSize: 1024, maxHeaderFields: 16 }, ok, async (client, fx) => {
    const serverSettings = client.frames.find((f) => f.type === FRAME.SETTINGS && f.flags === 0);
    assert.equal(serverSettings && settingValue(serverSettings, SETTING.MAX_HEADER_LIST_SIZE), 1024);
    client.send(headers(1, headerBlock(requestFields('/big', 'GET', [['x-big', 'a'.repeat(2000)]]))));
    const reset = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
    assert.equal(rstCode(reset), ERROR.ENHANCE_YOUR_CALM);
    const many: [string, string][] = Array.from({ length: 20 }, (_, i) => [`x-f${i}`, 'v']);
    client.send(headers(3, headerBlock(requestFields('/many', 'GET', many))));
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 3);
    assert.deepEqual(fx.refusals, [
      {
        status: 431,
        code: 'HPE_HEADER_OVERFLOW',
        details: 'more than 16 header fields (limits.http2.max_header_fields)',
        inBody: false,
      },
    ]);
    assert.equal(
      client.frames.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 3),
      false,
    );
    client.send(headers(5, headerBlock(requestFields('/fine'))));
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 5);
    assert.deepEqual(
      fx.exchanges.map((e) => e.head.target),
      ['/fine'],
    );
    assert.equal(client.closed, false);
  });
});

// node:http2 holds a request to the SETTINGS it announced only once the client acknowledged them,
// and a client's first request goes before it has (browsers send theirs with the preface): a head
// past max_header_list_size went to the upstream whole.
test('max header list size: a request sent before the client acknowledged SETTINGS is held to it too (431, as over HTTP/1.1), never handed over', async () => {
  const fx = await startH2Fixture({ limits: { maxHeaderListSize: 1024 }, handle: ok });
  const client = await RawH2Client.open(fx.port);
  try {
    client.send(
      Buffer.concat([
        PREFACE,
        settings(),
        headers(1, headerBlock(requestFields('/big', 'GET', [['x-big', 'a'.repeat(2000)]]))),
      ]),
    );
    const answer = await client.waitFor(
      (f) => f.streamId === 1 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM),
    );
    assert.equal(answer.type, FRAME.HEADERS, 'answered, never reset');
    assert.equal(fx.refusals[0]?.status, 431);
    assert.equal(fx.refusals[0]?.code, 'HPE_HEADER_OVERFLOW');
    assert.equal(fx.exchanges.length, 0, 'never handed over');
  } finally {
    client.close();
    await fx.close();
  }
});

test('HPACK table: a table size update past the announced size gets GOAWAY COMPRESSION_ERROR, logged as a protocol error', async () => {
  await withRaw({ headerTableSize: 4096 }, ok, async (client, fx) => {
    client.send(headers(1, headerBlock(requestFields('/'), 65_536)));
    assert.equal(goawayCode(await client.goaway()), ERROR.COMPRESSION_ERROR);
    await client.untilClosed();
    // node:http2 tells neither the cause nor the code of a GOAWAY nghttp2 sent on its own.
    assert.equal(fx.logged[0]?.bound, 'protocol_error');
    assert.equal(fx.logged[0]?.details, 'nghttp2: Protocol error');
  });
});

test('rapid reset (CVE-2023-44487): streams opened and reset past the bound get GOAWAY ENHANCE_YOUR_CALM, logged once', async () => {
  await withRaw({ maxClientResets: 10 }, hang, async (client, fx) => {
    for (let i = 0; i < 30; i++) {
      const id = 1 + 2 * i;
      client.send(headers(id, headerBlock(requestFields(`/${i}`)), { endStream: false }));
      client.send(rstStream(id, ERROR.CANCEL));
    }
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged.length, 1);
    assert.equal(fx.logged[0].bound, 'rapid_reset');
    assert.equal(fx.logged[0].code, 'ENHANCE_YOUR_CALM');
    assert.match(fx.logged[0].details, /more than 10 streams reset by the client/);
    assert.equal(fx.logged[0].remoteAddress, '127.0.0.1');
  });
});

// A gRPC client cancels calls whose answer is under way (a stream it no longer wants): normal,
// and no flood. Only premature resets count (Envoy's: no head sent, the stream under 1 s old).
test("rapid reset: streams the client cancels after their answer's head came do not count; the connection serves on", async () => {
  const streaming: Handle = (exchange: DownstreamExchange) => {
    exchange.answer.sendHead(200, 'OK', ['content-type', 'application/grpc']);
    exchange.answer.write(Buffer.from('part'));
  };
  await withRaw({ maxClientResets: 10 }, streaming, async (client, fx) => {
    for (let i = 0; i < 30; i++) {
      const id = 1 + 2 * i;
      client.send(headers(id, headerBlock(requestFields(`/${i}`)), { endStream: false }));
      await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
      client.send(rstStream(id, ERROR.CANCEL));
    }
    client.send(headers(61, headerBlock(requestFields('/after'))));
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 61);
    assert.equal(
      client.frames.some((f) => f.type === FRAME.GOAWAY),
      false,
    );
    assert.equal(client.closed, false);
    assert.deepEqual(fx.logged, []);
    assert.equal(fx.exchanges.length, 31);
  });
});

test('MadeYouReset (CVE-2025-8671): a frame that makes the server reset a stream closes the connection at once', async () => {
  await withRaw({ maxClientResets: 10 }, hang, async (client, fx) => {
    for (let i = 0; i < 30 && !client.closed; i++) {
      const id = 1 + 2 * i;
      client.send(headers(id, headerBlock(requestFields(`/${i}`)), { endStream: false }));
      // A WINDOW_UPDATE of 0 on a stream: once a stream error (the server resets the stream,
      // uncounted by a client-reset bound); nghttp2 now makes it a connection error.
      client.send(windowUpdate(id, 0));
    }
    const goaway = await client.goaway();
    assert.equal(goawayCode(goaway), ERROR.PROTOCOL_ERROR);
    await client.untilClosed();
    assert.ok(fx.exchanges.length <= 1, `${fx.exchanges.length} exchanges`);
    assert.equal(fx.logged[0]?.bound, 'protocol_error');
  });
});

test('CONTINUATION without end: a header block that never ends gets GOAWAY, logged', async () => {
  await withRaw({}, ok, async (client, fx) => {
    client.send(headers(1, headerBlock(requestFields('/')), { endHeaders: false }));
    for (let i = 0; i < 100 && !client.closed; i++)
      client.send(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-c${i}`, 'v']])));
    const goaway = await client.goaway();
    // A flood, said as one (nginx's code for it): not node:http2's INTERNAL_ERROR, "the server broke".
    assert.equal(goawayCode(goaway), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged[0]?.bound, 'continuation_flood');
    assert.equal(fx.exchanges.length, 0);
  });
});

test('SETTINGS flood: past the bound in one window, GOAWAY ENHANCE_YOUR_CALM, logged', async () => {
  await withRaw({ maxSettingsFrames: 5 }, ok, async (client, fx) => {
    for (let i = 0; i < 20 && !client.closed; i++)
      client.send(settings([[SETTING.INITIAL_WINDOW_SIZE, 65_535]]));
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged[0]?.bound, 'settings_flood');
  });
});

test('PING flood: past the bound in one window, GOAWAY ENHANCE_YOUR_CALM, logged', async () => {
  await withRaw({ maxPings: 5 }, ok, async (client, fx) => {
    for (let i = 0; i < 20 && !client.closed; i++) client.send(ping());
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged.length, 1);
    assert.equal(fx.logged[0].bound, 'ping_flood');
  });
});

test('zero-window stall: a response the client never lets move is reset with CANCEL at the send deadline, logged', async () => {
  const body = Buffer.alloc(1000, 'z');
  const closed: boolean[] = [];
  const answer: Handle = (exchange) => {
    exchange.answer.onClose((finished) => closed.push(finished));
    exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
    exchange.answer.write(body);
    exchange.answer.end();
  };
  await withRaw(
    { sendTimeout: 200 },
    answer,
    async (client, fx) => {
      client.send(headers(1, headerBlock(requestFields('/stall'))));
      const reset = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 1);
      assert.equal(rstCode(reset), ERROR.CANCEL);
      assert.equal(client.frames.filter((f) => f.type === FRAME.DATA).length, 0);
      assert.equal(fx.logged[0]?.bound, 'send_timeout');
      assert.equal(fx.logged[0]?.code, 'CANCEL');
      while (closed.length === 0) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(closed, [false]);
      // The connection itself is not closed for it.
      client.send(windowUpdate(0, 1));
      assert.equal(client.closed, false);
    },
    [[SETTING.INITIAL_WINDOW_SIZE, 0]],
  );
});

test('request rate per connection: past the bound the stream is refused and GOAWAY ENHANCE_YOUR_CALM names the last one taken', async () => {
  await withRaw({ maxRequests: 5 }, ok, async (client, fx) => {
    for (let i = 0; i < 6; i++) client.send(headers(1 + 2 * i, headerBlock(requestFields(`/${i}`))));
    const goaway = await client.goaway();
    assert.equal(goawayCode(goaway), ERROR.ENHANCE_YOUR_CALM);
    assert.equal(goaway.payload.readUInt32BE(0) & 0x7fffffff, 9);
    const refused = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === 11);
    assert.equal(rstCode(refused), ERROR.REFUSED_STREAM);
    await client.untilClosed();
    // The five taken were answered before the close.
    const answered = client.frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId);
    assert.deepEqual(answered, [1, 3, 5, 7, 9]);
    // RFC 9113 §6.8: a later GOAWAY never names a later stream (the refused one was not processed).
    const lastIds = client.frames
      .filter((f) => f.type === FRAME.GOAWAY)
      .map((f) => f.payload.readUInt32BE(0));
    assert.ok(
      lastIds.every((id) => id <= 9),
      `GOAWAY last stream ids ${lastIds}`,
    );
    assert.equal(fx.logged[0]?.bound, 'request_rate');
  });
});

test('invalid frames: malformed requests are reset (PROTOCOL_ERROR) up to the bound; the next closes the connection (GOAWAY ENHANCE_YOUR_CALM), logged', async () => {
  await withRaw({ maxInvalidFrames: 3 }, ok, async (client, fx) => {
    // A connection-specific field makes a request malformed (RFC 9113 §8.2.2): nghttp2 resets it.
    const malformed = (id: number) =>
      headers(id, headerBlock(requestFields('/', 'GET', [['connection', 'close']])));
    for (const id of [1, 3, 5]) {
      client.send(malformed(id));
      const reset = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === id);
      assert.equal(rstCode(reset), ERROR.PROTOCOL_ERROR);
    }
    assert.equal(client.closed, false);
    assert.equal(fx.logged.length, 0);
    client.send(malformed(7));
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.exchanges.length, 0);
    assert.equal(fx.logged.length, 1);
    assert.equal(fx.logged[0].bound, 'invalid_frames');
    assert.equal(fx.logged[0].code, 'ENHANCE_YOUR_CALM');
    assert.equal(fx.logged[0].details, 'more than 3 invalid frames (malformed requests, empty DATA frames)');
  });
});

test('invalid frames: empty DATA frames without END_STREAM count too; past the bound, GOAWAY ENHANCE_YOUR_CALM, logged', async () => {
  await withRaw({ maxInvalidFrames: 3 }, hang, async (client, fx) => {
    client.send(headers(1, headerBlock(requestFields('/upload', 'POST')), { endStream: false }));
    for (let i = 0; i < 3; i++) client.send(frame(FRAME.DATA, 0, 1));
    // A PING's ACK: the three were read, and the connection serves on.
    client.send(ping());
    await client.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
    assert.equal(fx.logged.length, 0);
    client.send(frame(FRAME.DATA, 0, 1));
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged[0]?.bound, 'invalid_frames');
  });
});

/** Answers with 64 KiB: a client whose window is shut leaves it queued in the session's memory. */
const sixtyFourKiB: Handle = (exchange) => {
  exchange.answer.sendHead(200, 'OK', ['content-length', String(64 * 1024)]);
  exchange.answer.write(Buffer.alloc(64 * 1024, 'm'));
  exchange.answer.end();
};

/**
 * Opens streams one at a time on a client whose window is shut, each answered with 64 KiB that
 * stays queued, until one is refused: the streams answered before it.
 */
async function fillSessionMemory(client: RawH2Client): Promise<number> {
  for (let id = 1; id < 200; id += 2) {
    client.send(headers(id, headerBlock(requestFields(`/${id}`))));
    const answer = await client.waitFor(
      (f) => (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM) && f.streamId === id,
    );
    if (answer.type === FRAME.RST_STREAM) {
      assert.equal(rstCode(answer), ERROR.ENHANCE_YOUR_CALM);
      return (id - 1) / 2;
    }
  }
  throw new Error('no stream refused');
}

test('session memory: while a connection holds max_session_memory, new streams are refused (ENHANCE_YOUR_CALM), the connection serves on; once it drains, streams are taken again', async () => {
  await withRaw(
    { maxSessionMemory: 1024 * 1024, maxRejectedStreams: 100 },
    sixtyFourKiB,
    async (client, fx) => {
      const answered = await fillSessionMemory(client);
      // 1 MiB of 64 KiB answers, less what the session holds besides.
      assert.ok(answered >= 8 && answered <= 16, `${answered} streams answered`);
      const next = 2 * answered + 3;
      client.send(headers(next, headerBlock(requestFields('/again'))));
      const refused = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === next);
      assert.equal(rstCode(refused), ERROR.ENHANCE_YOUR_CALM);
      client.send(ping());
      await client.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
      assert.equal(client.closed, false);
      // Refused streams never reach the server's handlers, and are not logged.
      assert.equal(fx.exchanges.length, answered);
      assert.deepEqual(fx.logged, []);
      // The client opens its windows: what was queued is sent, and a new stream is taken.
      client.send(settings([[SETTING.INITIAL_WINDOW_SIZE, 1 << 20]]));
      client.send(windowUpdate(0, 16 << 20));
      const last = next + 2;
      const ends = () => client.frames.filter((f) => f.type === FRAME.DATA && (f.flags & 1) === 1).length;
      await client.waitFor(() => ends() >= answered);
      client.send(headers(last, headerBlock(requestFields('/after'))));
      await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === last);
      assert.equal(fx.exchanges.length, answered + 1);
    },
    [[SETTING.INITIAL_WINDOW_SIZE, 0]],
  );
});

test('rejected streams: past max_rejected_streams refused in a row, the connection is closed (GOAWAY ENHANCE_YOUR_CALM), logged', async () => {
  await withRaw(
    { maxSessionMemory: 1024 * 1024, maxRejectedStreams: 3 },
    sixtyFourKiB,
    async (client, fx) => {
      const answered = await fillSessionMemory(client);
      // The first refusal was fillSessionMemory's; two more are refused, the next closes.
      let id = 2 * answered + 3;
      for (const _ of [1, 2]) {
        client.send(headers(id, headerBlock(requestFields(`/${id}`))));
        const refused = await client.waitFor((f) => f.type === FRAME.RST_STREAM && f.streamId === id);
        assert.equal(rstCode(refused), ERROR.ENHANCE_YOUR_CALM);
        id += 2;
      }
      assert.equal(fx.logged.length, 0);
      client.send(headers(id, headerBlock(requestFields(`/${id}`))));
      assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
      await client.untilClosed();
      assert.equal(fx.logged.length, 1);
      assert.equal(fx.logged[0].bound, 'rejected_streams');
      assert.equal(fx.logged[0].code, 'ENHANCE_YOUR_CALM');
      assert.match(fx.logged[0].details, /more than 3 new streams refused in a row/);
    },
    [[SETTING.INITIAL_WINDOW_SIZE, 0]],
  );
});

test('rejected streams: streams reset within one read are held by node:http2 until the server lets them go; new ones past max_concurrent_streams are refused, and past max_rejected_streams in a row the connection is closed', async () => {
  /** `pairs` streams opened and reset at once, in one write (one read on the server). */
  const openAndReset = (pairs: number) =>
    Buffer.concat(
      Array.from({ length: pairs }, (_, i) => [
        headers(1 + 2 * i, headerBlock(requestFields(`/${i}`))),
        rstStream(1 + 2 * i, ERROR.CANCEL),
      ]).flat(),
    );
  const limits = { maxConcurrentStreams: 2, maxRejectedStreams: 3, maxClientResets: 1000 };
  // Five: two taken (and reset), three refused; the client reset those too, so no RST_STREAM
  // comes back, and the connection serves on.
  await withRaw(limits, hang, async (client, fx) => {
    client.send(ping());
    await client.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
    client.send(openAndReset(5));
    client.send(ping('after'));
    await client.waitFor(
      (f) => f.type === FRAME.PING && f.flags === 1 && f.payload.toString() === 'after   ',
    );
    assert.equal(client.closed, false);
    assert.equal(fx.exchanges.length, 2);
    assert.equal(fx.logged.length, 0);
  });
  await withRaw(limits, hang, async (client, fx) => {
    client.send(ping());
    await client.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
    client.send(openAndReset(40));
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    assert.equal(fx.logged[0]?.bound, 'rejected_streams');
  });
});

test('idle: a connection with no stream and no traffic gets GOAWAY NO_ERROR and is closed', async () => {
  // 500 ms, as below: its stream must open within one idle timeout of the connection's start.
  await withRaw({ idleTimeout: 500 }, ok, async (client) => {
    client.send(headers(1, headerBlock(requestFields('/'))));
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(goawayCode(await client.goaway()), ERROR.NO_ERROR);
    await client.untilClosed();
  });
});

test('idle: a connection with a stream open is not idle; its timeout starts when the last stream closes', async () => {
  // 500 ms: the stream must open within one idle timeout of the connection's start (at 100 ms a
  // loaded machine's HEADERS came after it, the connection was closed idle, and this test hung).
  await withRaw({ idleTimeout: 500 }, hang, async (client, fx) => {
    client.send(headers(1, headerBlock(requestFields('/slow'))));
    await waitUntil('the stream at the gateway', () => fx.exchanges.length > 0);
    // Several idle timeouts pass while the stream waits for its answer.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal(client.closed, false);
    assert.equal(client.frames.filter((f) => f.type === FRAME.GOAWAY).length, 0);
    const response = fx.exchanges[0].answer;
    response.sendHead(204, 'No Content', []);
    response.end();
    await client.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
    assert.equal(goawayCode(await client.goaway()), ERROR.NO_ERROR);
    await client.untilClosed();
    assert.deepEqual(fx.logged, []);
  });
});

// nghttp2 holds a stream whose header block has not ended (HEADERS without END_HEADERS) and no
// JS sees it: node:http2's close after the idle GOAWAY waits for that stream, which a silent
// client never ends. The connection was held for ever, its socket and session with it.
test('idle: a connection whose client left a header block unfinished (HEADERS without END_HEADERS, then silence) is closed too, not held for ever', {
  timeout: 20_000,
}, async () => {
  await withRaw({ idleTimeout: 300 }, ok, async (client, fx) => {
    client.send(headers(1, headerBlock(requestFields('/never-ends')), { endHeaders: false }));
    assert.equal(goawayCode(await client.goaway()), ERROR.NO_ERROR);
    await client.untilClosed();
    await waitUntil('the session let go', () => fx.h2.sessions.size === 0);
    assert.equal(fx.exchanges.length, 0);
    assert.deepEqual(fx.logged, []);
  });
});

test('a client that drops its connection (TCP reset) is no bound: nothing is logged', async () => {
  const fx = await startH2Fixture({ handle: hang });
  const client = await RawH2Client.connect(fx.port);
  try {
    client.send(headers(1, headerBlock(requestFields('/'))));
    while (fx.exchanges.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const closed = new Promise<boolean>((resolve) => fx.exchanges[0].answer.onClose(resolve));
    client.socket.resetAndDestroy();
    assert.equal(await closed, false);
    while (fx.h2.sessions.size > 0) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fx.logged, []);
  } finally {
    client.close();
    await fx.close();
  }
});
