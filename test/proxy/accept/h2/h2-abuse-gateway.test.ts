/**
 * Abusive HTTP/2 clients against a real gateway, where what the bound keeps is upstream work and
 * memory: a rapid reset whose streams each reached the upstream before their reset, and an HPACK
 * bomb (a header block of about 1 KB that decodes to megabytes). Each connection is stopped, the
 * upstream asks and the memory are bounded, and a client on another connection is served.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';
import { waitUntil } from '../../../helpers/wait.ts';
import {
  ERROR,
  FRAME,
  goawayCode,
  headerBlock,
  headers,
  PREFACE,
  ping,
  RawH2Client,
  requestFields,
  rstStream,
  settings,
  tableEntryRepeated,
} from './h2-frames.ts';

const keep = closeAfterAll();

/** An upstream that never answers but `/fast`, counting the requests it got and those that closed unanswered. */
async function countingUpstream() {
  const seen = { requests: 0, cancelled: 0 };
  const server = http.createServer((req, res) => {
    seen.requests++;
    req.resume();
    if (req.url === '/fast') return res.end('ok');
    res.on('close', () => seen.cancelled++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await keep({
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function gatewayTo(url: string, http2Limits = ''): Promise<TestGateway> {
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
limits:
  http2:
    idle_timeout: 30s
${http2Limits}
`,
      {},
      'http2: true',
    ),
  );
}

/** A request on a connection of its own: the status it got. */
async function anotherClient(gw: TestGateway): Promise<unknown> {
  const client = http2.connect(gw.url);
  try {
    const stream = client.request({ ':path': '/fast' }).end();
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.on('response', resolve);
      stream.on('error', reject);
    });
    stream.resume();
    return head[':status'];
  } finally {
    client.close();
  }
}

const bounds = (gw: TestGateway) =>
  gw.logs.filter((line) => line.msg === 'HTTP/2 bound passed').map((line) => line.bound);

test('rapid reset of streams the upstream was already asked: past max_client_resets the connection is closed, the upstream asked no more than the bound allows, every ask cancelled', async () => {
  const { seen, url } = await countingUpstream();
  const gw = await gatewayTo(url, '    max_client_resets: 10');
  const client = await RawH2Client.connect(gw.port);
  try {
    for (let i = 0; i < 40 && !client.closed; i++) {
      const id = 1 + 2 * i;
      const asked = seen.requests;
      client.send(headers(id, headerBlock(requestFields(`/reset-${i}`))));
      // Reset once its request reached the upstream: the work a rapid reset makes a gateway start.
      await waitUntil(
        'the upstream asked, or the connection closed',
        () => seen.requests > asked || client.closed,
      );
      client.send(rstStream(id, ERROR.CANCEL));
    }
    assert.equal(goawayCode(await client.goaway()), ERROR.ENHANCE_YOUR_CALM);
    await client.untilClosed();
    // The 11th reset passes the bound: 11 asks, not 40.
    assert.equal(seen.requests, 11);
    await waitUntil('every ask cancelled', () => seen.cancelled === 11);
    assert.deepEqual(bounds(gw), ['rapid_reset']);
    await waitUntil('each request logged', () => gw.logs.filter((l) => l.msg === 'request').length === 11);
    assert.equal(await anotherClient(gw), 200);
  } finally {
    client.close();
  }
});

// node:http2 holds a request to the SETTINGS it announced only once they are acknowledged: until
// then a header block's HPACK references to one table entry are bounded by its field count and
// its session memory, and each request past max_header_list_size is the gateway's 431.
test('HPACK bomb: a 1 KB header block that decodes to 4 MB, fifty times, before and after the SETTINGS ack: answered 431 or reset, nothing upstream, memory bounded, another client served', async () => {
  const { seen, url } = await countingUpstream();
  const gw = await gatewayTo(url);
  // The first block puts a 4,000-byte field in the table; each block refers to it 980 times.
  const bomb = (i: number) =>
    Buffer.concat([
      headerBlock(requestFields('/bomb')),
      i === 0 ? tableEntryRepeated('x-bomb', 4000, 980) : Buffer.alloc(980, 0x80 | 62),
    ]);
  assert.ok(bomb(1).length < 1100);
  const before = process.memoryUsage();
  const early = await RawH2Client.open(gw.port);
  const late = await RawH2Client.connect(gw.port);
  try {
    early.send(
      Buffer.concat([
        PREFACE,
        settings(),
        ...Array.from({ length: 50 }, (_, i) => headers(1 + 2 * i, bomb(i))),
      ]),
    );
    late.send(ping());
    await late.waitFor((f) => f.type === FRAME.PING && f.flags === 1);
    late.send(Buffer.concat(Array.from({ length: 50 }, (_, i) => headers(1 + 2 * i, bomb(i)))));
    const settled = (c: RawH2Client) =>
      c.closed ||
      c.frames.some((f) => f.streamId === 99 && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM));
    await waitUntil('every stream answered or reset', () => settled(early) && settled(late));
    for (const [name, c] of [
      ['early', early],
      ['late', late],
    ] as const) {
      for (const f of c.frames.filter((f) => f.type === FRAME.RST_STREAM))
        assert.equal(f.payload.readUInt32BE(0), ERROR.ENHANCE_YOUR_CALM, name);
      const answered = c.frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId);
      if (name === 'late') assert.deepEqual(answered, [], 'once acknowledged: every one reset');
    }
    const statuses = gw.logs.filter((l) => l.msg === 'request').map((l) => l.status);
    assert.ok(statuses.length > 0, 'some answered 431 before the ack');
    assert.ok(
      statuses.every((s) => s === 431),
      `${statuses}`,
    );
    assert.equal(seen.requests, 0);
    assert.equal(await anotherClient(gw), 200);
    assert.equal(seen.requests, 1);
    // Unbounded, the hundred would be 400 MB of fields; a generous bound on what is left.
    const grown = process.memoryUsage().rss - before.rss;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew ${grown} bytes`);
  } finally {
    early.close();
    late.close();
  }
});
