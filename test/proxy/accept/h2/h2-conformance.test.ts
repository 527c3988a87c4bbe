/**
 * The downstream HTTP/2 server against RFC 9113's MUSTs, case by case as h2spec walks them
 * (docs/hostile-peers.md, "Against RFC 9113's MUSTs"): raw frames, and for each the error the
 * RFC asks (the code, the connection's or the stream's) or, where it asks that a frame be
 * ignored, a PING answered after it. Most of it is nghttp2's work: pinned so that a Node or
 * option change that loosens one is seen. What node:http2 leaves (a PRIORITY on stream 0
 * ignored, an unsolicited PING ACK closing the connection) is pinned as it is, named so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type H2Fixture, startH2Fixture } from './h2-fixture.ts';
import {
  ERROR,
  FLAG,
  FRAME,
  frame,
  headerBlock,
  headers,
  ping,
  RawH2Client,
  type ReceivedFrame,
  requestFields,
  rstStream,
  settings,
  windowUpdate,
} from './h2-frames.ts';

const FRAME_SIZE_ERROR = 0x6;
const STREAM_CLOSED = 0x5;
const PRIORITY = 0x2;

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const request = (extra: [string, string][] = []): Buffer => headerBlock(requestFields('/', 'GET', extra));
const post = (): Buffer => headerBlock(requestFields('/', 'POST'));
/** A literal field without indexing whose value is Huffman-coded `bytes` (RFC 7541 §5.2). */
const huffmanField = (bytes: number[]): Buffer =>
  Buffer.from([0x00, 3, ...Buffer.from('x-h'), 0x80 | bytes.length, ...bytes]);
const priorityPayload = (dependsOn: number): Buffer => Buffer.concat([u32(dependsOn), Buffer.from([15])]);

type Expect =
  | { readonly goaway: number }
  | { readonly reset: number }
  /** Ignored: the PING sent after it is answered, no GOAWAY. */
  | { readonly ignored: true };

interface Case {
  readonly name: string;
  readonly frames: Buffer[];
  readonly expect: Expect;
}

const CASES: Case[] = [
  // §6.5: SETTINGS.
  {
    name: '6.5: SETTINGS with ACK and a payload',
    frames: [frame(FRAME.SETTINGS, FLAG.ACK, 0, Buffer.alloc(6))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '6.5: SETTINGS of a length not a multiple of 6',
    frames: [frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(3))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '6.5: SETTINGS on a stream',
    frames: [frame(FRAME.SETTINGS, 0, 1)],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.5.2: SETTINGS_ENABLE_PUSH 2',
    frames: [settings([[0x2, 2]])],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.5.2: SETTINGS_INITIAL_WINDOW_SIZE 2^31',
    frames: [settings([[0x4, 2 ** 31]])],
    expect: { goaway: ERROR.FLOW_CONTROL_ERROR },
  },
  {
    name: '6.5.2: SETTINGS_MAX_FRAME_SIZE 16383',
    frames: [settings([[0x5, 16383]])],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.5.2: SETTINGS_MAX_FRAME_SIZE 2^24',
    frames: [settings([[0x5, 2 ** 24]])],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.5.2: an unknown setting is ignored',
    frames: [settings([[0xff, 1]])],
    expect: { ignored: true },
  },
  // §4: frames.
  {
    name: '4.2: a HEADERS frame past SETTINGS_MAX_FRAME_SIZE',
    frames: [headers(1, Buffer.concat([request(), headerBlock([['x-b', 'a'.repeat(17000)]])]))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '4.1: an unknown frame type is ignored',
    frames: [frame(0x20, 0, 0, Buffer.alloc(8))],
    expect: { ignored: true },
  },
  {
    name: '5.5: an unknown frame inside a header block',
    frames: [
      headers(1, request(), { endHeaders: false }),
      frame(0x20, 0, 1, Buffer.alloc(8)),
      frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, headerBlock([['x-a', 'b']])),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  // §5.1: stream states.
  {
    name: '5.1: DATA on a half-closed (remote) stream',
    frames: [headers(1, request()), frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('x'))],
    expect: { goaway: STREAM_CLOSED },
  },
  {
    name: '5.1: HEADERS on a half-closed (remote) stream',
    frames: [headers(1, request()), headers(1, headerBlock([['x-t', '1']]))],
    expect: { goaway: STREAM_CLOSED },
  },
  {
    name: '5.1.1: HEADERS on an even stream',
    frames: [headers(2, request())],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.2: HEADERS on stream 0',
    frames: [headers(0, request())],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.1: DATA on stream 0',
    frames: [frame(FRAME.DATA, 0, 0, Buffer.from('x'))],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  // §6.3: PRIORITY.
  {
    name: '6.3: PRIORITY of 4 bytes (a stream error, made the connection’s: §5.4.1 allows it)',
    frames: [frame(PRIORITY, 0, 1, Buffer.alloc(4))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '6.3: PRIORITY on an idle stream, then that stream and another',
    frames: [frame(PRIORITY, 0, 9, priorityPayload(0)), headers(1, request())],
    expect: { ignored: true },
  },
  {
    name: '5.3.1: HEADERS depending on itself',
    frames: [
      frame(
        FRAME.HEADERS,
        FLAG.END_STREAM | FLAG.END_HEADERS | 0x20,
        1,
        Buffer.concat([priorityPayload(1), request()]),
      ),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.3: PRIORITY on stream 0 is ignored (left: nghttp2; RFC 9113 asks GOAWAY PROTOCOL_ERROR)',
    frames: [frame(PRIORITY, 0, 0, priorityPayload(0))],
    expect: { ignored: true },
  },
  // §6.4: RST_STREAM.
  {
    name: '6.4: RST_STREAM on stream 0',
    frames: [rstStream(0, ERROR.CANCEL)],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.4: RST_STREAM of 3 bytes',
    frames: [headers(1, request(), { endStream: false }), frame(FRAME.RST_STREAM, 0, 1, Buffer.alloc(3))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  // §6.7: PING.
  {
    name: '6.7: PING of 6 bytes',
    frames: [frame(FRAME.PING, 0, 0, Buffer.alloc(6))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '6.7: PING on a stream',
    frames: [frame(FRAME.PING, 0, 1, Buffer.alloc(8))],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.7: a PING ACK answering none closes the connection (left: node:http2; RFC 9113 asks only that it go unanswered)',
    frames: [frame(FRAME.PING, FLAG.ACK, 0, Buffer.from('unasked!'))],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  // §6.8, §6.9: GOAWAY, WINDOW_UPDATE.
  {
    name: '6.8: GOAWAY on a stream',
    frames: [frame(FRAME.GOAWAY, 0, 1, Buffer.alloc(8))],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.9: WINDOW_UPDATE of 0 on the connection',
    frames: [windowUpdate(0, 0)],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.9: WINDOW_UPDATE of 3 bytes',
    frames: [frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))],
    expect: { goaway: FRAME_SIZE_ERROR },
  },
  {
    name: '6.9.1: WINDOW_UPDATE past 2^31 - 1 on the connection',
    frames: [windowUpdate(0, 2 ** 31 - 1)],
    expect: { goaway: ERROR.FLOW_CONTROL_ERROR },
  },
  {
    name: '6.9.2: SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream past 2^31 - 1',
    frames: [
      headers(1, post(), { endStream: false }),
      windowUpdate(1, 2 ** 31 - 1 - 65535),
      settings([[0x4, 65536]]),
    ],
    expect: { goaway: ERROR.FLOW_CONTROL_ERROR },
  },
  // §6.10: CONTINUATION.
  {
    name: '6.10: CONTINUATION without HEADERS',
    frames: [frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, request())],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.10: CONTINUATION after END_HEADERS',
    frames: [
      headers(1, post(), { endStream: false }),
      frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, headerBlock([['x-a', 'b']])),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.10: CONTINUATION on another stream',
    frames: [
      headers(1, request(), { endHeaders: false }),
      frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, headerBlock([['x-a', 'b']])),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.10: HEADERS of another stream inside a header block',
    frames: [headers(1, request(), { endHeaders: false }), headers(3, request())],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '6.10: PRIORITY inside a header block',
    frames: [
      headers(1, request(), { endHeaders: false }),
      frame(PRIORITY, 0, 1, priorityPayload(0)),
      frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, headerBlock([['x-a', 'b']])),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '8.4: PUSH_PROMISE from a client',
    frames: [
      headers(1, post(), { endStream: false }),
      frame(0x5, FLAG.END_HEADERS, 1, Buffer.concat([u32(2), request()])),
    ],
    expect: { goaway: ERROR.PROTOCOL_ERROR },
  },
  // HPACK (RFC 7541).
  {
    name: 'HPACK: an index past the tables',
    frames: [headers(1, Buffer.concat([request(), Buffer.from([0x80 | 70])]))],
    expect: { goaway: ERROR.COMPRESSION_ERROR },
  },
  {
    name: 'HPACK: a table size update after a field',
    frames: [headers(1, Buffer.concat([request(), Buffer.from([0x20])]))],
    expect: { goaway: ERROR.COMPRESSION_ERROR },
  },
  {
    name: 'HPACK: a Huffman string holding EOS',
    frames: [headers(1, Buffer.concat([request(), huffmanField([0xff, 0xff, 0xff, 0xff])]))],
    expect: { goaway: ERROR.COMPRESSION_ERROR },
  },
  {
    name: 'HPACK: Huffman padding longer than 7 bits',
    frames: [headers(1, Buffer.concat([request(), huffmanField([0x1f, 0xff])]))],
    expect: { goaway: ERROR.COMPRESSION_ERROR },
  },
  {
    name: 'HPACK: Huffman padding of zeros',
    frames: [headers(1, Buffer.concat([request(), huffmanField([0x18])]))],
    expect: { goaway: ERROR.COMPRESSION_ERROR },
  },
  // §8: HTTP semantics, each a stream error.
  {
    name: '8.2: an upper-case field name',
    frames: [headers(1, request([['X-Upper', '1']]))],
    expect: { reset: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '8.3: :status in a request',
    frames: [headers(1, request([[':status', '200']]))],
    expect: { reset: ERROR.PROTOCOL_ERROR },
  },
  ...(
    [
      [
        'no :method',
        [
          [':scheme', 'http'],
          [':authority', 'a'],
          [':path', '/'],
        ],
      ],
      [
        'no :scheme',
        [
          [':method', 'GET'],
          [':authority', 'a'],
          [':path', '/'],
        ],
      ],
      [
        'no :path',
        [
          [':method', 'GET'],
          [':scheme', 'http'],
          [':authority', 'a'],
        ],
      ],
      [
        'an empty :path',
        [
          [':method', 'GET'],
          [':scheme', 'http'],
          [':authority', 'a'],
          [':path', ''],
        ],
      ],
      [
        'two :method',
        [
          [':method', 'GET'],
          [':method', 'GET'],
          [':scheme', 'http'],
          [':authority', 'a'],
          [':path', '/'],
        ],
      ],
      [
        'two :path',
        [
          [':method', 'GET'],
          [':scheme', 'http'],
          [':authority', 'a'],
          [':path', '/'],
          [':path', '/'],
        ],
      ],
      [
        'CONNECT with :path',
        [
          [':method', 'CONNECT'],
          [':authority', 'a:443'],
          [':path', '/'],
        ],
      ],
    ] as [string, [string, string][]][]
  ).map(
    ([name, fields]): Case => ({
      name: `8.3.1: ${name}`,
      frames: [headers(1, headerBlock(fields))],
      expect: { reset: ERROR.PROTOCOL_ERROR },
    }),
  ),
  {
    name: '8.2.2: te other than trailers',
    frames: [headers(1, request([['te', 'trailers, gzip']]))],
    expect: { reset: ERROR.PROTOCOL_ERROR },
  },
  {
    name: '8.1: a trailer section without END_STREAM',
    frames: [
      headers(1, post(), { endStream: false }),
      frame(FRAME.DATA, 0, 1, Buffer.from('abc')),
      headers(1, headerBlock([['x-t', '1']]), { endStream: false }),
    ],
    expect: { reset: ERROR.PROTOCOL_ERROR },
  },
];

describe("the downstream HTTP/2 server against RFC 9113's MUSTs (h2spec's cases)", () => {
  let fx: H2Fixture;
  before(async () => {
    fx = await startH2Fixture();
  });
  after(() => fx.close());

  for (const c of CASES)
    test(c.name, async () => {
      const client = await RawH2Client.connect(fx.port);
      try {
        const from = client.frames.length;
        for (const bytes of c.frames) client.send(bytes);
        const after = (match: (f: ReceivedFrame) => boolean) =>
          client.waitFor((f) => client.frames.indexOf(f) >= from && match(f));
        if ('goaway' in c.expect) {
          const goaway = await after((f) => f.type === FRAME.GOAWAY);
          assert.equal(goaway.payload.readUInt32BE(4), c.expect.goaway, 'the GOAWAY code');
          await client.untilClosed();
        } else if ('reset' in c.expect) {
          const reset = await after((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY);
          assert.equal(reset.type, FRAME.RST_STREAM, 'a stream error, not the connection’s');
          assert.equal(reset.streamId, 1);
          assert.equal(reset.payload.readUInt32BE(0), c.expect.reset, 'the RST_STREAM code');
        } else {
          client.send(ping('still-up'));
          const pong = await after((f) => f.type === FRAME.PING || f.type === FRAME.GOAWAY);
          assert.equal(pong.type, FRAME.PING, 'the PING answered, no GOAWAY');
          assert.equal(pong.flags & FLAG.ACK, FLAG.ACK);
          assert.equal(pong.payload.toString('latin1'), 'still-up');
        }
      } finally {
        client.close();
      }
    });

  test('6.7: a PING is answered with its payload; 6.5.3: SETTINGS acknowledged, the last of two values applied', async () => {
    const client = await RawH2Client.connect(fx.port);
    try {
      client.send(ping('abcdefgh'));
      const pong = await client.waitFor((f) => f.type === FRAME.PING);
      assert.equal(pong.flags, FLAG.ACK);
      assert.equal(pong.payload.toString('latin1'), 'abcdefgh');
      const from = client.frames.length;
      client.send(
        settings([
          [0x4, 100],
          [0x4, 1],
        ]),
      );
      await client.waitFor(
        (f) => f.type === FRAME.SETTINGS && f.flags === FLAG.ACK && client.frames.indexOf(f) >= from,
      );
      client.send(headers(1, request()));
      // An initial window of 1 (the second value): one byte of the answer's body, then nothing.
      const data = await client.waitFor((f) => f.type === FRAME.DATA && f.streamId === 1);
      assert.equal(data.payload.length, 1);
    } finally {
      client.close();
    }
  });
  test('6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE that makes an open stream window negative: nothing sent until a WINDOW_UPDATE takes it above 0, then what it allows', async () => {
    const client = await RawH2Client.connect(fx.port, [[0x4, 100]]);
    try {
      client.send(headers(1, request()));
      const first = await client.waitFor((f) => f.type === FRAME.DATA && f.streamId === 1);
      assert.equal(first.payload.length, 100);
      const from = client.frames.length;
      client.send(settings([[0x4, 50]]));
      await client.waitFor(
        (f) => f.type === FRAME.SETTINGS && f.flags === FLAG.ACK && client.frames.indexOf(f) >= from,
      );
      // The window is 50 - 100 = -50: 60 more makes it 10.
      client.send(windowUpdate(1, 60));
      client.send(ping('after-wu'));
      await client.waitFor((f) => f.type === FRAME.PING && client.frames.indexOf(f) >= from);
      const data = await client.waitFor(
        (f) => f.type === FRAME.DATA && f.streamId === 1 && client.frames.indexOf(f) >= from,
      );
      assert.equal(data.payload.length, 10);
    } finally {
      client.close();
    }
  });
});
