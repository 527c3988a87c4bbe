/**
 * Cases found by sending the same misbehaving upstreams through Candor, nginx and HAProxy (the
 * table in docs/hostile-peers.md), where Candor was the one that got it wrong: each against a
 * real upstream writing exact bytes on a raw socket, through a gateway started from config text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest, request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type Script, type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const SCRIPTS: Record<string, Script> = {
  // A fixed-width writer (printf "%016x"): 16 digits, 15 of them leading zeros.
  '/zero-padded-chunks': (s) =>
    s.write(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '0000000000000005\r\nhello\r\n0000000000000006\r\n world\r\n0000000000000000\r\n\r\n',
    ),
};

let upstream: ScriptedUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await scriptedUpstream((socket, req) => {
    const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
    const script = SCRIPTS[path];
    if (script) script(socket, req);
    else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood');
  });
  gw = await startTestGateway(singleUpstream(upstream.url, { upstream: '    retries: { attempts: 1 }' }));
});

after(() => closeAll(gw, upstream));

describe('chunk sizes with leading zeros (RFC 9112 §7.1: chunk-size = 1*HEXDIG)', () => {
  test('an upstream padding its chunk sizes to 16 digits is relayed whole, as nginx and HAProxy do', async () => {
    const res = await request(gw.url, { path: '/zero-padded-chunks' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false);
    assert.equal(res.text, 'hello world');
    const line = await gw.accessLine();
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  });

  test("a client's upload with zero-padded chunk sizes reaches the upstream, not a 400", async () => {
    const before = upstream.requests.length;
    const answer = await rawRequest(
      gw.port,
      'POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '00000000000000000003\r\nabc\r\n00000000000000000000\r\n\r\n',
    );
    assert.equal(answer.status, 200);
    assert.match(answer.raw, /\r\n\r\ngood$/);
    const seen = upstream.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.match(seen[0].head, /^POST \/echo /);
    // The body was read whole and framed with its length: the upstream's parser sees no padding.
    assert.match(seen[0].head, /\r\ncontent-length: 3(\r\n|$)/i);
  });

  test('a size of more than 13 significant digits is still refused (past 2^52)', async () => {
    const answer = await rawRequest(
      gw.port,
      'POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '00010000000000000\r\nabc\r\n0\r\n\r\n',
    );
    assert.equal(answer.status, 400);
  });
});
