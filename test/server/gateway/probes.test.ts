/**
 * The gateway's own probes on the main listener (`admin.probes_path`) are matched on the path
 * routing matches, its normal form (issue 31, item 1 of its tester's findings): a spelling of
 * /_candor/ready that normalises to it (/x/../_candor/ready, %5F, the absolute form) is
 * answered by the gateway and never routed to the upstream as /_candor/ready, over HTTP/1.1
 * and HTTP/2 alike.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

interface Answer {
  readonly status: number;
  readonly body: string;
}

type Protocol = 'HTTP/1.1' | 'HTTP/2';

/** One GET with its target exactly as written (node:http's client would resolve it first). */
async function get(gw: TestGateway, protocol: Protocol, target: string): Promise<Answer> {
  if (protocol === 'HTTP/1.1') {
    const { raw } = await rawRequest(
      gw.port,
      `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`,
    );
    const split = raw.indexOf('\r\n\r\n');
    return { status: Number(raw.slice(0, split).split(' ')[1]), body: raw.slice(split + 4) };
  }
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({ ':path': target, ':authority': 'gw.test' });
      const timer = setTimeout(() => reject(new Error(`no answer to ${target} within 5 s`)), 5000);
      let status = 0;
      let body = '';
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.setEncoding('latin1');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({ status, body });
      });
      stream.end();
    });
  } finally {
    session.destroy();
  }
}

const keep = closeAfterAll();

/** Records each target as received; would answer a probe path as an application might. */
const received: string[] = [];
const app = await keep(
  listenOnLoopback((req, res) => {
    received.push(req.url ?? '');
    res.end('the upstream answered');
  }),
);

const gw = await keep(
  startTestGateway(
    `name: edge-1
admin: { listen: "127.0.0.1:0", token_env: PROBES_TOKEN, probes_path: /_candor }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
    { PROBES_TOKEN: 'probes-test-token-abcdefgh' },
    'http2: true',
  ),
);

for (const protocol of ['HTTP/1.1', 'HTTP/2'] as const) {
  describe(`over ${protocol}`, () => {
    test('every spelling of a probe path that routing resolves to it is answered by the gateway', async () => {
      const targets: [string, string][] = [
        ['/_candor/ready', '{"status":"ready"}\n'],
        ['/x/../_candor/ready', '{"status":"ready"}\n'],
        ['/_candor/./ready?from=lb', '{"status":"ready"}\n'],
        ['/%5Fcandor/ready', '{"status":"ready"}\n'],
        ['/_candor/x/%2e%2e/live', '{"status":"live"}\n'],
      ];
      if (protocol === 'HTTP/1.1')
        targets.push(['http://gw.test/x/../_candor/ready', '{"status":"ready"}\n']);
      for (const [target, body] of targets) {
        const before = received.length;
        const answer = await get(gw, protocol, target);
        assert.deepEqual(answer, { status: 200, body }, target);
        assert.deepEqual(received.slice(before), [], `${target} reached the upstream`);
      }
    });

    test('a path that only looks like a probe path goes to the upstream', async () => {
      const before = received.length;
      const answer = await get(gw, protocol, '/_candor/ready/x/..x');
      assert.deepEqual(answer, { status: 200, body: 'the upstream answered' });
      assert.deepEqual(received.slice(before), ['/_candor/ready/x/..x']);
    });
  });
}

test('a HEAD probe (as some load balancers send) is the gateway’s own too: its head, no body, never the upstream’s', async () => {
  const before = received.length;
  const { raw } = await rawRequest(
    gw.port,
    'HEAD /_candor/ready HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n',
  );
  const [head, body] = raw.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\ncontent-type: application\/json\r\n/i);
  assert.match(head, /\r\ncontent-length: 19\r\n/i);
  assert.equal(body, '');
  assert.deepEqual(received.slice(before), [], 'the HEAD probe reached the upstream');
});
