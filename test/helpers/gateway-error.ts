import assert from 'node:assert/strict';
import type http from 'node:http';
import type { LogLine, TestGateway } from './test-gateway.ts';

/** The members of one Proxy-Status entry the tests read (RFC 9209 §2). */
export interface ProxyStatusEntry {
  readonly proxy: string;
  readonly error?: string;
  readonly details?: string;
  readonly nextHop?: string;
  readonly receivedStatus?: number;
}

/** Reads `edge-1; error=x; details="…"; next-hop="…"` (one entry, the gateway's own). */
export function parseProxyStatus(value: string | string[] | undefined): ProxyStatusEntry {
  assert.equal(typeof value, 'string', `one Proxy-Status field, got ${JSON.stringify(value)}`);
  const text = value as string;
  const proxy = /^([^;]+)/.exec(text)?.[1]?.trim() ?? '';
  const quoted = (name: string) => {
    const match = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(text);
    return match ? match[1].replace(/\\(.)/g, '$1') : undefined;
  };
  const received = /;\s*received-status=(\d+)/.exec(text)?.[1];
  return {
    proxy,
    error: /;\s*error=([a-z0-9_]+)/.exec(text)?.[1],
    details: quoted('details'),
    nextHop: quoted('next-hop'),
    receivedStatus: received === undefined ? undefined : Number(received),
  };
}

export interface ExpectedError {
  readonly status: number;
  readonly error: string;
  /** What the details must hold (a part of them). */
  readonly details?: RegExp;
  /** The next hop named, or null for none (the gateway's own refusal of the request). */
  readonly nextHop?: string | null;
  /** Retry-After's value, or null where none is due. */
  readonly retryAfter?: string | null;
  /** The format the body must be in. */
  readonly format?: 'problem+json' | 'html' | 'text';
  /** A HEAD: no body. */
  readonly head?: boolean;
}

const MEDIA = { 'problem+json': 'application/problem+json', html: 'text/html', text: 'text/plain' };

/**
 * Checks a gateway-made error answer as DESIGN.md's contract states it: the status, Proxy-Status
 * (error, details, next hop), Cache-Control: no-store, the request id in the header and in the
 * body, Retry-After only where due, and the negotiated body. Returns the request id.
 */
export function assertGatewayError(
  response: { status: number; headers: http.IncomingHttpHeaders; text: string },
  expected: ExpectedError,
): string {
  assert.equal(response.status, expected.status, `status; body: ${response.text.slice(0, 300)}`);
  const entry = parseProxyStatus(response.headers['proxy-status']);
  assert.equal(entry.proxy, 'edge-1');
  assert.equal(entry.error, expected.error, `Proxy-Status: ${response.headers['proxy-status']}`);
  if (expected.details) assert.match(entry.details ?? '', expected.details);
  if (expected.nextHop !== undefined) assert.equal(entry.nextHop, expected.nextHop ?? undefined);
  assert.equal(response.headers['cache-control'], 'no-store');
  if (expected.retryAfter !== undefined) {
    assert.equal(response.headers['retry-after'], expected.retryAfter ?? undefined, 'Retry-After');
  }
  const id = response.headers['x-request-id'];
  assert.equal(typeof id, 'string');
  assert.match(id as string, /^[0-9a-f-]{36}$/);
  if (expected.head) {
    assert.equal(response.text, '', 'a HEAD answer has no body');
  } else {
    assert.ok(response.text.includes(id as string), 'the body quotes the request id');
    if (expected.format) {
      assert.ok(
        String(response.headers['content-type']).startsWith(MEDIA[expected.format]),
        `content-type ${response.headers['content-type']}`,
      );
      if (expected.format === 'problem+json') {
        const problem = JSON.parse(response.text);
        assert.equal(problem.status, expected.status);
        assert.equal(problem.request_id, id);
      }
    }
  }
  return id as string;
}

/** The one access-log line of request `id`, checked to be the only one for it. */
export async function onlyLogLine(gw: TestGateway, id: string): Promise<LogLine> {
  const line = await gw.logFor(id);
  // A second line for the same request would be written by now too: the first waits for the close.
  await new Promise((resolve) => setImmediate(resolve));
  const lines = gw.logs.filter((l) => l.msg === 'request' && l.req_id === id);
  assert.equal(lines.length, 1, `one access-log line for ${id}, got ${JSON.stringify(lines)}`);
  return line;
}
