/**
 * One upstream contract for both protocols: the same misbehaviour from an HTTP/1.1 upstream
 * and from an h2c one gives the same status, Proxy-Status error type, log error and stage,
 * retry decision (a GET goes again, a POST that reached the upstream does not; one never
 * processed goes again whatever its method) and outlier judgment. Two targets, both the same
 * fault, real raw-TCP and node:http2 servers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startHugeHeader, startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import {
  dropH2Connection,
  h2DropConnection,
  h2Hang,
  h2InterimFlood,
  h2Refuse,
  h2ResetAfterHead,
  h2ResetConnection,
  startH2,
  startH2GoawayFirst,
} from '../../../src/kits/fault-kit/h2-faults.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import {
  startCloseBeforeHead,
  startCloseMidBody,
  startResetBeforeHead,
} from '../../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole, startHeadThenStall } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

interface Outcome {
  readonly status: number;
  readonly error: string;
  readonly stage: string;
  /** Whether a POST that met it goes again (only one the upstream never processed does). */
  readonly postRetried: boolean;
  /** What the details say, the same in substance over both protocols. */
  readonly details?: RegExp;
  /** A failure after the head: the head is out, nothing is retried. */
  readonly afterHead?: boolean;
}

type Start = () => Promise<Fault>;

// undefined: no HTTP/1.1 twin (never-sent-retries.test.ts has its "nothing processed", a pooled
// connection closed before the request went out, which needs a race no fault script can hold).
const cases: ReadonlyArray<readonly [string, Start | undefined, Start, Outcome]> = [
  [
    'a reset before the head',
    () => startResetBeforeHead(),
    () => startH2(h2ResetConnection),
    { status: 502, error: 'connection_terminated', stage: 'sent', postRetried: false },
  ],
  [
    'a close before the head',
    () => startCloseBeforeHead(),
    () => startH2(h2DropConnection),
    { status: 502, error: 'connection_terminated', stage: 'sent', postRetried: false },
  ],
  [
    'a close mid-body',
    () => startCloseMidBody(),
    () => startH2(h2ResetAfterHead),
    {
      status: 200,
      error: 'http_response_incomplete',
      stage: 'body_streaming',
      postRetried: false,
      afterHead: true,
    },
  ],
  [
    'a body that stalls after the head',
    () => startHeadThenStall(),
    () =>
      startH2((stream) => {
        stream.respond({ ':status': 200, 'content-length': '100' });
        stream.write('x'.repeat(10));
      }),
    {
      status: 200,
      error: 'connection_read_timeout',
      stage: 'body_streaming',
      postRetried: false,
      afterHead: true,
    },
  ],
  [
    'no head in time',
    () => startBlackhole(),
    () => startH2(h2Hang),
    { status: 504, error: 'http_response_timeout', stage: 'sent', postRetried: false },
  ],
  [
    'a refused connection',
    () => startRefusing(),
    () => startRefusing(),
    { status: 502, error: 'connection_refused', stage: 'not_sent', postRetried: true },
  ],
  [
    'garbage (an SSH banner)',
    () => startSshBanner(),
    () => startSshBanner(),
    { status: 502, error: 'http_protocol_error', stage: 'sent', postRetried: false },
  ],
  [
    'a head too large',
    () => startHugeHeader(),
    () =>
      startH2((stream) => {
        stream.respond({ ':status': 200, 'x-big': 'a'.repeat(40_000) });
        stream.end();
      }),
    { status: 502, error: 'http_response_header_section_size', stage: 'sent', postRetried: false },
  ],
  [
    'a 1xx flood',
    () =>
      startRawFault(async (connection) => {
        await connection.nextRequest({ body: true });
        for (let i = 0; i < 2000; i++) await connection.write('HTTP/1.1 103 Early Hints\r\n\r\n');
      }),
    () => startH2(h2InterimFlood),
    {
      status: 502,
      error: 'http_protocol_error',
      stage: 'sent',
      postRetried: false,
      details: /interim \(1xx\) responses and no final one/,
    },
  ],
  [
    'a 1xx, then a close',
    () =>
      startRawFault(async (connection) => {
        await connection.nextRequest({ body: true });
        await connection.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n');
        await connection.end();
      }),
    () =>
      startH2((stream) => {
        stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
        setTimeout(() => dropH2Connection(stream), 20);
      }),
    {
      status: 502,
      error: 'connection_terminated',
      stage: 'sent',
      postRetried: false,
      // The interim head came whole: the connection ended before the final one, not inside it.
      details: / before the response head after /,
    },
  ],
  [
    'nothing processed: GOAWAY with last stream 0',
    undefined,
    () => startH2GoawayFirst(),
    { status: 502, error: 'connection_terminated', stage: 'not_sent', postRetried: true },
  ],
  [
    'nothing processed: the stream refused (REFUSED_STREAM)',
    undefined,
    () => startH2(h2Refuse),
    { status: 502, error: 'connection_terminated', stage: 'not_sent', postRetried: true },
  ],
];

async function run(protocol: 'http1' | 'h2c', start: Start, method: 'GET' | 'POST', id: string) {
  const [a, b] = [await keep(start()), await keep(start())];
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    protocol: ${protocol}
    targets: [{ url: ${a.url} }, { url: ${b.url} }]
    retries:
      attempts: 2
      on: [connection_terminated, connection_refused, http_response_timeout, http_protocol_error, http_response_header_section_size]
    timeouts: { connect: 500ms, response: 300ms, read: 300ms, total: 5s }
`),
  );
  const res = await request(gw.url, {
    method,
    path: '/contract',
    headers: { 'x-request-id': id },
    body: method === 'POST' ? 'order=1' : undefined,
  });
  const line = await gw.logFor(id);
  const targets = gw.gateway.runtime().upstreams.get('app')?.targets ?? [];
  return { res, line, failures: targets.map((t) => t.consecutiveFailures).sort() };
}

describe('the same misbehaviour over HTTP/1.1 and h2c', () => {
  for (const [label, h1, h2, expected] of cases) {
    for (const [protocol, start] of [
      ['http1', h1],
      ['h2c', h2],
    ] as const) {
      for (const method of ['GET', 'POST'] as const) {
        if (start === undefined) continue;
        test(`${label}, ${protocol}, ${method}`, async () => {
          const id = `${protocol}-${method}-${label.length}`;
          const { res, line, failures } = await run(protocol, start, method, id);
          const retried = !expected.afterHead && (method === 'GET' || expected.postRetried);
          assert.equal(res.status, expected.status);
          assert.equal(res.aborted, expected.afterHead === true);
          if (!expected.afterHead)
            assert.match(
              String(res.headers['proxy-status']),
              new RegExp(`^edge-1; error=${expected.error}; `),
            );
          assert.equal(line.error, expected.error);
          assert.equal(line.stage, expected.stage);
          if (expected.details) assert.match(String(line.details), expected.details);
          if (retried) {
            const tries = line.tries as { error: string; stage: string }[];
            assert.deepEqual(
              tries.map((t) => [t.error, t.stage]),
              [
                [expected.error, expected.stage],
                [expected.error, expected.stage],
              ],
            );
            assert.equal(line.retry_skipped, 'attempts');
          } else if (!expected.afterHead) {
            assert.equal(line.tries, undefined, 'one attempt');
            assert.equal(line.retry_skipped, 'not_idempotent');
          }
          // Every one of these is the target's fault: each target tried counts one failure.
          assert.deepEqual(failures, retried ? [1, 1] : [0, 1]);
        });
      }
    }
  }
});
