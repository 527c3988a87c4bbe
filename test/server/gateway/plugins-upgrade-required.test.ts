/**
 * A plugin's own 426 Upgrade Required keeps its Upgrade field, as an upstream's does: RFC 9110
 * §15.5.22 makes it a MUST of a 426, the only word of what the client must upgrade to. The field
 * is hop-by-hop, so a plugin's other answers' Upgrade is dropped; a 426's is said as one list,
 * named in Connection for an HTTP/1.1 client, and not at all to an HTTP/2 client (no Upgrade).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';

const gatekeeper: Plugin = () => ({
  onRequest(request) {
    if (request.path === '/required') {
      const headers = new Headers([
        ['upgrade', 'foo/2'],
        ['upgrade', 'websocket'],
        ['connection', 'upgrade'],
      ]);
      return new Response('upgrade!', { status: 426, headers });
    }
    if (request.path === '/plain') return { status: 200, headers: { upgrade: 'h2c' }, body: 'ok' };
  },
});

/** The head of a raw answer. */
function headOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

describe("a plugin's own 426", () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('gatekeeper', gatekeeper, 'http2: true'));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  for (const close of [false, true]) {
    test(`keeps its Upgrade, as one list named in Connection (${close ? 'closing' : 'kept alive'})`, async () => {
      const { raw } = await rawRequest(
        gw.port,
        `GET /required HTTP/1.1\r\nHost: a\r\nX-Request-Id: own-426\r\n${close ? 'Connection: close\r\n' : ''}\r\n`,
        300,
      );
      const head = headOf(raw);
      assert.match(head, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
      assert.match(head, /\r\nupgrade: foo\/2, websocket\r\n/i);
      assert.equal(head.match(/\r\nupgrade:/gi)?.length, 1, 'one Upgrade field');
      assert.equal(head.match(/\r\nconnection:/gi)?.length, 1, 'one Connection field');
      assert.match(
        head,
        close ? /\r\nconnection: upgrade, close\r\n/ : /\r\nconnection: upgrade, keep-alive\r\n/,
      );
      assert.match(raw, /\r\n\r\nupgrade!$/);
    });
  }

  test("another answer's Upgrade stays with the plugin", async () => {
    const { raw } = await rawRequest(gw.port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const head = headOf(raw);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /\r\nupgrade:/i);
    assert.match(head, /\r\nconnection: close\r\n/);
  });

  test('reaches an HTTP/2 client without Upgrade (RFC 9113 §8.2.2)', async () => {
    const session = http2.connect(gw.url);
    try {
      const answer = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        session.on('error', reject);
        const stream = session.request({ ':path': '/required' });
        stream.on('response', (fields) => {
          stream.resume();
          stream.on('end', () => resolve(fields));
        });
        stream.on('error', reject);
      });
      assert.equal(answer[':status'], 426);
      assert.equal(answer.upgrade, undefined);
      assert.equal(answer.connection, undefined);
    } finally {
      session.close();
    }
  });
});
