/**
 * A store whose refusal carries characters a terminal obeys or a reader breaks lines at (a proxy
 * in front of Redis, another program on its port): its words reach the 503's details, and every
 * body format (text/plain, HTML, problem+json) carries them escaped, never raw. The backstop is
 * where the body is made (error-body.ts), whatever place quoted the peer's words.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { renderErrorBody } from '../../../src/core/failure/error-body.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type FakeRedis, startFakeRedis } from '../../helpers/fake-redis.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let echo: Fault;
let store: FakeRedis;
const open: TestGateway[] = [];

/** ESC ] (a window title), BEL, backspaces, C1's CSI, DEL, a bidi override, U+2028 and U+2029. */
const HOSTILE = 'ERR \x1b]0;pwned\x07 \u009b31m red \x7f \u202eevil\u202c line\u2028break\u2029para \x08\x08';
/** What a body may never carry raw. */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

before(async () => {
  echo = await startEcho();
  store = await startFakeRedis(() => `-${HOSTILE}\r\n`);
});

after(() => closeAll(open, store, echo));

test("a Redis reply's control characters, bidi overrides and line separators reach no error body raw", async () => {
  const g = await startTestGateway(`
store:
  redis: { url: "${store.url}", on_error: deny, timeout: 2s }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 1, burst: 5 }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  open.push(g);
  await waitUntil('connected to the store', () => g.gateway.status().store?.state === 'up');
  for (const accept of ['application/json', 'text/html', 'text/plain']) {
    const answer = await request(g.url, { path: '/x', headers: { accept } });
    assert.equal(answer.status, 503, accept);
    // The store's words are there (escaped), so the reader still sees what Redis said.
    assert.match(answer.text, /ERR \\(x1b|u001b)\]0;pwned\\(x07|u0007)/, accept);
    assert.doesNotMatch(answer.text, RAW, accept);
    assert.equal(answer.headers['content-length'], String(answer.body.length), accept);
    if (accept === 'application/json') JSON.parse(answer.text);
  }
  assert.equal(echo.received.length, 0);
});

test('half a surrogate pair in the details is U+FFFD in every body: never the escape \\ud800 strict JSON readers refuse', () => {
  const failure = new Failure('connection_refused', `cut at 200 units: \ud83d then \ude00 end \u2028`);
  for (const format of ['problem+json', 'html', 'text'] as const) {
    const { body } = renderErrorBody(format, {
      failure,
      proxyName: 'edge',
      requestId: 'r1',
      nextHop: undefined,
    });
    assert.doesNotMatch(body, /\\ud[89a-f]/i, format);
    assert.doesNotMatch(body, /[\ud800-\udfff]/, format);
    assert.doesNotMatch(body, RAW, format);
    assert.match(body, /\ufffd then \ufffd end|\\ufffd then \\ufffd end/, format);
  }
});
