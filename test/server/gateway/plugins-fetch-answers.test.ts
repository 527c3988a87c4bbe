/**
 * context.fetch against a service's edge answers on a raw socket: a HEAD's Content-Length read with no
 * body waited for, a 103 before the final answer, a 204 without a body.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const caller: Plugin = (_o, ctx) => ({
  async onRequest(r) {
    const method = r.query.get('m') ?? 'GET';
    const res = await ctx.fetch('svc', r.path, { method, request: r });
    const text = await res.text();
    return { status: 200, body: `${res.status} ${res.headers.get('content-length')} [${text}]` };
  },
});

describe('context.fetch edge answers', () => {
  let app: Fault;
  let svc: net.Server;
  let gw: TestGateway;
  before(async () => {
    app = await startEcho();
    svc = net.createServer((socket) => {
      let got = '';
      socket.on('data', (c) => {
        got += c.toString('latin1');
        if (!got.includes('\r\n\r\n')) return;
        const path = got.split(' ')[1];
        got = '';
        if (path.startsWith('/head')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
        else if (path.startsWith('/early'))
          socket.write(
            'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
          );
        else if (path.startsWith('/none')) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => svc.listen(0, '127.0.0.1', r));
    gw = await startTestGateway(
      `plugins:
  caller: { module: /nonexistent/caller.ts, timeout: 2s }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [caller] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  svc: { targets: [{ url: http://127.0.0.1:${(svc.address() as net.AddressInfo).port} }] }
`,
      {},
      '',
      { plugins: { caller } },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
    await new Promise((r) => svc?.close(r));
  });

  test("a HEAD through fetch: the service's length read as the HEAD's, no body waited for", async () => {
    const res = await request(gw.url, { path: '/head?m=HEAD' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '200 100 []');
  });

  test('a 103 before the answer: the final answer', async () => {
    const res = await request(gw.url, { path: '/early' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '200 2 [ok]');
  });

  test('a 204: no body', async () => {
    const res = await request(gw.url, { path: '/none' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '204 null []');
  });
});
