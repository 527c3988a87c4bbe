/**
 * A response to HEAD, a 204 and a 304 from an HTTP/2 upstream is whole at its head (RFC 9110
 * §6.4.1), as from an HTTP/1.1 one (hardening.test.ts, "a body where none may be"): a stream
 * the upstream leaves open after it, or a DATA frame it sends after it, must neither hold nor
 * cut the client's keep-alive connection. Raw h2c upstreams writing exact frames.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { type H2RawAnswer, startH2Raw } from '../../../../src/kits/fault-kit/h2-faults.ts';
import { startEcho } from '../../../../src/kits/fault-kit/http-servers.ts';
import { closeAfterAll } from '../../../helpers/keep.ts';
import { startTestGateway } from '../../../helpers/test-gateway.ts';

const keep = closeAfterAll();

interface Answer {
  readonly status: number;
  readonly body: string;
  /** It went on a connection an earlier request had used. */
  readonly reused: boolean;
}

/** One request on `agent` (a single keep-alive connection), its body read to the end. */
function send(agent: http.Agent, url: string, method: string, id: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { 'x-request-id': id } });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.end();
  });
}

const cases: ReadonlyArray<readonly [string, string, H2RawAnswer]> = [
  [
    'a 204 whose stream the upstream never ends',
    'GET',
    // HEADERS without END_STREAM, then a GOAWAY that lets stream 1 go on: it stays open.
    { head: [[':status', '204']], data: [''], goaway: { lastStreamId: 1, code: 0 } },
  ],
  [
    'a HEAD answered with a DATA frame',
    'HEAD',
    {
      head: [
        [':status', '200'],
        ['content-length', '5'],
      ],
      data: ['hello'],
    },
  ],
  ['a 204 with a DATA frame', 'GET', { head: [[':status', '204']], data: ['hello'] }],
  [
    'a 304 with a DATA frame',
    'GET',
    {
      head: [
        [':status', '304'],
        ['content-length', '5'],
      ],
      data: ['hello'],
    },
  ],
];

for (const [label, method, answer] of cases) {
  test(`${label}: the head is the whole answer, logged without error, and the client's connection carries its next request`, async (t) => {
    const upstream = await keep(startH2Raw(answer));
    const other = await keep(startEcho());
    const gw = await keep(
      startTestGateway(`name: edge-1
routes:
  - match: { path: /next }
    upstream: other
  - upstream: app
upstreams:
  other:
    targets: [{ url: ${other.url} }]
  app:
    protocol: h2c
    targets: [{ url: ${upstream.url} }]
    timeouts: { response: 5s, read: 5s, total: 5s }
`),
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const id = `bodyless-${label.length}-${method}`;
    const first = await send(agent, `${gw.url}/x`, method, id);
    assert.equal(first.status, Number(answer.head[0][1]));
    assert.equal(first.body, '');
    // Before, the client's connection was held to the total timeout, or cut after the head.
    const next = await send(agent, `${gw.url}/next`, 'GET', `${id}-next`);
    assert.equal(next.status, 200);
    assert.equal(next.reused, true, 'on the same client connection');
    const line = await gw.logFor(id);
    assert.equal(line.status, first.status);
    assert.equal(line.error, undefined);
  });
}
