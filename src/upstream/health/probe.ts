import type { Socket } from 'node:net';
import type { HealthCheckConfig, TargetConfig, UpstreamProtocol } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { Stage } from '../../core/failure/taxonomy.ts';
import type { Connector } from '../connections/connector.ts';
import type { ExchangeController, ExchangeHandler, UpstreamHead } from '../connections/exchange-contract.ts';
import { H2Session, type H2SessionOwner } from '../connections/h2/h2-session.ts';
import { type ConnectionOwner, UpstreamConnection } from '../connections/http1/connection.ts';
import type { ProbeFailure, ProbeResult } from '../targets/target-state.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../targets/upstream.ts';

export type { ProbeFailure, ProbeResult } from '../targets/target-state.ts';

/** A probe in flight: its outcome, and a way to abandon it (the checks are stopping). */
export interface RunningProbe {
  readonly result: Promise<ProbeResult>;
  cancel(): Promise<void>;
}

type ProbeStage = 'connecting' | Stage;

const USER_AGENT = 'candor-health-check';

/**
 * One health-check request on a connection of its own, opened through the upstream's
 * classifying connector so a failed probe is named exactly as a failed request would be.
 *
 * Why a fresh connection (used once, with Connection: close) rather than the data
 * pool or a kept-alive probe connection: a probe must never wait behind queued requests;
 * each probe then walks the whole path a new pool connection takes (DNS, TCP, TLS, HTTP),
 * so a target that keeps its old connections but accepts no new ones is seen as down; an
 * idle probe connection would race the upstream's keep-alive timeout (intervals are often
 * longer) and fail for nothing; and a probe that times out is abandoned by destroying its
 * socket, which also cancels a connect still in progress. The cost, one handshake per target
 * per interval, is small at health-check rates. This is HAProxy's default too.
 */
export function startProbe(
  target: TargetConfig,
  check: HealthCheckConfig,
  connect: Connector,
  protocol: UpstreamProtocol = 'http1',
): RunningProbe {
  const probe = new Probe(target, check, connect, protocol);
  return { result: probe.result, cancel: () => probe.cancel() };
}

/** The probe's timer bounds the whole exchange: the connection's own timers never fire first. */
const NEVER = 2_147_483_647;

/**
 * How much of an answer's body a probe reads. Within it, the body must come whole (a body cut
 * short or stalled is a broken answer, as for a request); past it, the status alone decides and
 * the connection is closed: a health endpoint that answers a 100 MB dump or streams forever
 * would otherwise cost its whole body every interval (HAProxy judges a check on what one
 * buffer holds, too).
 */
const BODY_READ_LIMIT = 64 * 1024;

/** A probe's connection carries one request and is closed: there is no pool to go back to. */
const THROWAWAY: ConnectionOwner = {
  release: (connection) => connection.destroy(),
  discard: () => {},
  idleClosed: () => {},
};

/** The same for an HTTP/2 probe: its session carries one stream and goes with the socket. */
const THROWAWAY_H2: H2SessionOwner = { streamEnded: () => {}, sessionEnded: () => {} };

class Probe implements ExchangeHandler {
  readonly result: Promise<ProbeResult>;
  private readonly check: HealthCheckConfig;
  private readonly socket: Socket;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private stage: ProbeStage = 'connecting';
  private status: number | undefined;
  private bodyBytes = 0;
  private settled = false;
  private resolve!: (result: ProbeResult) => void;

  constructor(
    target: TargetConfig,
    check: HealthCheckConfig,
    connect: Connector,
    protocol: UpstreamProtocol,
  ) {
    this.check = check;
    this.result = new Promise((resolve) => {
      this.resolve = resolve;
    });
    // Timers run before I/O in each turn of the event loop: after a stall of the gateway's
    // own, an answer that is already waiting is read (setImmediate runs after the poll)
    // before the upstream is blamed for the gateway's lag.
    this.timer = setTimeout(() => setImmediate(() => this.fail(this.timeoutFailure())), check.timeout);
    this.timer.unref();
    this.socket = connect(
      { hostname: target.hostname, protocol: target.protocol, port: String(target.port) },
      (err, socket) => {
        if (err !== null || socket === null) return this.fail(err ?? this.timeoutFailure());
        if (this.settled) return socket.destroy();
        const connectMs = performance.now() - this.started;
        const options = {
          authority: hostOf(target),
          timeouts: { head: NEVER, headName: 'response timeout' as const, read: NEVER, send: NEVER },
          idleTimeout: 0,
          maxHeaderSize: UPSTREAM_MAX_HEADER_SIZE,
        };
        // An HTTP/2 upstream is probed over HTTP/2, as its requests go: one stream on a session of its own.
        const connection =
          protocol === 'http1'
            ? new UpstreamConnection(socket, connectMs, THROWAWAY, options)
            : new H2Session(socket, connectMs, THROWAWAY_H2, {
                ...options,
                scheme: target.protocol === 'https:' ? 'https' : 'http',
                maxStreams: 1,
              }).reserve();
        connection.dispatch(
          {
            method: check.method,
            path: check.path,
            // Connection: close — the upstream need not keep a connection nobody will reuse.
            headers: ['host', serviceHost(check, target), 'user-agent', USER_AGENT, 'connection', 'close'],
            body: { kind: 'none' },
          },
          this,
        );
      },
    );
  }

  cancel(): Promise<void> {
    this.settle({ ok: false, at: performance.now(), ms: this.elapsed() });
    return Promise.resolve();
  }

  onRequestStart(): void {
    this.stage = 'sent';
  }

  onBodyChunk(): void {}

  onRequestSent(): void {}

  onInformational(): void {}

  onResponseStart(_controller: ExchangeController, head: UpstreamHead): void {
    this.stage = 'head_received';
    this.status = head.status;
  }

  onResponseData(_controller: ExchangeController, chunk: Buffer): void {
    // What the body says is the status's business: it only has to arrive whole, up to the bound.
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > BODY_READ_LIMIT) this.judge();
  }

  onResponseEnd(): void {
    this.judge();
  }

  /** The verdict of the answer's status (settling closes the connection, whatever of the body is left). */
  private judge(): void {
    const status = this.status as number;
    if (this.check.expectStatus.some(([low, high]) => status >= low && status <= high)) {
      this.settle({ ok: true, at: performance.now(), ms: this.elapsed(), status });
      return;
    }
    this.fail({
      type: 'unexpected_status',
      shape: 'status',
      details: `health check answered ${status}, expected ${describeRanges(this.check.expectStatus)}`,
    });
  }

  onResponseError(_controller: ExchangeController | undefined, failure: Failure): void {
    this.fail(failure.at(this.stage === 'connecting' ? 'not_sent' : this.stage));
  }

  private timeoutFailure(): Failure {
    const after = `after ${this.check.timeout} ms (health check timeout)`;
    if (this.stage === 'connecting') return new Failure('connection_timeout', `not connected ${after}`);
    if (this.stage === 'sent')
      return new Failure('http_response_timeout', `no response head ${after}`, { stage: 'sent' });
    return new Failure('connection_read_timeout', `response body not complete ${after}`, {
      stage: 'head_received',
    });
  }

  private fail(failure: ProbeFailure): void {
    this.settle({
      ok: false,
      at: performance.now(),
      ms: this.elapsed(),
      ...(this.status === undefined ? {} : { status: this.status }),
      failure: { type: failure.type, shape: failure.shape, details: failure.details },
    });
  }

  private settle(result: ProbeResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(result);
    // Success or not, this connection has served its one request.
    this.socket.destroy();
  }

  private elapsed(): number {
    return performance.now() - this.started;
  }
}

/** The Host header a request to this target would carry: host:port, IPv6 in brackets. */
function hostOf(target: TargetConfig): string {
  return new URL(target.origin).host;
}

/**
 * The Host a target is asked with as the service it is, not as a client's site: its upstream's
 * `health_check.host`, else its own authority. Its probes use it, and so does a forward-auth
 * call to it, so a front that routes by Host takes both to the same place.
 */
export function serviceHost(check: { readonly host?: string } | undefined, target: TargetConfig): string {
  return check?.host ?? hostOf(target);
}

export function describeRanges(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(', ');
}
