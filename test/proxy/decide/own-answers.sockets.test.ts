/**
 * Every status the gateway answers itself, 400 to 505, on real sockets, asked for problem+json:
 * the status line's reason, the body's `status`, its members (docs/configuration.md's
 * `errors.pages.json` lists them), `Proxy-Status` naming the body's `error`, and one request id
 * in the header, the body and the access log line, as the README's failure contract promises.
 */
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { FAILURES, type FailureType } from '../../../src/core/failure/taxonomy.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const keep = closeAfterAll();
const USERS = join(import.meta.dirname, '../../../docs/examples/users.htpasswd');
/** The members the gateway writes in every problem+json body; `next_hop` and `retry_after` when they apply. */
const ALWAYS = [
  'type',
  'title',
  'status',
  'detail',
  'error',
  'shape',
  'details',
  'proxy',
  'request_id',
  'retryable',
  'advice',
];

/**
 * The statuses after which the same request may pass when sent again: a 408 was late, not wrong
 * (RFC 9110 §15.5.9); 429 and 503 say when; a 502 or 504 is the upstream's failure, not the request's.
 */
const RETRYABLE = new Set([408, 429, 502, 503, 504]);

let gw: TestGateway;

before(async () => {
  const refused = await freePort();
  const slow = await keep(startBlackhole());
  gw = await keep(
    startTestGateway(
      `name: edge-1
limits: { header_timeout: 300ms, uri_length: 1KiB, header_size: 4KiB }
routes:
  - match: { path: /refused }
    upstream: refused
  - match: { path: /slow }
    upstream: slow
  - match: { path: /down }
    upstream: refused
    maintenance: { retry_after: 30s }
  - match: { path: /denied }
    upstream: refused
    deny: [127.0.0.1]
  - match: { path: /basic }
    upstream: refused
    auth: { basic: { users_file: ${USERS} } }
  - match: { path: /limited }
    upstream: slow
    rate_limit: { rate: 0.001, burst: 1, key: header:X-Key }   # one token, not refilled within the test
  - match: { path: /small }
    upstream: refused
    limits: { body: 1KiB }
upstreams:
  refused:
    targets: [{ url: http://127.0.0.1:${refused} }]
    retries: { attempts: 1 }
  slow:
    targets: [{ url: ${slow.url} }]
    timeouts: { response: 200ms }
    retries: { attempts: 1 }
`,
      {},
      'http2: true',
    ),
  );
});

/** A request head sent as bytes, asking for problem+json and a close after the answer. */
const head = (line: string, fields = '') =>
  `${line}\r\nHost: edge.test\r\nAccept: application/json\r\nConnection: close\r\n${fields}\r\n`;

const CASES: readonly (readonly [number, string])[] = [
  [400, head('GET / HTTP/1.1', 'Host: other.test\r\n')],
  [401, head('GET /basic HTTP/1.1')],
  [403, head('GET /denied HTTP/1.1')],
  [404, head('GET /nowhere HTTP/1.1')],
  [405, head('TRACE /refused HTTP/1.1')],
  [408, 'GET /refused HTTP/1.1\r\nHost: edge.test\r\nAccept: application/json\r\n'],
  [413, head('POST /small HTTP/1.1', 'Content-Length: 5000\r\n')],
  [414, `GET /${'a'.repeat(2000)} HTTP/1.1\r\nAccept: application/json\r\n\r\n`],
  [417, head('GET /refused HTTP/1.1', 'Expect: magic\r\n')],
  [429, head('GET /limited HTTP/1.1', 'X-Key: h1\r\n')],
  [431, head('GET /refused HTTP/1.1', `X-Big: ${'b'.repeat(5000)}\r\n`)],
  [501, head('BREW /refused HTTP/1.1')],
  [502, head('GET /refused HTTP/1.1')],
  [503, head('GET /down HTTP/1.1')],
  [504, head('GET /slow HTTP/1.1')],
  [505, head('GET /refused HTTP/3.0')],
];

for (const [status, bytes] of CASES) {
  test(`${status}: reason, problem+json, Proxy-Status and one request id in header, body and log`, async () => {
    // The rate limit's one token goes to a first request; the second is the 429.
    if (status === 429) await rawRequest(gw.port, head('GET /limited HTTP/1.1', 'X-Key: h1\r\n'), 5000);
    const answer = await rawRequest(gw.port, bytes, 5000);
    const [top, body] = answer.raw.split('\r\n\r\n', 2);
    const [statusLine, ...fieldLines] = top.split('\r\n');
    // RFC 9110 §15.5.14 renamed 413 (node:http still says "Payload Too Large").
    assert.equal(
      statusLine,
      `HTTP/1.1 ${status} ${status === 413 ? 'Content Too Large' : STATUS_CODES[status]}`,
    );
    const fields = new Map(
      fieldLines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    const id = fields.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(fields.get('cache-control'), 'no-store');
    assert.equal(fields.get('vary'), 'Accept');
    // The body quotes the request (its path, its Host): no browser reads it as another type.
    assert.equal(fields.get('x-content-type-options'), 'nosniff');
    // DESIGN's table: 401 with WWW-Authenticate; 405 with Allow; 429 and 503 with Retry-After.
    if (status === 401) assert.match(fields.get('www-authenticate') ?? '', /^Basic realm="/);
    if (status === 405) assert.ok(fields.has('allow'));
    if (status === 429 || status === 503) assert.match(fields.get('retry-after') ?? '', /^\d+$/);
    else assert.equal(fields.get('retry-after'), undefined, 'Retry-After only where the table says');
    assert.equal(fields.get('content-type'), 'application/problem+json');
    const problem = JSON.parse(body) as Record<string, unknown>;
    assert.equal(problem.status, status);
    assert.equal(problem.request_id, id);
    assert.equal(problem.proxy, 'edge-1');
    assert.equal(problem.retryable, RETRYABLE.has(status), 'retryable as the status says');
    if (!RETRYABLE.has(status)) assert.match(String(problem.advice), /will not help|will fail|credentials/);
    else assert.doesNotMatch(String(problem.advice), /will not help|will fail/);
    const error = problem.error as FailureType;
    assert.equal(problem.type, `urn:candor:error:${error}`);
    assert.equal(problem.shape, FAILURES[error].shape);
    for (const member of ALWAYS) assert.ok(member in problem, `${member} in ${body}`);
    assert.equal(
      'retry_after' in problem,
      fields.has('retry-after'),
      'retry_after when, and only when, Retry-After is sent',
    );
    if (fields.has('retry-after')) assert.equal(String(problem.retry_after), fields.get('retry-after'));
    const proxyStatus = fields.get('proxy-status') ?? '';
    assert.ok(proxyStatus.startsWith(`edge-1; error=${error}; `), proxyStatus);
    assert.equal('next_hop' in problem, /; next-hop=/.test(proxyStatus), 'next_hop as Proxy-Status has it');
    const line = await gw.logFor(id);
    assert.equal(line.status, status);
    assert.equal(line.req_id, id);
    // What the client spoke, as its request line said, refused or not (not HTTP/3.0: none it speaks).
    assert.equal(line.protocol, status === 505 ? undefined : 'HTTP/1.1');
  });
}

/** One HTTP/2 request on a session of its own (h2c, prior knowledge): its head and body. */
function h2Ask(
  headers: http2.OutgoingHttpHeaders,
): Promise<{ head: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(gw.url);
    session.on('error', reject);
    const stream = session.request({ ...headers, accept: 'application/json' });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('response', (head) =>
      stream.on('end', () => {
        session.close();
        resolve({ head, body });
      }),
    );
    stream.on('error', reject);
    stream.end(
      headers['content-length'] === undefined ? undefined : Buffer.alloc(Number(headers['content-length'])),
    );
  });
}

const H2_CASES: readonly (readonly [number, http2.OutgoingHttpHeaders])[] = [
  [401, { ':path': '/basic' }],
  [403, { ':path': '/denied' }],
  [404, { ':path': '/nowhere' }],
  [405, { ':method': 'TRACE', ':path': '/refused' }],
  [413, { ':method': 'POST', ':path': '/small', 'content-length': '5000' }],
  [429, { ':path': '/limited', 'x-key': 'h2' }],
  [501, { ':method': 'BREW', ':path': '/refused' }],
  [502, { ':path': '/refused' }],
  [503, { ':path': '/down' }],
  [504, { ':path': '/slow' }],
];

for (const [status, headers] of H2_CASES) {
  test(`over HTTP/2, ${status}: problem+json, Proxy-Status and one request id in header, body and log`, async () => {
    if (status === 429) await h2Ask(headers);
    const { head, body } = await h2Ask(headers);
    assert.equal(head[':status'], status);
    if (status === 401) assert.match(String(head['www-authenticate']), /^Basic realm="/);
    if (status === 429 || status === 503) assert.match(String(head['retry-after']), /^\d+$/);
    assert.equal(head['content-type'], 'application/problem+json');
    assert.equal(head['x-content-type-options'], 'nosniff');
    const id = String(head['x-request-id']);
    const problem = JSON.parse(body) as Record<string, unknown>;
    assert.equal(problem.status, status);
    assert.equal(problem.request_id, id);
    for (const member of ALWAYS) assert.ok(member in problem, `${member} in ${body}`);
    assert.ok(String(head['proxy-status']).startsWith(`edge-1; error=${problem.error}; `));
    const line = await gw.logFor(id);
    assert.equal(line.status, status);
    assert.equal(line.protocol, 'HTTP/2');
  });
}

test('the HTML page and the plain text name the same request id as the header and the log', async () => {
  for (const [accept, type, said] of [
    ['text/html', 'text/html; charset=utf-8', (id: string) => `<dt>Request id</dt><dd>${id}</dd>`],
    ['', 'text/plain; charset=utf-8', (id: string) => `\nrequest id: ${id}\n`],
  ] as const) {
    for (const path of ['/refused', '/nowhere', '/down']) {
      const bytes = `GET ${path} HTTP/1.1\r\nHost: edge.test\r\n${accept ? `Accept: ${accept}\r\n` : ''}Connection: close\r\n\r\n`;
      const answer = await rawRequest(gw.port, bytes, 5000);
      const id = /\r\nx-request-id: (\S+)\r\n/i.exec(answer.raw)?.[1] ?? '';
      assert.match(answer.raw, new RegExp(`\\r\\ncontent-type: ${type.replace('+', '\\+')}\\r\\n`, 'i'));
      assert.match(answer.raw, /\r\nx-content-type-options: nosniff\r\n/i);
      assert.ok(answer.raw.includes(said(id)), `${path} as ${type}: ${answer.raw}`);
      assert.equal((await gw.logFor(id)).req_id, id);
    }
  }
});
