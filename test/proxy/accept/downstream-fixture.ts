/**
 * Shared by the downstream-limits tests: a real gateway with small limits in front of a
 * fresh echo upstream, a raw socket client that can stall between writes, and the checks
 * every gateway-made client error must pass (status, Proxy-Status, headers, body, log line,
 * and that the upstream saw nothing).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

export const LIMITS = {
  headerSize: 4 * 1024,
  uriLength: 1024,
  body: 1024,
} as const;

export interface Fixture {
  readonly gw: TestGateway;
  readonly echo: Fault;
  close(): Promise<void>;
}

/**
 * Small limits so every one can be crossed cheaply; timeouts short enough for a test, long enough
 * for loopback. `headerTimeout`: longer for a test that sends a head a few bytes a turn, whose
 * hundreds of turns a loaded machine stretches past 500 ms (a 408 where the size was the question).
 */
export async function startFixture(headerTimeout = '500ms'): Promise<Fixture> {
  const echo = await startEcho();
  const gw = await startTestGateway(`name: edge-1
limits: { header_size: 4KiB, uri_length: 1KiB, header_timeout: ${headerTimeout}, body_idle_timeout: 500ms }
routes:
  - match: { path: / }
    upstream: app
    limits: { body: 1KiB }
  # Bodies stream here as they arrive (the tests of what happens once forwarding has begun).
  - match: { path: /stream }
    upstream: app
    limits: { body: 1KiB }
    request_buffering: false
upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  return {
    gw,
    echo,
    close: async () => {
      await gw.close();
      await echo.close();
    },
  };
}

/** A parsed HTTP/1.1 response taken from raw bytes (only the final one: a 100 before it is kept apart). */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Interim (1xx) status lines seen before the final response. */
  readonly interim: string[];
}

export function parseRaw(raw: string): RawResponse {
  const interim: string[] = [];
  let rest = raw;
  while (/^HTTP\/1\.1 1\d\d /.test(rest)) {
    const end = rest.indexOf('\r\n\r\n');
    interim.push(rest.slice(0, rest.indexOf('\r\n')));
    rest = rest.slice(end + 4);
  }
  const end = rest.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no complete response head in ${JSON.stringify(raw.slice(0, 300))}`);
  const lines = rest.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    assert.equal(headers[name], undefined, `header ${name} sent twice`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: rest.slice(end + 4), interim };
}

/**
 * A raw client connection that can write in steps and wait for what the gateway sends,
 * for stalls and Expect: 100-continue (which rawRequest's one write cannot do).
 */
export class RawClient {
  readonly socket: net.Socket;
  received = '';
  closed = false;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.#notify();
    });
    const closed = () => {
      this.closed = true;
      this.#notify();
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', closed); // a reset after the answer counts as closed
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until what was received matches, or the connection closed (then returns anyway), or the time is up. */
  until(done: (received: string) => boolean, timeoutMs = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done(this.received) || this.closed) {
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve(this.received);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out; received so far: ${JSON.stringify(this.received.slice(0, 500))}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits for the gateway to close the connection. */
  untilClosed(timeoutMs = 3000): Promise<string> {
    return this.until(() => false, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }
}

/** Whether a complete final (non-1xx) response head, and its Content-Length worth of body, arrived. */
export function hasFinalResponse(received: string): boolean {
  const response = received.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
  const end = response.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(response.slice(0, end));
  return length === null || response.length - end - 4 >= Number(length[1]);
}

/** Sends `bytes` on a fresh connection; waits for a whole answer and, when it should, for the close. */
export async function exchange(
  port: number,
  bytes: string | Buffer,
): Promise<{ raw: string; closed: boolean }> {
  const client = await RawClient.connect(port);
  client.write(bytes);
  await client.until(hasFinalResponse);
  // Let a close that follows the answer arrive before looking.
  await client.until(() => false, 200).catch(() => {});
  client.destroy();
  return { raw: client.received, closed: client.closed };
}

export interface Expected {
  readonly status: number;
  /** Matched against the Proxy-Status details. */
  readonly details: RegExp;
  /** Whether the gateway must close the connection after the answer (default true). */
  readonly closes?: boolean;
  /** The request id the client sent, if any: logged as client_req_id (the gateway makes its own). */
  readonly requestId?: string;
  /** The Accept the client sent: application/json asks for problem+json. */
  readonly json?: boolean;
}

/**
 * The checks every gateway-made client error passes: exact status and Proxy-Status (no
 * next-hop: the client is at fault), no-store, a request id, the negotiated body, one
 * access-log line, the close, and nothing at the upstream. Returns the parsed response.
 */
export async function assertClientError(
  fixture: Fixture,
  answer: { raw: string; closed: boolean },
  expected: Expected,
): Promise<RawResponse> {
  const res = parseRaw(answer.raw);
  assert.equal(res.status, expected.status, `status; got ${JSON.stringify(answer.raw.slice(0, 400))}`);
  const proxyStatus = res.headers['proxy-status'] ?? '';
  assert.match(proxyStatus, /^edge-1; error=http_request_error; details="(?:[^"\\]|\\.)*"$/);
  // An sf-string: backslash escapes \" and \\.
  const details = (/details="((?:[^"\\]|\\.)*)"/.exec(proxyStatus)?.[1] ?? '').replace(/\\(.)/g, '$1');
  assert.match(details, expected.details);
  assert.equal(res.headers['cache-control'], 'no-store');
  const requestId = res.headers['x-request-id'];
  assert.ok(requestId, 'an X-Request-Id');
  assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body, 'latin1'));
  if (expected.json) {
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(res.body);
    assert.equal(problem.status, expected.status);
    assert.equal(problem.error, 'http_request_error');
    assert.equal(problem.shape, 'client');
    assert.equal(problem.request_id, requestId);
    assert.equal(problem.next_hop, undefined);
  } else {
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(res.body, new RegExp(`^${expected.status} `));
    assert.ok(res.body.includes(`request id: ${requestId}`));
  }
  if (expected.closes ?? true) {
    assert.equal(res.headers.connection, 'close');
    assert.ok(answer.closed, 'the gateway closed the connection after the answer');
  }

  const line = await fixture.gw.logFor(requestId);
  // The id the client sent is read even from a refused request, and logged beside the gateway's.
  if (expected.requestId) assert.equal(line.client_req_id, expected.requestId);
  assert.equal(line.status, expected.status);
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.shape, 'client');
  assert.equal(line.level, 'info');
  await settle();
  const lines = fixture.gw.logs.filter((l) => l.msg === 'request' && l.req_id === requestId);
  assert.equal(lines.length, 1, `one access-log line, got ${JSON.stringify(lines)}`);
  return res;
}

/** Nothing of the request reached the upstream: no request head, and not even a connection. */
export function assertUpstreamSawNothing(fixture: Fixture): void {
  assert.equal(fixture.echo.received.length, 0, 'no request reached the upstream');
  assert.equal(fixture.echo.connections, 0, 'no connection was made to the upstream');
}

/** The process and the gateway survived: an ordinary request through the same gateway answers 200. */
export async function assertStillServes(fixture: Fixture): Promise<void> {
  const before = fixture.echo.received.length;
  const res = await request(fixture.gw.url, { path: '/after?ok=1', headers: { 'x-request-id': 'after' } });
  assert.equal(res.status, 200);
  assert.equal(fixture.echo.received.length, before + 1);
  assert.equal(fixture.echo.received[before].path, '/after?ok=1');
}

/** Lets a late second log line or a late upstream connection show up before asserting there is none. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
