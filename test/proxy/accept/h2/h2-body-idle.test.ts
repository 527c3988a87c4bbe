/**
 * An HTTP/2 client that leaves its request body silent for limits.body_idle_timeout gets a 408,
 * as an HTTP/1.1 client does: the accept side owns the client's silence (issue 30, item 3),
 * whether the body is streamed to the upstream or read whole first; the upstream never sees
 * the body whole.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const upstream = await keep(startEcho());
const gw = await keep(
  startTestGateway(
    `name: edge-1
limits: { body_idle_timeout: 500ms }
routes:
  - match: { path: /streamed }
    upstream: app
    request_buffering: false
  - upstream: app
upstreams:
  app: { targets: [{ url: "${upstream.url}" }] }
`,
    {},
    'http2: true',
  ),
);

/** A POST announcing 100 bytes that sends 10 and then nothing: the answer's status and Proxy-Status. */
async function stalledPost(path: string, id: string): Promise<{ status: number; proxyStatus: string }> {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-length': '100',
      'x-request-id': id,
    });
    stream.write('0123456789');
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    stream.resume();
    return { status: Number(headers[':status']), proxyStatus: String(headers['proxy-status'] ?? '') };
  } finally {
    session.destroy();
  }
}

for (const [name, path] of [
  ['streamed to the upstream', '/streamed/upload'],
  ['read whole before an attempt', '/buffered/upload'],
] as const)
  test(`an HTTP/2 request body ${name} that stalls is a 408 after body_idle_timeout`, async () => {
    const id = `h2-stalled-${path.split('/')[1]}`;
    const { status, proxyStatus } = await stalledPost(path, id);
    assert.equal(status, 408);
    assert.match(proxyStatus, /error=http_request_error/);
    assert.match(proxyStatus, /request body stalled for 500 ms \(limits\.body_idle_timeout\)/);
    const line = await gw.logFor(id);
    assert.equal(line.status, 408);
    for (const seen of upstream.received) assert.equal(seen.bodyComplete, false);
  });
