/**
 * A 2xx that `context.fetch` got longer than 64 KiB comes cut there (docs/plugins.md): the plugin
 * reads its first 65536 bytes, not fewer (the chunk that crossed the bound was dropped whole).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reader: Plugin = (_options, context) => ({
  async onRequest(request) {
    const answer = await context.fetch('big', '/', { request });
    const body = new Uint8Array(await answer.arrayBuffer());
    return { status: 200, body: `${body.length} ${body.every((b) => b === 0x79)}` };
  },
});

describe('a long 2xx through context.fetch', () => {
  let big: http.Server;
  let gw: TestGateway;
  before(async () => {
    big = http.createServer((_req, res) => res.end(Buffer.alloc(100_000, 'y')));
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

  test('comes cut at 64 KiB exactly, the bytes as sent', async () => {
    const res = await request(gw.url, { path: '/r' });
    assert.equal(res.status, 200);
    assert.equal(res.text, '65536 true');
  });
});
