/**
 * What the contract's strict parsers and head builders cost a request, alone, in one process
 * (issue 61): the request parser on a client's head, the upstream request's fields and head,
 * the response parser on an upstream's head, the response's fields and head, each head's
 * bytes copied as a socket's write copies them. No sockets, no event loop: what these pieces
 * take, without what the machine's load does to a whole request's figure.
 *
 *   node_modules/.bin/node bench/heads-cost.ts --ref=DIR        # this checkout against DIR's src/
 *   node_modules/.bin/node bench/heads-cost.ts --ref=. --rounds=40   # an A/A run
 *
 * Two requests: `wrk`, the benches' (`GET /small` with Host alone), and `browser`, ten fields a
 * browser sends; the answer is nginx's to `/small` (five fields, 100 bytes). Rounds of 1,000
 * requests alternate between the sides; each side's best round is printed (ns a request).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { ref: { type: 'string' }, rounds: { type: 'string', default: '40' } },
});
const ROUNDS = Number(values.rounds);

const ANSWER = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 26 Nov 2026 05:40:16 GMT\r\nContent-Type: text/plain\r\n' +
    `Content-Length: 100\r\nConnection: keep-alive\r\n\r\n${'x'.repeat(100)}`,
  'latin1',
);
const REQUESTS: Record<string, Buffer> = {
  wrk: Buffer.from('GET /small HTTP/1.1\r\nHost: 127.0.0.1:18112\r\n\r\n', 'latin1'),
  browser: Buffer.from(
    'GET /api/items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n' +
      'Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.9\r\n' +
      'Accept-Encoding: gzip, deflate, br\r\nCookie: a=1; b=2\r\nReferer: https://example.com/\r\n' +
      'Connection: keep-alive\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n\r\n',
    'latin1',
  ),
};
const FACTS = {
  clientAddress: '127.0.0.1',
  trusted: false,
  protocol: 'http',
  host: 'example.com',
  requestId: '',
  traceparent: '',
  keepTracestate: false,
  via: '1.1 bench',
};
/**
 * Each request's own id and traceparent, as a gateway's are (a head builder that keeps what
 * repeats from head to head must not be flattered by ids that repeat).
 */
const IDS = Array.from({ length: 1000 }, () => randomUUID());
const TRACES = Array.from(
  { length: 1000 },
  () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
);
/** Where each head's bytes go, as a socket's write copies a string's. */
const SINK = Buffer.allocUnsafe(65536);

interface Head {
  headers: string[];
  [field: string]: unknown;
}

/** One side: `root`'s modules, and a run of 1,000 requests of one kind through them. */
async function side(root: string): Promise<(request: Buffer) => void> {
  const load = (path: string) => import(resolve(root, 'src', path));
  const { AnswerParser } = await load('core/http1/answer-parser.ts');
  const { RequestParser } = await load('core/http1/request-parser.ts');
  const { serializeAnswerHead } = await load('core/http1/answer-head.ts');
  const { serializeRequestHead } = await load('core/http1/request-head.ts');
  const { buildDownstreamHead } = await load('proxy/forward/answer-headers.ts');
  const { buildUpstreamHeaders } = await load('proxy/forward/request-headers.ts');
  const noBody = { onBody() {}, onComplete() {} };
  const answers = new AnswerParser(
    {
      ...noBody,
      onHead(head: Head) {
        const fields = buildDownstreamHead(head.headers, FACTS.requestId, FACTS.via, undefined, false);
        SINK.write(serializeAnswerHead(head.status, head.reason, fields), 0, 'latin1');
      },
    },
    16384,
  );
  const requests = new RequestParser(
    {
      ...noBody,
      onHead(head: Head) {
        const headers = buildUpstreamHeaders(head.headers, FACTS);
        const upstream = { method: head.method, path: head.target, headers, body: { kind: 'none' } };
        SINK.write(serializeRequestHead(upstream, FACTS.host), 0, 'latin1');
      },
    },
    { headerSize: 16384, uriLength: 8192 },
  );
  return (request) => {
    for (let i = 0; i < 1000; i++) {
      FACTS.requestId = IDS[i];
      FACTS.traceparent = TRACES[i];
      requests.execute(request);
      requests.next();
      answers.expect(false);
      answers.execute(ANSWER);
    }
  };
}

const sides: Record<string, (request: Buffer) => void> = { this: await side('.') };
if (values.ref !== undefined) sides.ref = await side(values.ref);
const best: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++)
  for (const [kind, request] of Object.entries(REQUESTS))
    for (const [name, run] of Object.entries(sides)) {
      const start = process.hrtime.bigint();
      run(request);
      const ns = Number(process.hrtime.bigint() - start) / 1000;
      const key = `${name} ${kind}`;
      best[key] = Math.min(best[key] ?? Number.POSITIVE_INFINITY, ns);
    }
console.log(`best of ${ROUNDS} rounds of 1,000 requests, ns a request (both heads parsed and built)`);
for (const [key, ns] of Object.entries(best)) console.log(`${key.padEnd(16)} ${ns.toFixed(0)}`);
