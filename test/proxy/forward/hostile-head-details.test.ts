/**
 * An upstream's broken header line is named in the gateway's answer cut short: its name is the
 * upstream's to choose, up to the response head limit, and the details go out in Proxy-Status
 * (and, to a gRPC client, in grpc-message too). Before, a 20 000-byte name with a control byte in
 * its value made a 502 whose head Node's HTTP client refuses (over its 16 KiB: "Header
 * overflow"), so the client read a parse error, not the gateway's answer.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const NAME = `X-${'a'.repeat(20_000)}`;
/** How the details quote the name: its first 40 characters, then an ellipsis. */
const QUOTED = `"${NAME.slice(0, 40)}..."`;

/** Each fault of a field line that names its field, as the upstream writes it. */
const FAULTS = [
  ['control byte', `${NAME}: a\x01b\r\n`, `invalid character in the value of header ${QUOTED}`],
  ['obs-fold', `${NAME}: a\r\n b\r\n`, `whitespace folding (obs-fold) in header ${QUOTED}`],
  ['bare LF', `${NAME}: a\n`, `bare LF line ending in header ${QUOTED}`],
] as const;

async function gatewayTo(head: string) {
  const upstream = await keep(
    startRawFault(async (c) => {
      for (;;) {
        await c.nextRequest();
        await c.end(`HTTP/1.1 200 OK\r\n${head}content-length: 0\r\n\r\n`);
      }
    }),
  );
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
`,
      {},
      'http2: true',
    ),
  );
}

for (const [fault, line, details] of FAULTS)
  test(`an upstream's ${fault} in a 20 000-byte field name: a 502 any client can read, the name cut short`, async () => {
    const gw = await gatewayTo(line);
    const res = await request(gw.url, {});
    assert.equal(res.status, 502);
    assert.equal(
      res.headers['proxy-status'],
      // (As an sf-string, the quotes around the name escaped.)
      `edge-1; error=http_protocol_error; details="${details.replaceAll('"', '\\"')}"; next-hop="app"`,
    );
  });

test("a gRPC client reads the same failure cut short: UNAVAILABLE, grpc-message naming the field's first characters", async () => {
  const gw = await gatewayTo(FAULTS[0][1]);
  const head = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/pkg.Svc/Call',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let answer: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      answer = h;
    });
    stream.on('error', () => {});
    stream.resume();
    stream.on('close', () => {
      session.destroy();
      resolve(answer);
    });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
  assert.equal(head[':status'], 200);
  assert.equal(head['grpc-status'], '14');
  assert.match(
    String(head['grpc-message']),
    /^http_protocol_error: invalid character in the value of header "X-a{38}\.\.\." \(request id /,
  );
});
