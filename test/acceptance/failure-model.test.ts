/**
 * A model-based fuzz of the failure contract (DESIGN.md's failure table and retry rules,
 * docs/resilience.md, docs/hostile-peers.md). fast-check picks a sequence of 20–60 requests
 * (GET, HEAD, POST and PUT with a body; HTTP/1.1 on a kept or a new connection, sometimes
 * pipelined, or HTTP/2; sometimes a client that leaves mid-answer) and, for each, what a real
 * upstream does with each attempt of it, one of the failure table's shapes: answers, resets
 * before the head, mid-head or mid-body, garbage, a head too big, a body short of its length
 * (cut, or stalled), chunked framing broken, a close after a whole answer, its own 5xx (with a
 * Proxy-Status of its own or not), a 1xx first, a slow head, no answer at all; and a route whose
 * only target refuses the connect. A model written from the docs, not the code, says for each
 * request the status (502, 503 and 504 never swapped), the Proxy-Status type and parameters,
 * whether it was retried and so how many times the upstream saw it (counted by its id), and
 * whether the client connection stays open. Every answer's body names its request and attempt,
 * and the upstream checks that no request arrives on a connection whose last answer was not
 * whole or not valid: no state leaks from one request's failure into the next one's.
 *
 * Ejection and the upstream's circuit are off here (`consecutive_failures: 0`) and the retry
 * budget is wide, so that each request's fate is its own: the circuit and ejection have their
 * own tests (test/resilience/). The gateway's clocks (response and read 500 ms, total 3 s) are
 * several times the upstream's own delays (at most 80 ms), so a loaded machine does not turn a slow
 * answer into a timeout the model did not predict; every client wait is bounded (5 s: a hang fails
 * the run) and so is the property's time (40 s a factor, with shrinking). A fixed seed (six runs,
 * about 12 s); CANDOR_FUZZ_SEED and CANDOR_FUZZ_RUNS (a factor on the runs) search further by hand:
 *   CANDOR_FUZZ_RUNS=20 CANDOR_FUZZ_SEED=$RANDOM node --test --import=./test/helpers/preload.mjs \
 *     --test-force-exit test/acceptance/failure-model.test.ts
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseProxyStatus } from '../helpers/gateway-error.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

const SEED = Number(process.env.CANDOR_FUZZ_SEED ?? 20261130);
const FACTOR = Number(process.env.CANDOR_FUZZ_RUNS ?? 1);
const RUNS = 6 * FACTOR;

/** What the upstream does with one attempt of a request. */
const BEHAVIOURS = [
  'ok',
  'reset_before_head',
  'fin_mid_head',
  'reset_mid_head',
  'reset_mid_body',
  'garbage_status',
  'head_too_big',
  'bad_framing_head',
  'short_body_fin',
  'short_body_stall',
  'chunked_broken',
  'close_after',
  'close_said',
  'own_503',
  'own_502_proxy_status',
  'interim_then_ok',
  'slow_head',
  'slow_body',
  'never',
] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

interface Step {
  readonly method: Method;
  /** To the route whose only target refuses every connect. */
  readonly refused: boolean;
  /** The upstream's behaviour for the first attempt, then the second (past the list: `ok`). */
  readonly script: readonly Behaviour[];
  readonly h2: boolean;
  /** HTTP/1.1: on a new connection rather than the one kept from before. */
  readonly fresh: boolean;
  /** HTTP/1.x: what the request asks of its connection (`Connection: close`, or an HTTP/1.0 request). */
  readonly ask: 'keep_alive' | 'close' | 'http10';
  /** HTTP/1.1: the next request is written behind this one before its answer came. */
  readonly pipeline: boolean;
  /** HTTP/2: sent beside the next request, on streams open at once. */
  readonly together: boolean;
  /** The client leaves once the answer's head came (a slow body behind it), or before it (none coming), once the upstream has the request. */
  readonly leave: 'stay' | 'after_head' | 'before_head';
}

// ---------------------------------------------------------------------------------------------
// The model: from DESIGN.md and the docs only.

/** retries.on by default (docs/configuration.md). */
const RETRY_ON = new Set([
  'dns_error',
  'dns_timeout',
  'connection_refused',
  'destination_ip_unroutable',
  'connection_timeout',
  'connection_terminated',
  'http_response_timeout',
]);
const IDEMPOTENT = new Set<Method>(['GET', 'HEAD', 'PUT']);
/** DESIGN.md's failure table. */
const STATUS_OF: Record<string, number> = {
  connection_refused: 502,
  connection_terminated: 502,
  http_protocol_error: 502,
  http_response_header_section_size: 502,
  http_response_transfer_coding: 502,
  http_response_timeout: 504,
};
const ATTEMPTS = 2;

/** What one attempt comes to, as the docs say. */
type AttemptOutcome =
  | { readonly kind: 'answer'; readonly status: number }
  | { readonly kind: 'failure'; readonly error: string }
  | { readonly kind: 'cut'; readonly error: string };

/** A HEAD's answer has no body: what would break a body leaves its head whole. */
function effective(behaviour: Behaviour, method: Method): Behaviour {
  if (method !== 'HEAD') return behaviour;
  switch (behaviour) {
    case 'reset_mid_body':
    case 'short_body_fin':
    case 'short_body_stall':
    case 'chunked_broken':
    case 'slow_body':
      return 'ok';
    default:
      return behaviour;
  }
}

function outcomeOf(behaviour: Behaviour): AttemptOutcome {
  switch (behaviour) {
    case 'ok':
    case 'close_after':
    case 'close_said':
    case 'interim_then_ok':
    case 'slow_head':
    case 'slow_body':
      return { kind: 'answer', status: 200 };
    case 'own_503':
      return { kind: 'answer', status: 503 };
    case 'own_502_proxy_status':
      return { kind: 'answer', status: 502 };
    case 'reset_before_head':
    case 'fin_mid_head':
    case 'reset_mid_head':
      return { kind: 'failure', error: 'connection_terminated' };
    case 'garbage_status':
      return { kind: 'failure', error: 'http_protocol_error' };
    case 'head_too_big':
      return { kind: 'failure', error: 'http_response_header_section_size' };
    case 'bad_framing_head':
      return { kind: 'failure', error: 'http_response_transfer_coding' };
    case 'never':
      return { kind: 'failure', error: 'http_response_timeout' };
    case 'reset_mid_body':
    case 'short_body_fin':
      return { kind: 'cut', error: 'http_response_incomplete' };
    case 'short_body_stall':
      return { kind: 'cut', error: 'connection_read_timeout' };
    case 'chunked_broken':
      return { kind: 'cut', error: 'http_response_transfer_coding' };
  }
}

interface Prediction {
  /** `answer`: the upstream's answer relayed whole; `error`: the gateway's own; `cut`: the head, then the transfer cut; `left`: the client left after the head. */
  readonly kind: 'answer' | 'error' | 'cut' | 'left';
  readonly status: number;
  /** Proxy-Status `error=` (an error) or the log's `error` (a cut, a client that left). */
  readonly error?: string;
  /** The behaviour that made the final answer (its body names the attempt). */
  readonly behaviour?: Behaviour;
  /** How many times the upstream saw the request. */
  readonly seen: number;
  /** The log's `attempts`. */
  readonly attempts: number;
  /** The HTTP/1.1 client connection is still open after it. */
  readonly keeps: boolean;
}

function predict(step: Step): Prediction {
  const told = predictExchange(step);
  // RFC 9112 §9.3, §9.6: a client that asked to close, or HTTP/1.0, is not kept alive.
  return !step.h2 && step.ask !== 'keep_alive' ? { ...told, keeps: false } : told;
}

function predictExchange(step: Step): Prediction {
  if (step.refused) {
    // Never reached the upstream: may go again whatever the method (the same target: the only one).
    return {
      kind: 'error',
      status: 502,
      error: 'connection_refused',
      seen: 0,
      attempts: ATTEMPTS,
      keeps: true,
    };
  }
  if (step.leave === 'before_head') {
    // A client gone before any answer: 499, nothing retried for nobody (docs/observability.md).
    return { kind: 'left', status: 499, error: 'client_closed', seen: 1, attempts: 1, keeps: false };
  }
  for (let attempt = 0; ; attempt++) {
    const behaviour = effective(step.script[attempt] ?? 'ok', step.method);
    const outcome = outcomeOf(behaviour);
    const seen = attempt + 1;
    if (outcome.kind === 'answer') {
      if (step.leave === 'after_head' && behaviour === 'slow_body') {
        return {
          kind: 'left',
          status: 200,
          error: 'client_closed',
          behaviour,
          seen,
          attempts: seen,
          keeps: false,
        };
      }
      return { kind: 'answer', status: outcome.status, behaviour, seen, attempts: seen, keeps: true };
    }
    if (outcome.kind === 'cut') {
      // After the head nothing is retried and the status stands; the transfer is cut.
      return {
        kind: 'cut',
        status: 200,
        error: outcome.error,
        behaviour,
        seen,
        attempts: seen,
        keeps: false,
      };
    }
    // It reached the upstream: retried only when its type is in retries.on and its method idempotent.
    if (seen < ATTEMPTS && RETRY_ON.has(outcome.error) && IDEMPOTENT.has(step.method)) continue;
    return {
      kind: 'error',
      status: STATUS_OF[outcome.error],
      error: outcome.error,
      seen,
      attempts: seen,
      keeps: true,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The upstream: two targets on one script, each request's behaviour read from its id.

const BIG = `X-Big: ${'a'.repeat(40 * 1024)}\r\n`;

interface Upstream {
  readonly urls: readonly string[];
  /** Requests seen, by model id. */
  readonly seen: Map<string, number>;
  /** Requests that arrived on a connection whose last answer was not whole or not valid. */
  readonly leaks: string[];
  close(): Promise<void>;
}

async function startUpstream(scriptOf: (id: string) => readonly Behaviour[]): Promise<Upstream> {
  const seen = new Map<string, number>();
  const leaks: string[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  const servers: net.Server[] = [];
  const urls: string[] = [];
  for (let t = 0; t < 2; t++) {
    let accepted = 0;
    const server = net.createServer((socket) => {
      const connection = `${t}.${++accepted}`;
      /** clean: its last answer was whole; busy: one is under way; poisoned: what it sent was no valid answer. */
      let state: 'clean' | 'busy' | 'poisoned' = 'clean';
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let pending = Buffer.alloc(0);
      let bodyLeft = 0;
      const answer = (head: string) => {
        const method = /^(\S+)/.exec(head)?.[1] as Method;
        const id = /\r\nx-model-id: *([^\r]+)/i.exec(head)?.[1] ?? '?';
        if (state !== 'clean')
          leaks.push(
            `${method} ${id} arrived on connection ${connection} while its last answer was ${state}`,
          );
        const attempt = seen.get(id) ?? 0;
        seen.set(id, attempt + 1);
        const behaviour = effective(scriptOf(id)[attempt] ?? 'ok', method);
        const body = `answer ${id} attempt ${attempt + 1} ${behaviour}`;
        const whole = (status = '200 OK', fields = '') =>
          `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${fields}\r\n${method === 'HEAD' ? '' : body}`;
        const write = (bytes: string, then: 'clean' | 'busy' | 'poisoned') => {
          socket.write(bytes);
          state = then;
        };
        state = 'busy';
        switch (behaviour) {
          case 'ok':
            return write(whole(), 'clean');
          case 'close_after':
            socket.end(whole());
            return;
          case 'close_said':
            socket.end(whole('200 OK', 'Connection: close\r\n'));
            return;
          case 'own_503':
            return write(whole('503 Service Unavailable', 'Retry-After: 7\r\n'), 'clean');
          case 'own_502_proxy_status':
            return write(
              whole('502 Bad Gateway', 'Proxy-Status: inner; error=connection_refused\r\n'),
              'clean',
            );
          case 'interim_then_ok':
            socket.write('HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n');
            return later(5, () => write(whole(), 'clean'));
          case 'slow_head':
            return later(50, () => write(whole(), 'clean'));
          case 'slow_body': {
            const all = whole();
            const cut = all.length - body.length + 5;
            socket.write(all.slice(0, cut));
            return later(80, () => write(all.slice(cut), 'clean'));
          }
          case 'reset_before_head':
            socket.resetAndDestroy();
            return;
          case 'fin_mid_head':
            socket.end('HTTP/1.1 200 OK\r\nContent-Le');
            return;
          case 'reset_mid_head':
            socket.write('HTTP/1.1 200 OK\r\nContent-Le');
            return later(10, () => socket.resetAndDestroy());
          case 'reset_mid_body':
            socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 20}\r\n\r\n${body.slice(0, 5)}`);
            return later(10, () => socket.resetAndDestroy());
          case 'short_body_fin':
            socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 20}\r\n\r\n${body}`);
            return;
          case 'short_body_stall':
            return write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 20}\r\n\r\n${body}`, 'busy');
          case 'garbage_status':
            return write('HTTP/1.1 2x0 OK\r\n\r\n', 'poisoned');
          case 'head_too_big':
            return write(`HTTP/1.1 200 OK\r\n${BIG}Content-Length: 0\r\n\r\n`, 'poisoned');
          case 'bad_framing_head':
            return write(
              'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
              'poisoned',
            );
          case 'chunked_broken':
            return write(
              `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n${body.slice(0, 5)}\r\nzz\r\n`,
              'poisoned',
            );
          case 'never':
            return;
        }
      };
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          if (bodyLeft > 0) {
            const take = Math.min(bodyLeft, pending.length);
            bodyLeft -= take;
            pending = pending.subarray(take);
            if (bodyLeft > 0) return;
          }
          const end = pending.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = pending.subarray(0, end).toString('latin1');
          pending = pending.subarray(end + 4);
          bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          answer(head);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  }
  return {
    urls,
    seen,
    leaks,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The clients: a raw HTTP/1.1 connection (so that pipelining and a kept connection are the
// test's), and node:http2.

/** What a client got for one request. */
interface Got {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly interims: readonly number[];
  readonly body: string;
  /** The answer ended before its framing said it was whole (HTTP/1.1: the connection closed; HTTP/2: the stream reset). */
  readonly cut: boolean;
  /** No answer at all: the connection closed first. */
  readonly none: boolean;
}

const NO_ANSWER: Got = { status: 0, headers: {}, interims: [], body: '', cut: false, none: true };
/** Longer than any answer the model expects can take (timeouts.total is 3 s): past it, a hang. */
const CLIENT_DEADLINE_MS = 5000;

class RawConnection {
  private buffer = Buffer.alloc(0);
  closed = false;
  /** The gateway reset the connection (an error), rather than closing it with a FIN. */
  reset = false;
  private wake: (() => void) | undefined;
  readonly socket: net.Socket;
  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    const closed = () => {
      this.closed = true;
      this.wake?.();
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', () => {
      this.reset = true;
      closed();
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Waits until `find` finds what it needs in the buffer, or the connection closes. */
  private async until<T>(find: () => T | undefined, deadline: number): Promise<T | undefined> {
    for (;;) {
      const found = find();
      if (found !== undefined || this.closed) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer from the gateway within ${CLIENT_DEADLINE_MS} ms: a hang`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private take(n: number): string {
    const text = this.buffer.subarray(0, n).toString('latin1');
    this.buffer = this.buffer.subarray(n);
    return text;
  }

  async read(method: Method, leaveAfterHead: boolean): Promise<Got> {
    const deadline = Date.now() + CLIENT_DEADLINE_MS;
    const interims: number[] = [];
    for (;;) {
      const end = await this.until(() => {
        const at = this.buffer.indexOf('\r\n\r\n');
        return at === -1 ? undefined : at;
      }, deadline);
      if (end === undefined)
        return { ...NO_ANSWER, interims, cut: this.buffer.length > 0 || interims.length > 0 };
      const lines = this.take(end + 4).split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        if (!line) continue;
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      if (status < 200) {
        interims.push(status);
        continue;
      }
      if (leaveAfterHead) {
        this.socket.destroy();
        return { status, headers, interims, body: '', cut: false, none: false };
      }
      if (method === 'HEAD' || status === 204 || status === 304) {
        return { status, headers, interims, body: '', cut: false, none: false };
      }
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        let body = '';
        for (;;) {
          const line = await this.until(() => {
            const at = this.buffer.indexOf('\r\n');
            return at === -1 ? undefined : at;
          }, deadline);
          if (line === undefined) return { status, headers, interims, body, cut: true, none: false };
          const size = Number.parseInt(this.take(line + 2), 16);
          if (size === 0) {
            const trailerEnd = await this.until(() => {
              if (this.buffer.subarray(0, 2).toString() === '\r\n') return 0;
              const at = this.buffer.indexOf('\r\n\r\n');
              return at === -1 ? undefined : at + 2;
            }, deadline);
            if (trailerEnd === undefined) return { status, headers, interims, body, cut: true, none: false };
            this.take(trailerEnd + 2);
            return { status, headers, interims, body, cut: false, none: false };
          }
          const got = await this.until(() => (this.buffer.length >= size + 2 ? true : undefined), deadline);
          if (got === undefined) return { status, headers, interims, body, cut: true, none: false };
          body += this.take(size + 2).slice(0, size);
        }
      }
      const length = Number(headers['content-length'] ?? Number.NaN);
      if (Number.isNaN(length)) {
        // Close-delimited (to an HTTP/1.0 client): its end is the close, and a reset says it was cut (RFC 9112 §6.3).
        await this.until(() => undefined, deadline);
        return {
          status,
          headers,
          interims,
          body: this.take(this.buffer.length),
          cut: this.reset,
          none: false,
        };
      }
      const got = await this.until(() => (this.buffer.length >= length ? true : undefined), deadline);
      if (got === undefined)
        return { status, headers, interims, body: this.take(this.buffer.length), cut: true, none: false };
      return { status, headers, interims, body: this.take(length), cut: false, none: false };
    }
  }

  /** Whether the gateway closed the connection within `ms` (a FIN already on its way). */
  async closedWithin(ms: number): Promise<boolean> {
    await this.until(() => undefined, Date.now() + ms).catch(() => undefined);
    return this.closed;
  }
}

/** Resolves once the upstream has seen request `id` (bounded: the client's deadline). */
async function reached(up: Upstream, id: string): Promise<void> {
  const deadline = Date.now() + CLIENT_DEADLINE_MS;
  while ((up.seen.get(id) ?? 0) === 0) {
    if (Date.now() > deadline) throw new Error(`${id} never reached the upstream`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function h2Request(
  session: http2.ClientHttp2Session,
  up: Upstream,
  step: Step,
  id: string,
  body: string | undefined,
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const interims: number[] = [];
    const headers: Record<string, string> = {};
    let status = 0;
    const chunks: Buffer[] = [];
    let ended = false;
    let settled = false;
    const settle = (got: Got | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (got instanceof Error) reject(got);
      else resolve(got);
    };
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      settle(new Error(`no answer from the gateway within ${CLIENT_DEADLINE_MS} ms over HTTP/2: a hang`));
    }, CLIENT_DEADLINE_MS);
    const stream = session.request(
      {
        ':method': step.method,
        ':path': `${step.refused ? '/down' : '/app'}/${id}`,
        'x-model-id': id,
        'x-request-id': id,
        accept: 'application/problem+json',
        ...(body === undefined ? {} : { 'content-length': String(body.length) }),
      },
      { endStream: body === undefined },
    );
    if (body !== undefined) stream.end(body);
    if (step.leave === 'before_head') {
      reached(up, id).then(
        () => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          settle(NO_ANSWER);
        },
        (error: Error) => settle(error),
      );
    }
    stream.on('headers', (h) => interims.push(Number(h[':status'])));
    stream.on('response', (h) => {
      status = Number(h[':status']);
      for (const [name, value] of Object.entries(h)) {
        if (!name.startsWith(':')) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
      }
      if (step.leave === 'after_head' && step.method !== 'HEAD') {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        settle({ status, headers, interims, body: '', cut: false, none: false });
      }
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      ended = true;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const cut = !ended || stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR;
      settle({ status, headers, interims, body: text, cut, none: status === 0 });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// One run: a gateway and its upstream, the steps in order, each checked against the model.

function configOf(targets: readonly string[], refusedPort: number): string {
  const policy = `    timeouts: { connect: 500ms, response: 500ms, read: 500ms, total: 3s }
    retries:
      attempts: ${ATTEMPTS}
      backoff: { base: 1ms, max: 5ms }
      budget: { ratio: 1, min_concurrent: 100, min_per_second: 1000 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }`;
  return `name: edge-1
routes:
  - match: { path: /down }
    upstream: down
  - match: { path: /app }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
${policy}
  down:
    targets:
      - url: http://127.0.0.1:${refusedPort}
${policy}
`;
}

const bodyOf = (step: Step, id: string) =>
  step.method === 'POST' || step.method === 'PUT' ? `the body of ${id}` : undefined;

function requestBytes(step: Step, id: string): string {
  const body = bodyOf(step, id);
  return (
    `${step.method} ${step.refused ? '/down' : '/app'}/${id} HTTP/1.${step.ask === 'http10' ? 0 : 1}\r\nHost: model.test\r\n` +
    (step.ask === 'close' ? 'Connection: close\r\n' : '') +
    `X-Model-Id: ${id}\r\nX-Request-Id: ${id}\r\nAccept: application/problem+json\r\n` +
    (body === undefined ? '\r\n' : `Content-Length: ${body.length}\r\n\r\n${body}`)
  );
}

/** Checks one request's answer and log line against the model. */
async function check(
  gw: TestGateway,
  up: Upstream,
  step: Step,
  id: string,
  got: Got,
  expected: Prediction,
): Promise<void> {
  const say = (what: string) =>
    `${id} ${JSON.stringify(step)}: ${what}; got ${JSON.stringify({ ...got, body: got.body.slice(0, 200) })}`;
  if (expected.status === 499) {
    assert.equal(got.none, true, say('no answer to a client that left'));
  } else {
    checkAnswer(step, id, got, expected, say);
  }
  assert.equal(up.seen.get(id) ?? 0, expected.seen, say(`the upstream saw it ${expected.seen} times`));
  const line = await gw.logFor(id);
  assert.equal(
    line.status,
    expected.status,
    say(`logged status ${expected.status}: ${JSON.stringify(line)}`),
  );
  if (expected.kind !== 'answer')
    assert.equal(line.error, expected.error, say(`logged error: ${JSON.stringify(line)}`));
  if (expected.kind === 'left' && expected.status !== 499) {
    assert.equal(line.client_aborted, true, say('logged client_aborted'));
  }
  assert.equal(line.attempts, expected.attempts, say(`logged attempts: ${JSON.stringify(line)}`));
}

function checkAnswer(
  step: Step,
  id: string,
  got: Got,
  expected: Prediction,
  say: (what: string) => string,
): void {
  assert.equal(got.none, false, say('an answer'));
  assert.equal(got.status, expected.status, say(`status ${expected.status}`));
  const proxyStatus = got.headers['proxy-status'];
  if (expected.kind === 'error') {
    const entry = parseProxyStatus(proxyStatus);
    assert.equal(entry.proxy, 'edge-1', say('Proxy-Status by edge-1'));
    assert.equal(entry.error, expected.error, say(`Proxy-Status error=${expected.error}`));
    assert.ok(entry.details, say('Proxy-Status details'));
    assert.equal(entry.nextHop, step.refused ? 'down' : 'app', say('next-hop'));
    assert.equal(got.headers['cache-control'], 'no-store', say('no-store'));
    assert.equal(got.headers['retry-after'], undefined, say('no Retry-After on a 502/504'));
    assert.equal(got.cut, false, say('a whole error answer'));
    if (step.method !== 'HEAD') {
      const problem = JSON.parse(got.body);
      assert.equal(problem.status, expected.status, say('the problem says the status'));
      assert.equal(problem.request_id, got.headers['x-request-id'], say('the problem quotes the request id'));
    }
  } else {
    const attempt = expected.seen;
    const body = `answer ${id} attempt ${attempt} ${expected.behaviour}`;
    if (expected.kind === 'answer') {
      assert.equal(got.cut, false, say('a whole answer'));
      assert.equal(got.body, step.method === 'HEAD' ? '' : body, say('the body of this request and attempt'));
    }
    if (expected.kind === 'cut') {
      assert.equal(got.cut, true, say('the transfer cut, never finished as if whole'));
      assert.ok(body.startsWith(got.body), say('what came of the body is this request’s'));
    }
    if (expected.status === 200) {
      assert.equal(proxyStatus, undefined, say('no Proxy-Status on a 200'));
    } else {
      // The upstream's own 5xx passes unchanged; the gateway's member is added after any of its own.
      const members = (proxyStatus ?? '').split(/,\s*/);
      const own = parseProxyStatus(members.at(-1));
      assert.equal(own.proxy, 'edge-1', say('edge-1 last in Proxy-Status'));
      assert.equal(own.receivedStatus, expected.status, say('received-status'));
      assert.equal(own.error, undefined, say('no error type for the upstream’s own status'));
      if (expected.behaviour === 'own_502_proxy_status') {
        assert.equal(members[0], 'inner; error=connection_refused', say('the upstream’s Proxy-Status kept'));
      } else {
        assert.equal(members.length, 1, say('one member'));
        assert.equal(got.headers['retry-after'], '7', say('its Retry-After unchanged'));
      }
    }
    // No 1xx to an HTTP/1.0 client (docs/data-path.md).
    const interims =
      expected.behaviour === 'interim_then_ok' && (step.h2 || step.ask !== 'http10') ? [103] : [];
    assert.deepEqual(got.interims, interims, say('1xx relayed'));
  }
}

async function runSteps(steps: readonly Step[], run: number): Promise<void> {
  const byId = new Map<string, Step>();
  const up = await startUpstream((id) => byId.get(id)?.script ?? []);
  const refusedPort = await freePort();
  const gw = await startTestGateway(configOf(up.urls, refusedPort), {}, 'http2: true');
  let h1: RawConnection | undefined;
  let h2: http2.ClientHttp2Session | undefined;
  try {
    for (let n = 0; n < steps.length; ) {
      const step = steps[n];
      // A group: HTTP/2 requests on streams open at once, or HTTP/1.1 ones pipelined on one connection.
      const group: { step: Step; id: string }[] = [];
      for (let k = n; k < steps.length && steps[k].h2 === step.h2 && group.length < 4; k++) {
        group.push({ step: steps[k], id: `r${run}-${k}` });
        if (!(step.h2 ? steps[k].together : steps[k].pipeline) || steps[k].leave !== 'stay') break;
      }
      n += group.length;
      for (const { step: s, id } of group) byId.set(id, s);
      if (step.h2) {
        if (h2 === undefined) {
          h2 = http2.connect(gw.url);
          h2.on('error', () => {});
        }
        const session = h2;
        const answers = await Promise.all(
          group.map(({ step: s, id }) => h2Request(session, up, s, id, bodyOf(s, id))),
        );
        // An answer cut or left over HTTP/2 ends its stream, never the connection.
        for (const [k, { step: s, id }] of group.entries())
          await check(gw, up, s, id, answers[k], predict(s));
        assert.equal(session.closed || session.destroyed, false, 'the HTTP/2 connection kept');
        continue;
      }
      if (h1 === undefined || h1.closed || h1.socket.destroyed || step.fresh) {
        h1?.socket.destroy();
        h1 = await RawConnection.open(gw.port);
      }
      const connection = h1;
      connection.socket.write(group.map(({ step: s, id }) => requestBytes(s, id)).join(''));
      let open = true;
      for (const { step: s, id } of group) {
        const expected = predict(s);
        if (!open) {
          // Behind an answer that closed the connection: never run, never sent upstream.
          assert.equal(
            up.seen.get(id) ?? 0,
            0,
            `${id} pipelined behind a closed connection reached the upstream`,
          );
          continue;
        }
        let got: Got;
        if (s.leave === 'before_head') {
          await reached(up, id);
          connection.socket.destroy();
          got = NO_ANSWER;
        } else {
          got = await connection.read(s.method, s.leave === 'after_head' && s.method !== 'HEAD');
        }
        await check(gw, up, s, id, got, expected);
        if (expected.keeps) {
          assert.notEqual(
            got.headers.connection?.toLowerCase(),
            'close',
            `${id}: the client connection kept, not closed`,
          );
        } else {
          open = false;
          if (expected.kind === 'answer' || expected.kind === 'error') {
            assert.equal(
              got.headers.connection?.toLowerCase(),
              'close',
              `${id}: Connection: close to ${s.ask}`,
            );
          }
          if (expected.kind !== 'left')
            assert.ok(await connection.closedWithin(2000), `${id}: the client connection closed`);
        }
      }
      if (open)
        assert.equal(
          await connection.closedWithin(20),
          false,
          `${group.at(-1)?.id}: the client connection kept open`,
        );
    }
    assert.deepEqual(up.leaks, [], 'no request on a connection whose last answer was not whole');
  } finally {
    h1?.socket.destroy();
    h2?.destroy();
    await gw.close();
    await up.close();
  }
}

/** An integer from 0 to `max`, true at `max` alone: rare, and shrunk to false. */
const oneIn = (n: number) => fc.integer({ min: 0, max: n - 1 }).map((k) => k === n - 1);

const STEP: fc.Arbitrary<Step> = fc
  .record({
    method: fc.constantFrom<Method>('GET', 'GET', 'HEAD', 'POST', 'PUT'),
    refused: oneIn(12),
    script: fc.array(fc.constantFrom(...BEHAVIOURS), { minLength: 1, maxLength: 2 }),
    h2: oneIn(3),
    together: oneIn(2),
    fresh: oneIn(4),
    pipeline: oneIn(4),
    ask: fc.constantFrom<Step['ask']>(
      'keep_alive',
      'keep_alive',
      'keep_alive',
      'keep_alive',
      'close',
      'http10',
    ),
    leave: fc.constantFrom<Step['leave']>(
      'stay',
      'stay',
      'stay',
      'stay',
      'stay',
      'stay',
      'stay',
      'stay',
      'after_head',
      'before_head',
    ),
  })
  .map((step): Step => {
    if (step.leave === 'after_head') return { ...step, refused: false, script: ['slow_body'] };
    if (step.leave === 'before_head') return { ...step, refused: false, script: ['never'] };
    return step;
  });

let run = 0;
test('the failure contract holds for every request of a fuzzed sequence, and no failure leaks into the next', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(STEP, { minLength: 20, maxLength: 60 }), async (steps) => {
      await runSteps(steps, run++);
    }),
    { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 40_000 * FACTOR, markInterruptAsFailure: false },
  );
});
