/**
 * Hops 4 to 6 over HTTP/2 (an upstream whose protocol is h2c or h2): the request goes out on a
 * stream of the gateway's own HTTP/2 session code, so a refused stream, a GOAWAY, a reset or an
 * answer that is not HTTP/2 is named exactly as the gateway would name it. An answer that is not
 * HTTP/2 at all (no SETTINGS frame before it) gets a second look, which names what answered;
 * interim answers and header values are held to the same bounds as over HTTP/1.1.
 */
import type { Socket } from 'node:net';
import { formatSize } from '../../core/config/units.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { MAX_INTERIM } from '../../proxy/forward/exchange-options.ts';
import type {
  ExchangeController,
  ExchangeHandler,
  UpstreamHead,
} from '../../upstream/connections/exchange-contract.ts';
import { H2Session } from '../../upstream/connections/h2/h2-session.ts';
import { UPSTREAM_MAX_HEADER_SIZE } from '../../upstream/targets/upstream.ts';
import { headerNotes, INTERIM_FLOOD, interimNote } from './answer-reader.ts';
import type { ProbeContext } from './context.ts';
import { formatMs, headClockOf, since, stillStreaming } from './plan.ts';
import { buildRequest } from './request.ts';
import { tryPreface } from './second-look.ts';
import type { Step } from './types.ts';

const SNIFF = 64 * 1024;

/** `secondLookMs`: how long the second look at an answer that is not HTTP/2 may take. */
export function probeH2(
  socket: Socket,
  context: ProbeContext,
  push: (step: Step) => void,
  secondLookMs: number,
): Promise<Failure | undefined> {
  const { plan } = context;
  const request = buildRequest(plan, socket.localAddress ?? '');
  context.requestId = request.requestId;
  const session = new H2Session(
    socket,
    0,
    { streamEnded: () => {}, sessionEnded: () => {} },
    {
      scheme: plan.protocol === 'https:' ? 'https' : 'http',
      authority: plan.host,
      timeouts: {
        head: plan.timeouts.answer,
        headName: headClockOf(plan),
        read: plan.timeouts.read,
        send: plan.timeouts.read,
      },
      maxStreams: 1,
      idleTimeout: 0,
      maxHeaderSize: UPSTREAM_MAX_HEADER_SIZE,
    },
  );
  // The target's SETTINGS frame is its answer to the preface: without one, it never spoke HTTP/2.
  context.h2Settings = false;
  session.session.once('remoteSettings', () => {
    context.h2Settings = true;
  });
  return new Promise((resolve) => {
    const handler = new ProbeStream(context, push, session, request, secondLookMs, resolve);
    session
      .reserve()
      .dispatch(
        { method: plan.method, path: plan.path, headers: request.fields, body: { kind: 'none' } },
        handler,
      );
  });
}

/** The probe's one stream: each of the exchange's events told as a step, the probe settled once. */
class ProbeStream implements ExchangeHandler {
  readonly #context: ProbeContext;
  readonly #plan: ProbeContext['plan'];
  readonly #push: (step: Step) => void;
  readonly #session: H2Session;
  readonly #request: ReturnType<typeof buildRequest>;
  readonly #secondLookMs: number;
  readonly #resolve: (failure: Failure | undefined) => void;
  #writtenAt = performance.now();
  #headAt = 0;
  #head: UpstreamHead | undefined;
  #bytes = 0;
  readonly #sniff: Buffer[] = [];
  /** The statuses of the first interim answers (as many as the gateway relays), and how many came. */
  readonly #informational: number[] = [];
  #interimCount = 0;
  #over = false;

  constructor(
    context: ProbeContext,
    push: (step: Step) => void,
    session: H2Session,
    request: ReturnType<typeof buildRequest>,
    secondLookMs: number,
    resolve: (failure: Failure | undefined) => void,
  ) {
    this.#context = context;
    this.#plan = context.plan;
    this.#push = push;
    this.#session = session;
    this.#request = request;
    this.#secondLookMs = secondLookMs;
    this.#resolve = resolve;
  }

  onRequestStart(): void {
    const plan = this.#plan;
    const request = this.#request;
    this.#writtenAt = performance.now();
    const label = plan.httpVersion === 'h2' ? 'HTTP/2 (h2)' : 'HTTP/2 (h2c)';
    const requestId = request.requestId ? `, x-request-id ${request.requestId}` : '';
    this.#push({
      step: 'request',
      ok: true,
      ms: 0,
      summary: `${plan.method} ${plan.path} over ${label} (:authority ${plan.host}${requestId}), ${request.headers.length} fields`,
      notes: [],
      facts: { method: plan.method, target: plan.path, headers: request.headers, bytes: 0 },
    });
  }

  onBodyChunk(): void {}

  onRequestSent(): void {}

  onInformational(interim: UpstreamHead): void {
    // A server may send interim answers without end: the gateway relays the first few.
    this.#interimCount++;
    if (this.#informational.length < MAX_INTERIM.count) this.#informational.push(interim.status);
  }

  onResponseStart(_controller: ExchangeController, answer: UpstreamHead): void {
    this.#head = answer;
    this.#context.head = answer;
    this.#headAt = performance.now();
    const ttfbMs = since(this.#writtenAt);
    const headers: Array<readonly [string, string]> = [];
    for (let i = 0; i < answer.headers.length; i += 2)
      headers.push([answer.headers[i], answer.headers[i + 1]]);
    const statusLine = `HTTP/2 ${answer.status}`;
    this.#push({
      step: 'response',
      ok: true,
      ms: ttfbMs,
      summary: `${statusLine}, ${headers.length} headers, first byte after ${formatMs(ttfbMs)}`,
      notes: [...interimNote({ count: this.#interimCount }), ...headerNotes(headers)],
      facts: { statusLine, status: answer.status, headers, informational: this.#informational, ttfbMs },
    });
  }

  onResponseData(_controller: ExchangeController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    const before = this.#bytes - chunk.length;
    if (before < SNIFF) this.#sniff.push(chunk.subarray(0, SNIFF - before));
    if (this.#bytes > this.#plan.maxBody && !this.#over) this.#bodyStep(undefined, 'size');
    // A stream that never ends but is never silent would hold the probe for days short of
    // --max-body: past the read timeout in all, reading stops there, as at the cap (read-body.ts).
    else if (!this.#over && since(this.#headAt) >= this.#plan.timeouts.read)
      this.#bodyStep(undefined, 'time');
  }

  onResponseEnd(): void {
    if (!this.#over) this.#bodyStep(undefined, false);
  }

  onResponseError(_controller: ExchangeController | undefined, failure: Failure): void {
    if (this.#over) return;
    if (this.#head !== undefined) return this.#bodyStep(failure, false);
    void this.#failedBeforeHead(failure);
  }

  #done(failure: Failure | undefined): void {
    if (this.#over) return;
    this.#over = true;
    this.#session.destroy();
    this.#resolve(failure);
  }

  /** No head: the step says why, with what a second look found when the answer was not HTTP/2. */
  async #failedBeforeHead(failure: Failure): Promise<void> {
    const context = this.#context;
    this.#over = true;
    this.#session.destroy();
    // Refused past the head limit, the gateway reads on no more: the note would say it does.
    const notes = INTERIM_FLOOD.test(failure.details) ? [] : interimNote({ count: this.#interimCount });
    const notHttp2 = failure.type === 'http_protocol_error' || failure.type === 'connection_terminated';
    if (!context.h2Settings && notHttp2 && context.address !== undefined) {
      const found = await tryPreface(this.#plan, context.address, this.#secondLookMs);
      context.identification = found;
      if (found) notes.push(`second look: ${found.evidence}: ${found.what}`);
    }
    // A timeout with no SETTINGS come says so in its own details (H2Call): no note repeats it.
    this.#push({
      step: 'response',
      ok: false,
      ms: since(this.#writtenAt),
      summary: failure.details,
      notes,
      facts: { informational: this.#informational, identified: context.identification?.what },
    });
    this.#resolve(failure);
  }

  #bodyStep(failure: Failure | undefined, cappedBy: false | 'size' | 'time'): void {
    const capped = cappedBy !== false;
    const head = this.#head;
    const bytes = this.#bytes;
    const framing = head !== undefined && !head.hasBody ? 'none' : 'http2';
    const expected = head?.bodyLength;
    const ms = since(this.#headAt);
    this.#context.body = {
      framing,
      bytes,
      expected,
      complete: failure === undefined && !capped,
      capped,
      ...(cappedBy === false ? {} : { cappedBy }),
      ms,
      sniff: Buffer.concat(this.#sniff),
    };
    const of = expected === undefined ? '' : ` of ${expected}`;
    this.#push({
      step: 'body',
      ok: failure === undefined,
      ms,
      summary: failure
        ? `${failure.details} (${bytes}${of} bytes, DATA frames)`
        : cappedBy === 'time'
          ? `${stillStreaming(this.#plan.timeouts.read)} (${bytes}${of} bytes read, DATA frames); not an error`
          : capped
            ? `stopped reading past --max-body ${formatSize(this.#plan.maxBody)} (${bytes}${of} bytes read, DATA frames); not an error`
            : framing === 'none'
              ? `no body (none expected), in ${formatMs(ms)}`
              : `${bytes} bytes, DATA frames, complete, in ${formatMs(ms)}`,
      notes: [],
      facts: {
        framing,
        bytes,
        expected,
        complete: failure === undefined && !capped,
        capped,
        ...(cappedBy === false ? {} : { cappedBy }),
      },
    });
    this.#done(failure);
  }
}
