/**
 * routes[].static over HTTP/2 (h2c) and with the route's response_headers: a file streams whole
 * on a stream, a range too, and the route's header rules edit its answers as any other's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const root = mkdtempSync(join(tmpdir(), 'candor-static-h2-'));
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17, 5);
let gw: TestGateway;

before(async () => {
  writeFileSync(join(root, 'big.bin'), BIG);
  gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: / }
    static: { root: ${root} }
    response_headers:
      set: { Strict-Transport-Security: max-age=63072000 }
`,
    {},
    'http2: true',
  );
});

after(async () => {
  await gw?.close();
  rmSync(root, { recursive: true, force: true });
});

function h2Get(path: string, headers: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ head: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    const chunks: Buffer[] = [];
    stream.on('response', (head) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        session.close();
        resolve({ head, body: Buffer.concat(chunks) });
      });
    });
    stream.on('error', reject);
  });
}

test('over HTTP/2 a file streams whole, a range is a 206, and the route header rules apply', async () => {
  const whole = await h2Get('/big.bin');
  assert.equal(whole.head[':status'], 200);
  assert.equal(whole.head['content-length'], String(BIG.length));
  assert.equal(whole.head['strict-transport-security'], 'max-age=63072000');
  assert.ok(whole.body.equals(BIG));
  const part = await h2Get('/big.bin', { range: 'bytes=-5' });
  assert.equal(part.head[':status'], 206);
  assert.equal(part.body.length, 5);
  const missing = await h2Get('/none');
  assert.equal(missing.head[':status'], 404);
  assert.equal(missing.head['strict-transport-security'], 'max-age=63072000');
});
