/**
 * An Accept written over several field lines is one list (RFC 9110 §5.3), for every error answer
 * the gateway negotiates: a routed one (404, 502) and a refused request's, whose head parsed (a
 * 400 for its framing) or did not (a 431). The refusals read the first line alone: the client that
 * a 502 answered in problem+json got its 400 and 431 as plain text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const keep = closeAfterAll();

test('an Accept over two lines chooses the error body of every answer alike, refusals included', async () => {
  const refused = await freePort();
  const gw = await keep(
    startTestGateway(`name: edge-1
limits: { header_size: 4KiB }
routes:
  - match: { path: /dead }
    upstream: dead
upstreams:
  dead:
    targets: [{ url: http://127.0.0.1:${refused} }]
    retries: { attempts: 1 }
`),
  );
  const accept = 'Accept: text/plain;q=0.1\r\nAccept: application/json\r\n';
  for (const [status, bytes] of [
    [404, `GET /nowhere HTTP/1.1\r\nHost: a\r\n${accept}Connection: close\r\n\r\n`],
    [502, `GET /dead HTTP/1.1\r\nHost: a\r\n${accept}Connection: close\r\n\r\n`],
    // Parsed, refused for its framing (Content-Length beside Transfer-Encoding: RFC 9112 §6.3).
    [
      400,
      `POST /dead HTTP/1.1\r\nHost: a\r\n${accept}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ],
    // Refused before it parsed: past limits.header_size.
    [431, `GET /dead HTTP/1.1\r\nHost: a\r\n${accept}X-Big: ${'b'.repeat(5000)}\r\n\r\n`],
  ] as const) {
    const answer = await rawRequest(gw.port, bytes, 3000);
    assert.equal(answer.status, status, answer.raw);
    const [head, body] = answer.raw.split('\r\n\r\n', 2);
    assert.match(head, /\r\ncontent-type: application\/problem\+json\r\n/i, `${status}: ${head}`);
    assert.equal(JSON.parse(body).status, status);
  }
});
