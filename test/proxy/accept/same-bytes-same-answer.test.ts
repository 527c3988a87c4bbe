/**
 * A refused request's answer is a matter of its bytes, not of how TCP cut them: the same bytes
 * sent in one write and a byte at a time get the same status. A head read as it comes is refused
 * at the byte its first fault is known (request-partial-head.ts); a head read whole names the
 * same fault, in the same order.
 */
import { test } from 'node:test';
import {
  assertClientError,
  assertUpstreamSawNothing,
  exchange,
  type Fixture,
  hasFinalResponse,
  LIMITS,
  RawClient,
  startFixture,
} from './downstream-fixture.ts';

/** Sends `pieces` a write each, each after the last was read (a read each), until the answer came. */
async function dripped(port: number, pieces: readonly string[]): Promise<{ raw: string; closed: boolean }> {
  const client = await RawClient.connect(port);
  try {
    for (const byte of pieces) {
      if (client.closed || hasFinalResponse(client.received)) break;
      client.write(byte);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await client.until(hasFinalResponse);
    await client.until(() => false, 200);
    return { raw: client.received, closed: client.closed };
  } finally {
    client.destroy();
  }
}

/** A request line no version ends, its target past uri_length. */
const LONG_TARGET = `get /${'x'.repeat(LIMITS.uriLength + 5)}\r\nHost: a\r\n\r\n`;

const CASES: ReadonlyArray<{
  name: string;
  bytes: string;
  /** How it is cut for the second try (absent: a byte a write). */
  pieces?: readonly string[];
  status: number;
  details: RegExp;
}> = [
  {
    // Its method is a token for more bytes than any the gateway knows: that is its first fault.
    name: 'a method past any known that stops being a token',
    bytes: 'GETContent-Length: 3 /a HTTP/1.1\r\nHost: a\r\n\r\nabc',
    status: 501,
    details: /^method GETContent-L/,
  },
  {
    name: 'a banner of another protocol (SSH)',
    bytes: 'SSH-2.0-OpenSSH_9.6\r\n',
    status: 501,
    details: /^method SSH-2\.0-Open/,
  },
  {
    name: 'a request line without a version whose target is past uri_length',
    bytes: LONG_TARGET,
    // (A byte a write would take past header_timeout: cut once its target is past the limit.)
    pieces: [LONG_TARGET.slice(0, LIMITS.uriLength + 8), LONG_TARGET.slice(LIMITS.uriLength + 8)],
    status: 414,
    // Named with the limit as a target read whole is (request-checks.ts): the same answer.
    details: /^request target over the limit of 1024 bytes \(limits\.uri_length\)$/,
  },
  // Whitespace where RFC 9112 §3 puts one SP: nginx and HAProxy skip extra spaces and a tab (a
  // hop behind them may not), Candor refuses; the details name the whitespace, not a part that
  // is sound (`GET /a HTTP/1.1 ` was "invalid request target").
  {
    name: 'two spaces after the method',
    bytes: 'GET  /a HTTP/1.1\r\nHost: a\r\n\r\n',
    status: 400,
    details: /^malformed request \(HPE_INVALID_URL: more than one space between the method and the target\)$/,
  },
  {
    name: 'two spaces before the version',
    bytes: 'GET /a  HTTP/1.1\r\nHost: a\r\n\r\n',
    status: 400,
    details:
      /^malformed request \(HPE_INVALID_VERSION: more than one space between the target and the version\)$/,
  },
  {
    name: 'a space after the version',
    bytes: 'GET /a HTTP/1.1 \r\nHost: a\r\n\r\n',
    status: 400,
    details: /^malformed request \(HPE_INVALID_VERSION: whitespace after the HTTP version\)$/,
  },
  {
    name: 'a tab after the method',
    bytes: 'GET\t/a HTTP/1.1\r\nHost: a\r\n\r\n',
    status: 400,
    details:
      /^malformed request \(HPE_INVALID_METHOD: a tab in the request line \(its parts are separated by one space\)\)$/,
  },
];

for (const c of CASES)
  test(`the same answer in one read and a byte a read: ${c.name}`, async (t) => {
    const f: Fixture = await startFixture();
    t.after(() => f.close());
    const whole = await exchange(f.gw.port, c.bytes);
    await assertClientError(f, whole, { status: c.status, details: c.details });
    const split = await dripped(f.gw.port, c.pieces ?? [...c.bytes]);
    await assertClientError(f, split, { status: c.status, details: c.details });
    assertUpstreamSawNothing(f);
  });
