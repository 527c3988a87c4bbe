/**
 * A second PROXY header on a listener that reads one (listen[].proxy_protocol): the balancer's
 * header is read at the connection's start, and one after it (a client behind the balancer
 * claiming an address of its own, or a header in place of a later request) is a 400 that says
 * so. It was the 400 meant for a listener without the setting, whose advice was to set what is
 * set already.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { v2Header } from '../../helpers/proxy-header.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

test('a PROXY header after the balancer’s, at the start or in place of a later request, is a 400 that names it the second', async () => {
  const reached: string[] = [];
  const app = await keep(
    listenOnLoopback((req, res) => {
      reached.push(String(req.headers['x-forwarded-for']));
      res.end();
    }),
  );
  const gw = await keep(
    startTestGateway(singleUpstream(app.url), {}, 'proxy_protocol: { from: [127.0.0.0/8] }'),
  );
  const balancer = 'PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n';
  const GET = 'GET / HTTP/1.1\r\nHost: app\r\n\r\n';
  const claims: [string, string, Buffer][] = [
    ['v1', 'at the start', Buffer.from(`${balancer}PROXY TCP4 6.6.6.6 10.0.0.1 1 443\r\n${GET}`)],
    [
      'v2',
      'at the start',
      Buffer.concat([
        Buffer.from(balancer),
        v2Header(1, 0x11, Buffer.from([6, 6, 6, 6, 10, 0, 0, 1, 0, 1, 1, 0xbb])),
        Buffer.from(GET),
      ]),
    ],
    ['v1', 'after a request', Buffer.from(`${balancer}${GET}PROXY TCP4 6.6.6.6 10.0.0.1 1 443\r\n${GET}`)],
  ];
  for (const [version, where, bytes] of claims) {
    const { raw } = await rawRequest(gw.port, bytes);
    const details = `malformed request (HPE_INVALID_METHOD: a second PROXY protocol header (${version}): this listener reads one only at the connection's start, its balancer's (one sent behind it is a client's claim))`;
    const answers = raw.split(/(?=HTTP\/1\.1 )/);
    assert.match(answers.at(-1) ?? '', /^HTTP\/1\.1 400 /, `${version} ${where}`);
    assert.ok(
      answers
        .at(-1)
        ?.includes(`\r\nproxy-status: edge-1; error=http_request_error; details="${details}"\r\n`),
      `${version} ${where}: ${raw}`,
    );
  }
  // Only the request before the claim went on, with the balancer's client.
  assert.deepEqual(reached, ['203.0.113.7']);
});
