/**
 * An asynchronous onResponse holding the answer for a HEAD (no body, the connection reused) and an
 * HTTP/1.0 client (the whole body); an answer whose body stream errors (a 500 naming the plugin);
 * body() of an HTTP/2 upload (the same bytes upstream, with their length).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const p: Plugin = () => ({
  async onRequest(r) {
    if (r.path === '/err')
      return new Response(
        new ReadableStream({
          pull(c) {
            c.error(new Error('stream broke'));
          },
        }),
      );
    if (r.path === '/h2body') {
      const b = await r.body({ limit: 100 });
      r.headers.set('x-read', String(b.length));
    }
  },
  async onResponse(res) {
    await new Promise((ok) => setTimeout(ok, 20));
    res.headers.set('x-held', 'yes');
  },
});

describe('plugins audit, more', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('p', p, 'http2: true'));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('an answer whose body stream errors: a 500 naming the plugin', async () => {
    const res = await request(gw.url, { path: '/err' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /plugin:p/);
  });

  test('HEAD with an async onResponse: held head, no body, connection reused', async () => {
    const text = await rawUntil(
      gw.port,
      'HEAD /x?bytes=10 HTTP/1.1\r\nHost: x\r\n\r\nGET /x?bytes=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      (t) => t.endsWith('0123456789'),
      3000,
    );
    const answers = text.split('HTTP/1.1 200');
    assert.equal(answers.length, 3, text);
    assert.match(answers[1], /x-held: yes/);
    assert.match(answers[1], /\r\n\r\n$/);
  });

  test('HTTP/1.0 client with an async onResponse: the whole body, close-delimited or with its length', async () => {
    const text = await rawUntil(gw.port, 'GET /x?bytes=3000 HTTP/1.0\r\nHost: x\r\n\r\n', () => false, 2000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /x-held: yes/);
    assert.equal(text.split('\r\n\r\n')[1].length, 3000);
  });

  test('an HTTP/2 upload read by body(): the same bytes upstream with their length', async () => {
    const session = http2.connect(gw.url);
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/h2body' });
        stream.end('hello over h2');
        let t = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          t += c;
        });
        stream.on('end', () => resolve(t));
        stream.on('error', reject);
      });
      const seen = JSON.parse(text);
      assert.equal(seen.headers['x-read'], '13');
      assert.equal(seen.headers['content-length'], '13');
      assert.equal(seen.bodyLength, 13);
    } finally {
      session.close();
    }
  });
});
