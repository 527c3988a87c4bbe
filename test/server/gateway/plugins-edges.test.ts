/**
 * Plugins at the edges of the request (audit of issue 57): a plugin's answer to HEAD, HTTP/2 cookie
 * crumbs as one Cookie, a gRPC request's Trailers-Only naming the plugin, body() of a GET and at its
 * bound, a 413 that closes the connection, a WebSocket a plugin refuses, onEnd of its own answer.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const ends: Array<Record<string, unknown>> = [];
const probe: Plugin = () => ({
  async onRequest(r) {
    if (r.path === '/mine') return { status: 202, headers: { 'x-mine': 'yes' }, body: 'mine' };
    if (r.path === '/cookie') return { status: 200, body: r.headers.get('cookie') ?? 'none' };
    if (r.path === '/throw') throw new Error('boom');
    if (r.path === '/body') {
      const b = await r.body({ limit: 8 });
      r.headers.set('x-read', String(b.length));
    }
    if (r.path === '/ws-deny') return { status: 403, body: 'no' };
  },
  onEnd(record) {
    ends.push({ ...record });
  },
});

describe('plugins audit', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('probe', probe, 'http2: true'));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('HEAD answered by the plugin: no body bytes on the wire, the connection reused', async () => {
    const text = await rawUntil(
      gw.port,
      'HEAD /mine HTTP/1.1\r\nHost: x\r\n\r\nGET /mine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      (t) => t.endsWith('mine'),
    );
    const answers = text.split('HTTP/1.1 ');
    assert.equal(answers.length, 3, text);
    assert.match(answers[1], /\r\n\r\n$/);
    assert.match(answers[2], /^202 /);
  });

  test('HTTP/2 cookie crumbs read as one Cookie joined by "; "', async () => {
    const session = http2.connect(gw.url);
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const stream = session.request([
          ':method',
          'GET',
          ':path',
          '/cookie',
          ':scheme',
          'http',
          ':authority',
          'x',
          'cookie',
          'a=1',
          'cookie',
          'b=2',
        ] as never);
        let t = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          t += c;
        });
        stream.on('end', () => resolve(t));
        stream.on('error', reject);
      });
      assert.equal(text, 'a=1; b=2');
    } finally {
      session.close();
    }
  });

  test('gRPC request whose plugin throws: Trailers-Only (DESIGN: gRPC gets the failure as grpc-status) naming the plugin', async () => {
    const session = http2.connect(gw.url);
    try {
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/throw',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.end();
        stream.on('response', (h) => {
          stream.resume();
          resolve(h);
        });
        stream.on('error', reject);
      });
      assert.equal(head[':status'], 200);
      assert.equal(head['grpc-status'], '13');
      assert.match(String(head['proxy-status']), /plugin:probe threw in onRequest/);
    } finally {
      session.close();
    }
  });

  test('body() of a GET without a body: no Content-Length: 0 sent upstream', async () => {
    const res = await request(gw.url, { path: '/body' });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.text);
    assert.equal(seen.headers['x-read'], '0');
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.headers['transfer-encoding'], undefined);
  });

  test('body() at exactly its limit (chunked): taken', async () => {
    const text = await rawUntil(
      gw.port,
      'POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n12345678\r\n0\r\n\r\n',
      (t) => t.includes('"bodyLength"') && t.endsWith('}'),
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"x-read":"8"/);
  });

  test('413 past body() bound with keep-alive: the connection closes, the rest of the body never read as a request', async () => {
    const text = await rawUntil(
      gw.port,
      'POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nGET /mine HTTP/1.1\r\nHost: x\r\n\r\n123456\r\nGET /mine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      () => false,
      1500,
    );
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.equal(text.split('HTTP/1.1 ').length - 1, 1, text);
  });

  test('WebSocket refused by the plugin: its 403, no upgrade', async () => {
    const text = await rawUntil(
      gw.port,
      'GET /ws-deny HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      (t) => t.endsWith('no'),
    );
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.equal(app.received.filter((r) => r.path === '/ws-deny').length, 0);
  });

  test("onEnd of an answer the plugin made: its status, the route's upstream as the log line names it", async () => {
    ends.length = 0;
    const res = await request(gw.url, { path: '/mine' });
    const id = String(res.headers['x-request-id']);
    await gw.logFor(id);
    for (let i = 0; i < 50 && !ends.some((e) => e.id === id); i++)
      await new Promise((r) => setTimeout(r, 20));
    const end = ends.find((e) => e.id === id);
    assert.equal(end?.status, 202);
    assert.equal(end?.upstream, 'app');
  });
});
