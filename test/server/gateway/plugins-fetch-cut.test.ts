/**
 * A 2xx that `context.fetch` got longer than 64 KiB comes cut there (docs/plugins.md): the plugin
 * reads its first 65536 bytes, not fewer (the chunk that crossed the bound was dropped whole),
 * and is told so: `cut` is true and no `Content-Length` claims the length it did not get (it had
 * the service's 100000, and nothing said the body was short of it).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reader: Plugin = (_options, context) => ({
  async onRequest(request) {
    const path = request.path === '/r/small' ? '/small' : '/';
    const answer = await context.fetch('big', path, { request });
    const body = new Uint8Array(await answer.arrayBuffer());
    const told = `cut=${answer.cut} length=${answer.headers.get('content-length')}`;
    return { status: 200, body: `${body.length} ${body.every((b) => b === 0x79)} ${told}` };
  },
});

describe('a long 2xx through context.fetch', () => {
  let big: http.Server;
  let gw: TestGateway;
  before(async () => {
    big = http.createServer((req, res) => {
      const body = Buffer.alloc(req.url === '/small' ? 10 : 100_000, 'y');
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    const { port } = big.address() as { port: number };
    gw = await startTestGateway(
      `plugins:
  reader: { module: /nonexistent/reader.ts }
routes:
  - { name: r, match: { path: /r }, upstream: big, plugins: [reader] }
upstreams:
  big: { targets: [{ url: http://127.0.0.1:${port} }] }
`,
      {},
      '',
      { plugins: { reader } },
    );
  });
  after(async () => {
    await gw?.close();
    big?.closeAllConnections();
    await new Promise((r) => big?.close(r));
  });

  test('comes cut at 64 KiB exactly, the bytes as sent, and says so', async () => {
    const res = await request(gw.url, { path: '/r' });
    assert.equal(res.status, 200);
    assert.equal(res.text, '65536 true cut=true length=null');
  });

  test('a short one comes whole, with its length', async () => {
    const res = await request(gw.url, { path: '/r/small' });
    assert.equal(res.text, '10 true cut=false length=10');
  });
});
