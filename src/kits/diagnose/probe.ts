/**
 * One probe of one target: DNS → TCP → TLS → request → response head → body, stopping at the
 * first hop that fails, each step handed to `emit` as soon as it is known.
 */
import type { Socket } from 'node:net';
import { formatSize } from '../../core/config/units.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { type Identification, printableBytes } from '../../core/http1/impostors.ts';
import { upstreamHeadOf } from '../../upstream/connections/http1/upstream-head.ts';
import { headerNotes, headerPairs, INTERIM_FLOOD, interimNote } from './answer-reader.ts';
import { connectStep } from './connect-step.ts';
import type { ProbeContext } from './context.ts';
import { probeH2 } from './h2-probe.ts';
import { formatMs, headClockOf, type ProbePlan, planUrl, since, stillStreaming } from './plan.ts';
import { checkProtocols } from './protocol-check.ts';
import { readBody } from './read-body.ts';
import { readHead } from './read-head.ts';
import { buildRequest } from './request.ts';
import { resolveStep } from './resolve-step.ts';
import { secondLookBudget, tryPlaintext, tryTls } from './second-look.ts';
import { SocketFeed } from './socket-feed.ts';
import { strayNotes } from './stray-bytes.ts';
import type { Step, TargetReport } from './types.ts';
import { decideVerdict } from './verdict.ts';

export async function probe(plan: ProbePlan, emit: (step: Step) => void = () => {}): Promise<TargetReport> {
  const started = performance.now();
  const steps: Step[] = [];
  const push = (step: Step) => {
    steps.push(step);
    emit(step);
  };
  const context: ProbeContext = { plan };
  const finish = (failure?: Failure): TargetReport => ({
    url: planUrl(plan),
    upstream: plan.upstream,
    viaGateway: plan.viaGateway,
    protocol: plan.httpVersion,
    steps,
    verdict: decideVerdict(context, failure),
    totalMs: since(started),
    ...(context.protocols === undefined ? {} : { protocols: context.protocols }),
  });

  const resolved = await resolveStep(plan.hostname, plan.timeouts.connect);
  push(resolved.step);
  if (resolved.failure) return finish(resolved.failure);
  const connected = await connect(plan, context, resolved, push);
  if (connected.socket === undefined) return finish(connected.failure);
  const { socket, address, budget } = connected;
  const run: Run = { plan, context, push, address, budget };
  try {
    if (plan.httpVersion === 'http1') return finish(await exchangeHttp1(run, socket));
    const failure = await probeH2(socket, context, push, budget);
    await lookAtProtocols(run, failure);
    return finish(failure);
  } finally {
    socket.destroy();
  }
}

/** What the steps after the connection share: the plan, what was learned, and the time a second look may take. */
interface Run {
  readonly plan: ProbePlan;
  readonly context: ProbeContext;
  readonly push: (step: Step) => void;
  /** The address connected to. */
  readonly address: string;
  /** The time a second look (plaintext, TLS, protocols) may take. */
  readonly budget: number;
}

type Connection =
  | { readonly socket: Socket; readonly address: string; readonly budget: number }
  | { readonly socket?: undefined; readonly failure: Failure | undefined };

/** Hops 2 and 3, TCP and TLS: the socket, or the failure with its step shown after its second look. */
async function connect(
  plan: ProbePlan,
  context: ProbeContext,
  resolved: Awaited<ReturnType<typeof resolveStep>>,
  push: (step: Step) => void,
): Promise<Connection> {
  // A failed step waits for the second look, so that its note prints with it.
  let failedStep: Step | undefined;
  const connected = await connectStep(
    plan,
    resolved.addresses,
    plan.timeouts.connect - (resolved.step.ms ?? 0),
    (step) => {
      if (step.step === 'tls') context.tls = step.facts;
      if (step.ok) push(step);
      else failedStep = step;
    },
  );
  context.address = connected.address;
  const budget = secondLookBudget(connected.tcpMs, plan.timeouts.connect);
  if (!connected.failure && connected.socket)
    return { socket: connected.socket, address: connected.address, budget };
  if (connected.failure?.type === 'tls_protocol_error' && failedStep?.step === 'tls') {
    context.identification = await tryPlaintext(
      connected.address,
      plan.port,
      buildRequest(plan, '').bytes,
      budget,
    );
  }
  if (failedStep) push(noted(failedStep, context.identification));
  // Only a TLS handshake that failed has something to say about protocols (ALPN): nothing
  // answered a refused or timed-out TCP connect, in either protocol.
  if (failedStep?.step === 'tls')
    await lookAtProtocols({ plan, context, push, address: connected.address, budget }, connected.failure);
  return { failure: connected.failure };
}

/** Hops 4 to 6 over HTTP/1.1: the request, the response head, the body. */
async function exchangeHttp1(run: Run, socket: Socket): Promise<Failure | undefined> {
  const { plan, context } = run;
  const feed = new SocketFeed(socket);
  const writtenAt = await sendRequest(run, socket);
  const read = await readHead(feed, plan.method, writtenAt, {
    ms: plan.timeouts.answer,
    name: headClockOf(plan),
  });
  const interim = interimNote(read.reader.interim);
  context.identification = read.identification;
  context.badLine = read.badLine;
  context.largestField = read.largestField;
  if (!read.head) return noHead(run, read, writtenAt, interim);
  const failure = headStep(run, read, read.head, writtenAt, interim);
  if (failure) return failure;
  return bodyStep(run, feed, read.reader, writtenAt);
}

/** Writes the request; its step, and when it was written (the response is timed from it). */
async function sendRequest({ plan, context, push }: Run, socket: Socket): Promise<number> {
  const request = buildRequest(plan, socket.localAddress ?? '');
  context.requestId = request.requestId;
  const writeStarted = performance.now();
  await new Promise<void>((resolve) => socket.write(request.bytes, () => resolve()));
  const writtenAt = performance.now();
  const requestId = request.requestId ? `, x-request-id ${request.requestId}` : '';
  push({
    step: 'request',
    ok: true,
    ms: since(writeStarted),
    summary: `${plan.method} ${plan.path} over HTTP/1.1 (Host: ${plan.host}${requestId}), ${request.bytes.length} bytes`,
    notes: [],
    facts: {
      method: plan.method,
      target: plan.path,
      headers: request.headers,
      bytes: request.bytes.length,
    },
  });
  return writtenAt;
}

type HeadRead = Awaited<ReturnType<typeof readHead>>;

/** No head came, or none the parser took: what did come is shown, and named when it can be. */
async function noHead(run: Run, read: HeadRead, writtenAt: number, interim: string[]): Promise<Failure> {
  const { plan, context, push } = run;
  const failure = read.failure as Failure;
  if (failure.type === 'connection_terminated' && read.received.length === 0 && plan.protocol === 'http:') {
    context.identification = await tryTls(run.address, plan.port, undefined, run.budget);
  }
  const firstBytes = read.received.length > 0 ? printableBytes(read.received) : undefined;
  const shown =
    read.badLine === undefined
      ? firstBytes && `received: ${firstBytes}`
      : `offending line: ${printableBytes(Buffer.from(read.badLine, 'latin1'))}`;
  const firstByte =
    read.ttfbMs !== undefined && !/ after /.test(failure.details)
      ? `, first byte after ${formatMs(read.ttfbMs)}`
      : '';
  const step: Step = {
    step: 'response',
    ok: false,
    ms: since(writtenAt),
    summary: `${failure.details}${firstByte}`,
    // Refused past the head limit, the gateway reads on no more: the note would say it does.
    notes: [...(shown === undefined ? [] : [shown]), ...(INTERIM_FLOOD.test(failure.details) ? [] : interim)],
    facts: {
      informational: read.informational,
      ttfbMs: read.ttfbMs,
      identified: context.identification?.what,
      firstBytes,
    },
  };
  push(noted(step, failure.type === 'connection_terminated' ? context.identification : undefined));
  await lookAtProtocols(run, failure);
  return failure;
}

/** An accepted head, or one refused only for its body framing: shown whole either way. */
function headStep(
  { context, push }: Run,
  read: HeadRead,
  head: NonNullable<HeadRead['head']>,
  writtenAt: number,
  interim: string[],
): Failure | undefined {
  const { failure, statusLine } = read;
  context.head = upstreamHeadOf(head);
  const headers = headerPairs(head);
  const ttfb = `first byte after ${formatMs(read.ttfbMs ?? 0)}`;
  push({
    step: 'response',
    ok: failure === undefined,
    ms: since(writtenAt),
    summary: failure
      ? `${statusLine}: ${failure.details}`
      : `${statusLine}, ${headers.length} headers, ${ttfb}`,
    notes: [...interim, ...headerNotes(headers)],
    facts: {
      statusLine,
      status: head.status,
      headers,
      informational: read.informational,
      ttfbMs: read.ttfbMs,
      headBytes: read.headBytes,
    },
  });
  return failure;
}

/** Hop 6, the body, read up to --max-body; a whole one over TLS asks whether h2 is offered too. */
async function bodyStep(
  run: Run,
  feed: SocketFeed,
  reader: HeadRead['reader'],
  writtenAt: number,
): Promise<Failure | undefined> {
  const { plan, context } = run;
  const body = await readBody(feed, reader, {
    readTimeout: plan.timeouts.read,
    maxBody: plan.maxBody,
    writtenAt,
  });
  context.body = body;
  run.push({
    step: 'body',
    ok: body.failure === undefined,
    ms: body.ms,
    summary: describeBody(body, plan.maxBody, plan.timeouts.read),
    notes: strayNotes(context),
    facts: {
      framing: body.framing,
      bytes: body.bytes,
      expected: body.expected,
      complete: body.complete,
      capped: body.capped,
      ...(body.cappedBy === undefined ? {} : { cappedBy: body.cappedBy }),
    },
  });
  if (body.failure === undefined) await noteAlsoH2(run);
  return body.failure;
}

/** Before the verdict: which protocols the target speaks, when the plan's or the failure asks. */
async function lookAtProtocols({ plan, context, address, budget }: Run, failure: Failure | undefined) {
  if (plan.viaGateway || !(plan.httpVersion !== 'http1' || mayBeProtocolMismatch(failure, context))) return;
  context.protocols = await checkProtocols(plan, address, budget);
}

/**
 * An HTTP/1.1 target over TLS that answered: whether it offers h2 by ALPN as well, said only
 * when it does (protocol: h2 would carry many requests on one connection).
 */
async function noteAlsoH2({ plan, context, address, budget }: Run) {
  if (plan.viaGateway || plan.httpVersion !== 'http1' || plan.protocol !== 'https:') return;
  const protocols = await checkProtocols(plan, address, budget);
  if (protocols.http1 === true && protocols.h2 === true) context.protocols = protocols;
}

function noted(step: Step, found: Identification | undefined): Step {
  return found ? { ...step, notes: [...step.notes, `second look: ${found.evidence}: ${found.what}`] } : step;
}

/**
 * Failures an HTTP/1.1 probe of an HTTP/2-only target meets: its answer is an HTTP/2 frame, or
 * its TLS refuses http/1.1 by ALPN. (An SSH banner needs no look at protocols.)
 */
function mayBeProtocolMismatch(failure: Failure | undefined, context: ProbeContext): boolean {
  if (failure === undefined) return false;
  if (failure.type === 'http_protocol_error')
    return context.identification?.what.startsWith('an HTTP/2') === true;
  return failure.type === 'tls_alert_received' && failure.params.alertMessage === 'no_application_protocol';
}

function describeBody(
  body: Awaited<ReturnType<typeof readBody>>,
  maxBody: number,
  readTimeout: number,
): string {
  const of = body.expected === undefined ? '' : ` of ${body.expected}`;
  const framing = body.framing === 'none' ? 'no body' : body.framing;
  if (body.failure) return `${body.failure.details} (${body.bytes}${of} bytes, ${framing})`;
  if (body.cappedBy === 'time')
    return `${stillStreaming(readTimeout)} (${body.bytes}${of} bytes read, ${framing}); not an error`;
  if (body.capped)
    return `stopped reading past --max-body ${formatSize(maxBody)} (${body.bytes}${of} bytes read, ${framing}); not an error`;
  if (body.framing === 'none') return `no body (none expected), in ${formatMs(body.ms)}`;
  return `${body.bytes} bytes, ${framing}, complete, in ${formatMs(body.ms)}`;
}
