import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { requestIdsFor } from '../../core/ids/ids.ts';
import { continueOrStartTrace } from '../../core/ids/traceparent.ts';
import { type Release, releaseOnClose } from '../../core/limits/count.ts';
import { unmapIPv4 } from '../../core/net/trust.ts';
import { logRequest } from '../../observe/log/access-log.ts';
import { RequestRecord } from '../../observe/log/request-record.ts';
import type { Origin } from '../../observe/metrics/catalog.ts';
import { endServerSpan, type RequestSpans, startServerSpan } from '../../observe/tracing/spans.ts';
import type { RawRequestInfo } from '../accept/client-error.ts';
import { wasCutByDrain } from '../accept/connection-drain.ts';
import { markInDoubt } from '../accept/in-flight.ts';
import { type ListenerFacts, upgradesTo } from '../accept/listener.ts';
import { checkRequest, hasRequestBody } from '../accept/request-checks.ts';
import {
  ALLOW,
  type ErrorResponseFacts,
  writeErrorResponse,
  writeRawErrorResponse,
} from '../decide/error-response.ts';
import { type HeaderEdit, headerEdit, type TemplateVars } from '../forward/header-rules.ts';
import { RedirectAnswer } from '../route/redirect.ts';
import { hostnameOf, splitTarget } from '../route/request-target.ts';
import { type Admitted, admit } from './admit.ts';
import { Attempts } from './attempts.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { Runtime } from './runtime.ts';

/** Refusals after which the request's framing may not have been consumed: the connection cannot be trusted. */
const CLOSING_STATUSES = new Set([400, 408, 413, 414, 431, 501, 505]);

/**
 * One request, from the moment Node hands it over to its log line: a plain request and an
 * upgrade alike (an upgrade differs only in its forward step, a tunnel after a 101).
 *
 * The session alone writes the record's status, answers the gateway's own errors (the one
 * error writer) and writes the log line, exactly once, when the downstream response closes.
 * The phases run in order from `run()`: accept checks → route and admit (admit.ts) →
 * select, forward and decide for each attempt (attempts.ts) → log.
 */
export class RequestSession implements AttemptsOwner {
  readonly runtime: Runtime;
  readonly listener: ListenerFacts;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  /** The request's spans; undefined when tracing is off. */
  readonly spans: RequestSpans | undefined;
  /** An upgrade's bytes after the request head: the new protocol's first, sent on after a 101. */
  readonly upgradeHead: Buffer | undefined;
  #attempts: Attempts | undefined;
  /** The route, once routing found one: its response rules apply to every answer. */
  #route: RouteConfig | undefined;
  /** Gives back the admission slots (once; also on close). */
  #release: Release | undefined;
  /** The accept phase refused the request: whatever it sent after its head cannot be trusted. */
  #refusedAtAccept = false;
  /** Node refused a head the upstream sent (defence in depth): the response object is spent. */
  #responseSpent = false;
  #logged = false;

  private constructor(
    runtime: Runtime,
    listener: ListenerFacts,
    req: IncomingMessage,
    res: ServerResponse,
    upgradeHead: Buffer | undefined,
  ) {
    this.runtime = runtime;
    this.listener = listener;
    this.req = req;
    this.res = res;
    this.upgradeHead = upgradeHead;
    this.record = recordOf(req, runtime);
    this.spans = startServerSpan(runtime.tracing, this.record, req, listener.protocol);
    // RFC 9112 §9.3: a proxy must not keep a persistent connection with an HTTP/1.0 client.
    if (req.httpVersionMinor === 0) res.shouldKeepAlive = false;
    res.once('close', this.#onClose);
  }

  /** A request Node parsed, with its response object. */
  static request(runtime: Runtime, listener: ListenerFacts, req: IncomingMessage, res: ServerResponse): void {
    new RequestSession(runtime, listener, req, res, undefined).#run();
  }

  /**
   * An upgrade (or CONNECT): Node has stopped parsing the connection and handed over the bare
   * socket. The session answers on it through a response object of its own, so that an
   * upstream that declines the upgrade is relayed like any response; the connection then closes,
   * because nothing parses what the client sends next.
   */
  static upgrade(
    runtime: Runtime,
    listener: ListenerFacts,
    req: IncomingMessage,
    socket: Socket,
    head: Buffer | undefined,
  ): void {
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => socket.destroySoon());
    // The listener keeps h2c and upgrades with a body off this path (shouldUpgradeCallback,
    // Node ≥ 24.9); an older Node sends them here all the same. h2c is answered as the plain
    // request it also is; a body cannot be framed once Node stopped parsing: refused.
    if (req.method !== 'CONNECT' && upgradesTo(req, 'h2c')) head = undefined;
    const session = new RequestSession(runtime, listener, req, res, head);
    if (head !== undefined && hasRequestBody(req)) {
      session.#refusedAtAccept = true;
      return session.answer(
        new Failure('http_request_error', 'an upgrade request with a body is not supported', { status: 400 }),
      );
    }
    session.#run();
  }

  /** Node's parser refused a request before there was a request object: answered on the socket, logged like any other. */
  static refused(runtime: Runtime, socket: Socket, failure: Failure, info: RawRequestInfo): void {
    const clientAddress = unmapIPv4(socket.remoteAddress ?? '');
    const ids = requestIdsFor(info.requestId, runtime.trust.has(clientAddress));
    const record = new RequestRecord(
      ids.id,
      continueOrStartTrace(undefined),
      clientAddress,
      info.method,
      info.host ?? '',
      info.path.slice(0, 256),
    );
    record.clientRequestId = ids.clientId;
    record.failure = failure;
    record.status = failure.status;
    writeRawErrorResponse(socket, failure, {
      proxyName: runtime.name,
      requestId: record.id,
      accept: info.accept,
      nextHop: undefined,
      head: info.method === 'HEAD',
      close: true,
    });
    logRequest(runtime.logger, record);
    runtime.metrics.requestEnded(record, 'gateway');
    endServerSpan(
      startServerSpan(runtime.tracing, record, undefined, 'encrypted' in socket ? 'https' : 'http'),
      record,
    );
  }

  #run(): void {
    try {
      this.#phases();
    } catch (err) {
      // A bug must cost one request a 500, never the process.
      this.answer(
        new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }),
      );
    }
  }

  #phases(): void {
    const { runtime, req } = this;
    // accept: what Node's parser lets through that a careful server must refuse.
    const refused = checkRequest(req, runtime.config.limits);
    if (refused) {
      this.#refusedAtAccept = true;
      return this.answer(refused);
    }
    // RFC 9110 §9.3.7, §7.6.2: `OPTIONS *` asks about this server, and an OPTIONS whose
    // Max-Forwards is spent must be answered by its recipient: Candor is both.
    if (req.method === 'OPTIONS' && (req.url === '*' || maxForwardsSpent(req))) return this.#answerOptions();
    // route → admit (a cluster's shared rate limit answers later: the phases go on from there)
    const admitted = admit(runtime, req, this.record, this.listener, this);
    if (!(admitted instanceof Promise)) return this.#forward(admitted);
    // A bug must cost one request a 500, never the process (as in #run).
    admitted
      .then((decided) => this.#forward(decided))
      .catch((err) =>
        this.answer(
          new Failure('proxy_internal_error', 'internal error while handling the request', { cause: err }),
        ),
      );
  }

  #forward(admitted: Admitted | Failure | RedirectAnswer): void {
    const { res } = this;
    if (admitted instanceof Failure) return this.answer(admitted);
    if (admitted instanceof RedirectAnswer) return this.#redirect(admitted);
    // The client left while the admission was asked: nothing to forward; the slots go back.
    if (res.destroyed) return admitted.release();
    // The admission slots are held until the response closes (an upgrade gives them back
    // once its tunnel is up: see tunnelled()).
    releaseOnClose(res, admitted.release);
    this.#release = admitted.release;
    // select → forward → decide, per attempt
    this.#attempts = new Attempts(this, admitted);
    this.#attempts.start();
  }

  // ── what the later phases report ────────────────────────────────────────────────

  /** Routing found the request's route (admit.ts). */
  routed(route: RouteConfig): void {
    this.#route = route;
  }

  /** The upstream's head went downstream with this status. */
  responded(status: number): void {
    this.record.status = status;
  }

  /** The failure the request ended with, for the log (answered or not: see answer()). */
  failed(failure: Failure): void {
    this.record.failure = failure;
  }

  /** The client went away before the exchange was over. */
  clientLeft(): void {
    this.record.clientAborted = true;
  }

  /** The upstream switched protocols and the tunnel is up: the request's slots go back, the connection lives on. */
  tunnelled(status: number): void {
    this.record.status = status;
    this.record.upgraded = true;
    this.#release?.();
  }

  /** Node refused to write a head the upstream sent: the response object must not be used again. */
  responseSpent(): void {
    this.#responseSpent = true;
  }

  /**
   * The decide phase's answer for a failure before anything went downstream: the one place a
   * gateway-made error response is written.
   */
  answer(failure: Failure): void {
    const { record, req, res } = this;
    this.failed(failure);
    if (record.clientAborted) return;
    record.status = failure.status;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const facts: ErrorResponseFacts = {
      proxyName: this.runtime.name,
      requestId: record.id,
      accept: req.headers.accept,
      nextHop: failure.kind.shape === 'client' ? undefined : this.nextHop(),
      editHeaders: this.responseEdit(),
      head: req.method === 'HEAD',
      // An unread body is not worth reading, and a refused request leaves the stream in doubt.
      close:
        this.#refusedAtAccept ||
        this.#responseSpent ||
        (hasRequestBody(req) && !req.complete) ||
        CLOSING_STATUSES.has(failure.status),
    };
    const socket = res.socket;
    // req.socket is gone when the body was failed from outside (failRequestBody).
    const connection = socket ?? req.socket;
    if (facts.close && connection !== null) markInDoubt(connection);
    if (this.#responseSpent) {
      // Node kept part of the refused head's state: the answer is written whole on the socket instead.
      if (socket === null) res.destroy();
      else writeRawErrorResponse(socket, failure, facts);
      return;
    }
    writeErrorResponse(req, res, failure, facts);
  }

  /** The name clients may see for the next hop: the upstream's, or the target's address when exposed. */
  nextHop(): string | undefined {
    const { record } = this;
    return this.runtime.config.errors.exposeUpstreamAddress
      ? (record.target ?? record.upstream)
      : record.upstream;
  }

  /** The route's response rules for this request (undefined: none, or not routed yet). */
  responseEdit(): HeaderEdit | undefined {
    const rules = this.#route?.responseHeaders;
    return rules === undefined ? undefined : headerEdit(rules, this.templateVars());
  }

  /** What the route's header rules' {variables} stand for in this request. */
  templateVars(): TemplateVars {
    const { record } = this;
    return { requestId: record.id, clientIp: record.clientAddress, host: hostnameOf(record.host) };
  }

  /** A route that redirects: the gateway's own answer, logged as such (no upstream, no attempt). */
  #redirect(answer: RedirectAnswer): void {
    const { req, res, record } = this;
    record.status = answer.status;
    const headers = ['location', answer.location, 'content-length', '0', 'x-request-id', record.id];
    // A body the client is still sending is not read: the connection closes after the answer.
    if (hasRequestBody(req) && !req.complete) {
      res.shouldKeepAlive = false;
      headers.push('connection', 'close');
    }
    const edit = this.responseEdit();
    res.writeHead(answer.status, edit === undefined ? headers : edit(headers));
    res.end();
  }

  #answerOptions(): void {
    this.record.status = 200;
    this.res.writeHead(200, { allow: ALLOW, 'content-length': '0', 'x-request-id': this.record.id });
    this.res.end();
  }

  // ── log ──────────────────────────────────────────────────────────────────────────

  readonly #onClose = (): void => {
    const { record, res } = this;
    // Closed before the whole response went out, and not because of a failure of ours or
    // the upstream's: the client left (a tunnel's end is no abort).
    if (!res.writableFinished && !record.upgraded && record.failure === undefined) {
      this.clientLeft();
      if (record.status === 0) record.status = 499;
    }
    this.#attempts?.clientClosed();
    if (!res.writableFinished && !record.upgraded && wasCutByDrain(this.req.socket)) this.#cutByDrain();
    this.#log();
  };

  /**
   * The gateway's drain deadline closed the connection, not the client: the record says so
   * (the exchange was ended the way a client that leaves ends it, so nothing retries it).
   */
  #cutByDrain(): void {
    const { record, res } = this;
    record.clientAborted = false;
    record.failure = new Failure(
      'proxy_internal_response',
      'the gateway was shutting down and its drain deadline passed: it closed the connection',
    );
    if (!res.headersSent) record.status = record.failure.status;
  }

  #log(): void {
    if (this.#logged) return;
    this.#logged = true;
    logRequest(this.runtime.logger, this.record);
    this.runtime.metrics.requestEnded(this.record, originOf(this.record));
    endServerSpan(this.spans, this.record);
  }
}

/**
 * Who made the answer the request ended with: the upstream when its head went downstream
 * (the last attempt has its status), the client when it left before any answer, else the
 * gateway. Read off the record, which already says it: nothing is re-derived.
 */
function originOf(record: RequestRecord): Origin {
  const last = record.tries[record.tries.length - 1];
  if (last !== undefined && last.status !== undefined) return 'upstream';
  if (record.clientAborted && (record.status === 499 || record.status === 0)) return 'client';
  return 'gateway';
}

function recordOf(req: IncomingMessage, runtime: Runtime): RequestRecord {
  const { 'x-request-id': idHeader, traceparent } = req.headers;
  const clientAddress = unmapIPv4(req.socket.remoteAddress ?? '');
  const ids = requestIdsFor(
    typeof idHeader === 'string' ? idHeader : undefined,
    runtime.trust.has(clientAddress),
  );
  const record = new RequestRecord(
    ids.id,
    continueOrStartTrace(typeof traceparent === 'string' ? traceparent : undefined),
    clientAddress,
    req.method ?? '',
    // The host the request is routed by: an absolute-form target's authority wins over Host.
    /^https?:\/\//i.test(req.url ?? '')
      ? splitTarget(req.url ?? '/', '').authority
      : (req.headers.host ?? ''),
    req.url ?? '',
  );
  record.clientRequestId = ids.clientId;
  return record;
}

/** `Max-Forwards: 0` (RFC 9110 §7.6.2): the request must go no further. */
function maxForwardsSpent(req: IncomingMessage): boolean {
  const value = req.headers['max-forwards'];
  return typeof value === 'string' && value.trim() === '0';
}
