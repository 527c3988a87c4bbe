/**
 * routes[].static over HTTP/2 (h2c) and with the route's response_headers: a file streams whole
 * on a stream, a range too, and the route's header rules edit its answers as any other's; a
 * `:path` (which no request line shapes) leaves root no more than a request-target does, and a
 * file truncated while it is sent resets its stream.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const root = tempDir('candor-static-h2-');
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17, 5);
let gw: TestGateway;

before(async () => {
  writeFileSync(join(root, 'big.bin'), BIG);
  writeFileSync(`${root}.secret`, 'OUTSIDE');
  mkdirSync(join(root, 'evil.example'));
  writeFileSync(join(root, 'evil.example', 'index.html'), 'a folder');
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
  rmSync(`${root}.secret`, { force: true });
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

test('over HTTP/2 a hostile :path stays under root, and a directory asked as `//name` is sent to `/name/`, never to a host', async () => {
  const secret = `${basename(root)}.secret`;
  for (const [path, status] of [
    [`/../${secret}`, 404],
    [`/%2e%2e/${secret}`, 404],
    [`/..\\${secret}`, 400],
    [`/..%5c${secret}`, 400],
    [`/..%2f${secret}`, 400],
    ['/%00', 400],
    ['/\\evil.example', 400],
  ] as const) {
    const res = await h2Get(path);
    assert.equal(res.head[':status'], status, path);
    assert.ok(!res.body.toString().includes('OUTSIDE'), path);
  }
  for (const path of ['//evil.example', '///evil.example']) {
    const res = await h2Get(path);
    assert.equal(res.head[':status'], 301, path);
    assert.equal(res.head.location, '/evil.example/', path);
  }
});

test('over HTTP/2 a file truncated while it is sent resets its stream: never an END_STREAM short of its Content-Length', async () => {
  const size = 8 * 1024 * 1024;
  writeFileSync(join(root, 'cut.bin'), Buffer.alloc(size, 7));
  const session = http2.connect(gw.url);
  const outcome = await new Promise<{ status: number; length: string; bytes: number; error: string }>(
    (resolve) => {
      const stream = session.request({ ':path': '/cut.bin' });
      let [status, length, bytes] = [0, '', 0];
      stream.on('response', (head) => {
        [status, length] = [Number(head[':status']), String(head['content-length'])];
        // The client takes nothing for a while: the truncation lands mid-transfer.
        stream.pause();
        truncateSync(join(root, 'cut.bin'), 1024);
        setTimeout(() => stream.resume(), 50);
      });
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      stream.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ status, length, bytes, error: String(err.code) }),
      );
      stream.on('end', () => resolve({ status, length, bytes, error: 'none' }));
    },
  );
  session.destroy();
  assert.equal(outcome.status, 200);
  assert.equal(outcome.length, String(size));
  assert.ok(outcome.bytes < size, `${outcome.bytes} of ${size}`);
  assert.equal(outcome.error, 'ERR_HTTP2_STREAM_ERROR');
});
