/**
 * A response head or trailer section of more fields than the gateway takes (MAX_FIELDS, 256, as
 * its HTTP/1.1 parser), from an h2c upstream: the same failure an HTTP/1.1 upstream's gets, 502
 * `http_response_header_section_size` naming the bound, on a connection that carries the next
 * request. node:http2's own bound on a head's fields (`maxHeaderListPairs`) resets the stream
 * ENHANCE_YOUR_CALM, which cannot be told from an upstream's reset: the gateway counts them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../../helpers/http-client.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { scriptedH2Upstream } from '../../../helpers/scripted-h2-upstream.ts';
import { singleUpstream, startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock } from '../../../proxy/accept/h2/h2-frames.ts';

const keep = closeAfterAll();

/** `count` small fields: x-0: v, x-1: v, … (some 10 bytes each, well within 32 KiB as HTTP/2 counts them). */
const many = (count: number): [string, string][] => Array.from({ length: count }, (_, i) => [`x-${i}`, 'v']);

for (const count of [256, 300, 600]) {
  test(`a head of ${count} fields from an h2c upstream: ${count > 256 ? '502 http_response_header_section_size, and the connection carries the next request' : 'passed through'}`, async () => {
    const upstream = await keep(
      scriptedH2Upstream((socket, streamId) => {
        const fields: [string, string][] =
          upstream.streams.length > 1 ? [[':status', '204']] : [[':status', '200'], ...many(count)];
        socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, streamId, headerBlock(fields)));
      }),
    );
    const gw = await keep(
      startTestGateway(singleUpstream(upstream.url, { upstream: '    protocol: h2c\n' })),
    );
    const first = await request(gw.url, { path: '/a' });
    if (count <= 256) {
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-255'], 'v');
      return;
    }
    assert.equal(first.status, 502);
    assert.equal(
      first.headers['proxy-status'],
      'edge-1; error=http_response_header_section_size; details="more than 256 header fields"; next-hop="app"',
    );
    const second = await request(gw.url, { path: '/b' });
    assert.equal(second.status, 204);
    assert.equal(upstream.connections(), 1);
    assert.deepEqual(
      gw.logs
        .filter((line) => line.msg === 'request')
        .map((line) => [line.path, line.status, line.error ?? null]),
      [
        ['/a', 502, 'http_response_header_section_size'],
        ['/b', 204, null],
      ],
    );
  });
}
