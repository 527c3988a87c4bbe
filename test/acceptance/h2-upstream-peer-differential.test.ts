/**
 * Cases found by sending the same misbehaving HTTP/2 upstreams through Candor, HAProxy and nginx
 * (the HTTP/2 table in docs/hostile-peers.md), where Candor was the one that got it wrong: each
 * against a real upstream writing raw frames on loopback, through a gateway started from config text.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import {
  type H2Script,
  type ScriptedH2Upstream,
  scriptedH2Upstream,
} from '../helpers/scripted-h2-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';
import { FLAG, FRAME, frame, headerBlock, headers } from '../proxy/accept/h2/h2-frames.ts';

const opened: (TestGateway | ScriptedH2Upstream)[] = [];
after(() => closeAll(...opened));

/** A gateway in front of one scripted h2c upstream, one attempt, the given retries off. */
async function behind(script: H2Script): Promise<{ gw: TestGateway; upstream: ScriptedH2Upstream }> {
  const upstream = await scriptedH2Upstream(script);
  opened.push(upstream);
  const gw = await startTestGateway(`routes:
  - upstream: app
upstreams:
  app:
    protocol: h2c
    targets: [{ url: ${upstream.url} }]
    timeouts: { response: 2s, read: 2s }
`);
  opened.push(gw);
  return { gw, upstream };
}

describe('an upstream flooding empty DATA frames (CVE-2019-9518)', () => {
  // A head, then 2,000 DATA frames of no bytes and no END_STREAM: node:http2 closes the connection
  // past its 1,000 invalid frames (ERR_HTTP2_TOO_MANY_INVALID_FRAMES) and resets the stream with
  // INTERNAL_ERROR, a code of its own: the upstream reset nothing. nginx relays the 200 whole.
  const flood: H2Script = (socket, id) => {
    const frames = [headers(id, headerBlock([[':status', '200']]), { endStream: false })];
    for (let i = 0; i < 2000; i++) frames.push(frame(FRAME.DATA, 0, id));
    frames.push(frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('ok')));
    socket.write(Buffer.concat(frames));
  };

  test('the 200 is cut, logged http_protocol_error naming the flood, never a reset of the upstream', async () => {
    const { gw, upstream } = await behind(flood);
    const res = await request(gw.url, { path: '/flood' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    const line = await gw.accessLine();
    assert.equal(line.status, 200);
    assert.equal(line.error, 'http_protocol_error');
    assert.equal(line.stage, 'body_streaming');
    assert.match(String(line.details), /invalid HTTP\/2 frames/);
    assert.doesNotMatch(String(line.details), /reset by the upstream/);
    assert.deepEqual(upstream.streams, [1]);
  });

  test('the connection is not reused: the next request opens another', async () => {
    let n = 0;
    const { gw, upstream } = await behind((socket, id) => {
      if (++n === 1) return flood(socket, id);
      socket.write(
        Buffer.concat([
          headers(
            id,
            headerBlock([
              [':status', '200'],
              ['content-length', '2'],
            ]),
            { endStream: false },
          ),
          frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('ok')),
        ]),
      );
    });
    assert.equal((await request(gw.url, { path: '/flood' })).aborted, true);
    const next = await request(gw.url, { path: '/next' });
    assert.equal(next.status, 200);
    assert.equal(next.text, 'ok');
    assert.equal(upstream.connections(), 2);
    assert.deepEqual(upstream.streams, [1, 1]);
  });
});

describe('a flood of empty DATA frames on one stream, another waiting for its head', () => {
  // The flood closes the whole connection (node:http2's invalid-frame bound is the session's):
  // the stream that had no head yet ends before it, with the same error, and is told the same
  // way: garbage from the upstream (502), not a reset it never sent nor a connection it closed.
  test('the waiting request is a 502 http_protocol_error naming the flood, stage sent', async () => {
    let first = 0;
    const { gw, upstream } = await behind((socket, id) => {
      if (first === 0) {
        first = id;
        return;
      }
      const frames = [headers(first, headerBlock([[':status', '200']]), { endStream: false })];
      for (let i = 0; i < 2000; i++) frames.push(frame(FRAME.DATA, 0, first));
      socket.write(Buffer.concat(frames));
    });
    const flooded = request(gw.url, { path: '/flooded' });
    await waitUntil('the first stream opened', () => upstream.streams.length === 1);
    const waiting = await request(gw.url, { path: '/waiting' });
    assert.equal(waiting.status, 502);
    assert.match(String(waiting.headers['proxy-status']), /error=http_protocol_error/);
    assert.match(String(waiting.headers['proxy-status']), /invalid HTTP\/2 frames/);
    assert.equal((await flooded).aborted, true);
    const lines = [await gw.accessLine(1), await gw.accessLine(2)];
    const line = lines.find((l) => l.path === '/waiting');
    assert.equal(line?.error, 'http_protocol_error');
    assert.equal(line?.stage, 'sent');
    assert.doesNotMatch(String(line?.details), /reset by the upstream|closed the HTTP\/2 connection/);
    assert.deepEqual(upstream.streams, [1, 3]);
  });
});
