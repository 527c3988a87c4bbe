import type { TargetConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { noRelease } from '../../core/limits/count.ts';
import { type DownstreamHead, fieldMap } from '../../core/net/downstream.ts';
import { type HopTriesHolder, RequestRecord } from '../../observe/log/request-record.ts';
import { callSpansOf, endCallSpans } from '../../observe/tracing/call-spans.ts';
import { serviceHost } from '../../upstream/health/probe.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import type { ServiceAnswer, ServiceCall } from '../stages/service-call.ts';
import { Attempts } from './attempts.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import { KeptAnswerSink } from './kept-answer-sink.ts';
import type { Runtime } from './runtime.ts';
import type { SessionRequest } from './session-request.ts';

/** Bytes of an auth service's answer body kept (what a 401, 403 or redirect passes on); past them the hop failed. */
export const MAX_AUTH_BODY = 64 * 1024;

/**
 * An auth service asked about a client's request, through its upstream by the one attempt loop
 * (attempts.ts) as a client's request goes: the circuit and the balancer pick the target, the
 * pool and its queue bound carry it, the upstream's timeouts, retry rule and budget apply,
 * every attempt's outcome goes to outlier detection and the circuit, and its attempts are
 * counted in the upstream's metrics. Only the deadline is the call's own (`call.deadline`, in
 * place of `timeouts.total`), and it never waits in the upstream's `hold`. The call (an auth
 * service's GET; a plugin's fetch, with its method and body) carries the client's request id, and the fields this hop writes as it does for any request
 * (X-Forwarded-For, -Proto, -Host, Via) from the client's facts.
 *
 * Resolves with the answer once its body is whole, `MAX_AUTH_BODY` at most: an answer its
 * service cut short is no verdict, a 2xx included (a head then a reset is a crash, not a yes).
 * A 2xx past the bound is told as it stands (its body says nothing the gateway reads: the
 * gateway stopped reading, the service did not fail). Rejects with the classified Failure the
 * attempts ended with, or `http_response_incomplete` for a body cut (by its upstream, or a
 * refusal past the bound).
 */
export function askAuthService(
  runtime: Runtime,
  upstream: Upstream,
  call: ServiceCall,
): Promise<ServiceAnswer> {
  return new Promise((resolve, reject) => {
    new AuthCall(runtime, upstream, call, resolve, reject).start();
  });
}

/** The owner of one call's attempts: what a session is to a client's. */
class AuthCall implements AttemptsOwner {
  readonly #req: SessionRequest;
  readonly #sink = new KeptAnswerSink(MAX_AUTH_BODY);
  readonly #attempts: Attempts;
  readonly #resolve: (answer: ServiceAnswer) => void;
  readonly #reject: (failure: Failure) => void;
  /** The upstream's name: the next hop its own 5xx answers name in Proxy-Status (never passed on). */
  readonly #upstreamName: string;
  /** The failure the attempts ended with, or the body's. */
  #failure: Failure | undefined;
  readonly #body: Buffer | undefined;
  /** The hop's name, and the request's list its attempts go to when it retried (the log's `hop_tries`). */
  readonly #hop: string;
  readonly #hopTriesOf: HopTriesHolder | undefined;
  #told = false;

  constructor(
    runtime: Runtime,
    upstream: Upstream,
    call: ServiceCall,
    resolve: (answer: ServiceAnswer) => void,
    reject: (failure: Failure) => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#upstreamName = upstream.name;
    this.#hop = call.hop;
    this.#hopTriesOf = call.client.hopTriesOf;
    const { client, body } = call;
    const method = call.method ?? 'GET';
    this.#body = body;
    const length = body === undefined || body.length === 0 ? undefined : body.length;
    const head: DownstreamHead = {
      method,
      target: call.path,
      versionMajor: 1,
      versionMinor: 1,
      protocol: 'HTTP/1.1',
      headers: length === undefined ? call.headers : [...call.headers, 'content-length', String(length)],
      remoteAddress: client.address,
      encrypted: client.protocol === 'https',
      bodyLength: length,
      upgrade: false,
      expectContinue: false,
      // The head builder tells the service a verified certificate, and drops the client's copies.
      ...(client.clientCertificate === undefined ? {} : { clientCertificate: client.clientCertificate }),
    };
    const sink = this.#sink;
    // The client's trace, continued: the service's traceparent names this gateway's span of
    // the client's request as its parent (traced, the attempt's own span under it), so the call
    // is found in the trace of the request it let in.
    const record = new RequestRecord(
      client.requestId,
      client.trace,
      client.address,
      method,
      client.host,
      call.path,
    );
    this.#req = {
      runtime,
      listener: { name: upstream.name, protocol: client.protocol },
      exchange: { head, body: undefined, bodyComplete: true, bytesRead: 0, answer: sink },
      head,
      fields: fieldMap(head.headers),
      answer: sink,
      record,
      // Each attempt its own client span under the request's server span, named for the hop:
      // the traceparent it sends is that span's, so the service's own spans hang under it.
      spans: callSpansOf(client.spans, method, call.hop),
    };
    const admitted = {
      // Its retry rule and limits: none of its stages meets the call (stageRun), its rules and compression are the client's.
      route: call.route,
      upstream,
      authority: client.host,
      upstreamPath: call.path,
      release: noRelease,
      // Asked as the service it is (the client's host stays in X-Forwarded-Host): a front that
      // routes by Host (an ingress) must take the GET to the service, not to the client's site.
      targetHost: (target: TargetConfig) => serviceHost(upstream.config.healthCheck, target),
      // After the sifting of the client's fields (forward/request-headers.ts): the gateway's own.
      requestEdit: (headers: readonly string[]) => [...headers, ...call.own],
      ownCall: true as const,
    };
    this.#attempts = new Attempts(this.#req, this, admitted, {
      deadlineMs: call.deadline,
      deadlineName: 'timeout',
    });
    sink.onClose(this.#onClose);
  }

  start(): void {
    this.#attempts.start();
  }

  /** Told when the answer closes: a head is no verdict until its body is whole. */
  responded(): void {}

  tunnelled(): void {}

  failed(failure: Failure): void {
    this.#failure = failure;
  }

  /** The sink cut the answer (past its bound): the body's end is told when it closes. */
  clientLeft(): void {}

  /** No attempt answered: the call's failure, and the sink closes (the attempts' slots go back). */
  answer(failure: Failure): void {
    this.#tell(failure);
    this.#sink.abort();
  }

  nextHop(): string {
    return this.#upstreamName;
  }

  /** The answer is the gateway's to read: no route's rules edit it. */
  answerEdit(): undefined {
    return undefined;
  }

  /** A call is the gateway's own: no route's stages meet it. */
  stageRun(): undefined {
    return undefined;
  }

  /** The call's own body, sent whole by every attempt. */
  bodyInHand(): Buffer | undefined {
    return this.#body;
  }

  /** Only a route's stage answers in the upstream's place, and a call has none. */
  answerWith(): void {}

  /** The answer is over: whole, or cut (by its upstream, its deadline, or past the sink's bound). */
  readonly #onClose = (finished: boolean): void => {
    this.#attempts.clientClosed();
    const sink = this.#sink;
    if (finished || (sink.overflowed && sink.status >= 200 && sink.status < 300))
      return this.#tell(sink.answer());
    this.#tell(
      sink.overflowed
        ? new Failure('http_response_incomplete', `its answer's body is over ${MAX_AUTH_BODY / 1024} KiB`, {
            stage: 'body_streaming',
          })
        : (this.#failure ?? new Failure('http_response_incomplete', 'its answer was cut')),
    );
  };

  #tell(outcome: ServiceAnswer | Failure): void {
    if (this.#told) return;
    this.#told = true;
    // A call that retried is told in the request's line, each attempt as the metrics count it and
    // the trace has its span; a lone attempt's outcome is the call's, which the line tells already.
    const { tries } = this.#req.record;
    const holder = this.#hopTriesOf;
    if (tries.length > 1 && holder !== undefined) {
      holder.hopTries ??= [];
      for (const attempt of tries) holder.hopTries.push({ hop: this.#hop, ...attempt });
    }
    // A failure the attempts ended with is on its attempt's span already; the body's is told here.
    endCallSpans(this.#req.spans, outcome instanceof Failure ? outcome : undefined);
    if (outcome instanceof Failure) this.#reject(outcome);
    else this.#resolve(outcome);
  }
}
