/**
 * A plugin with `on_error: continue` whose body() read went past its bound: the request goes on with
 * the whole body as the client sent it (the read put back), never a part of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUntil } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reader: Plugin = () => ({
  async onRequest(r) {
    const b = await r.body({ limit: 8 });
    r.headers.set('x-read', String(b.length));
  },
});

describe('on_error: continue and a body past its bound', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `plugins:
  reader: { module: /nonexistent/reader.ts, on_error: continue }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [reader] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
      {},
      '',
      { plugins: { reader } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const [name, head, body] of [
    ['announced', 'Content-Length: 20\r\n', '0123456789abcdefghij'],
    ['chunked', 'Transfer-Encoding: chunked\r\n', '5\r\n01234\r\n5\r\n56789\r\na\r\nabcdefghij\r\n0\r\n\r\n'],
  ] as const)
    test(`${name}: the client's 413, or the upstream gets the whole body; never a part of it`, async () => {
      const text = await rawUntil(
        gw.port,
        `POST /x HTTP/1.1\r\nHost: x\r\n${head}Connection: close\r\n\r\n${body}`,
        () => false,
        1500,
      );
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      if (status === 413) return;
      assert.equal(status, 200);
      const seen = app.received.at(-1);
      assert.equal(seen?.body.toString(), '0123456789abcdefghij');
    });
});
