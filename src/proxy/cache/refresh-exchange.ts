import type { Failure } from '../../core/failure/failure.ts';
import type { DownstreamExchange, DownstreamHead } from '../../core/net/downstream.ts';
import { InMemorySink } from '../../core/net/in-memory-sink.ts';
import type { BodyCopy, StageRequest } from '../stages/stage.ts';
import type { FillEnd } from './fill.ts';

/**
 * What the gateway fetches in the background, as its log line's `background` says: `refresh`, a
 * stale answer's (stale-while-revalidate); `fill`, the whole answer a GET's Range found nothing
 * stored of (cache-run.ts), which that request waits for and is given its part of.
 */
export type BackgroundFetch = 'refresh' | 'fill';

/** How the log's `the gateway dropped its background …` names each, when its answer is not kept. */
const NAMED: Record<BackgroundFetch, string> = {
  refresh: 'refresh',
  fill: "fetch of a Range's whole answer",
};

/**
 * Fields of the client's request a refresh does not carry: its own validators and range (the
 * cache sends the stored answer's), its cache directives (its `only-if-cached` made a cache
 * behind the gateway answer the refresh with its own 504; its `max-stale` was a wish about this
 * store), its request id and trace (the refresh is a request of its own), and what frames a
 * body it does not have.
 */
const NOT_CARRIED = new Set([
  'cache-control',
  'pragma',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'x-request-id',
  'traceparent',
  'tracestate',
  'content-length',
  'transfer-encoding',
  'expect',
]);

/**
 * The exchange of a stale answer's background refresh (stale-while-revalidate, RFC 5861 §3):
 * a GET of the gateway's own, made from the request that was served the stale answer (its
 * fields, so the route and its access rules judge it the same), through the whole pipeline
 * with a log line of its own. Nobody reads its answer: the sink takes it and lets it go (the
 * cache run stores it, or a 304 refreshes the stored one). `done` ends the key's fetch, which
 * other requests for the key wait on meanwhile: called when the refresh is over, whatever happened.
 * `side`: the upstream the client's request went to, which a split route's refresh goes to too
 * (the stored answer it refreshes is that side's); `madeFor`: that request's id, which the
 * refresh's log line names (no client sent the refresh). A background request to the core
 * (DownstreamExchange.background), whose note only the cache reads (refreshOf). A `fill` is made
 * the same way: its `done` is told how it failed (failedFetch), which the Range waiting on it shares.
 */
export function refreshExchange(
  of: DownstreamHead,
  madeFor: string,
  done: (end?: FillEnd) => void,
  side: string | undefined,
  kind: BackgroundFetch = 'refresh',
): DownstreamExchange {
  const headers: string[] = [];
  for (let i = 0; i < of.headers.length; i += 2)
    if (!NOT_CARRIED.has(of.headers[i].toLowerCase())) headers.push(of.headers[i], of.headers[i + 1]);
  const head: DownstreamHead = {
    method: 'GET',
    target: of.target,
    versionMajor: 1,
    versionMinor: 1,
    protocol: 'HTTP/1.1',
    headers,
    remoteAddress: of.remoteAddress,
    encrypted: of.encrypted,
    ...(of.servername === undefined ? {} : { servername: of.servername }),
    bodyLength: undefined,
    upgrade: false,
    expectContinue: false,
  };
  // Nobody reads it: every write is taken at once and let go, and the end closes it.
  const answer = new InMemorySink();
  const note = new RefreshNote(done, answer, kind);
  answer.onClose(() => done(note.failed));
  // The gateway's own request: nothing of it was read from a client.
  return {
    head,
    body: undefined,
    bodyComplete: true,
    bytesRead: 0,
    answer,
    background: { kind, madeFor, upstream: side, note },
  };
}

/**
 * What a background fetch's request carries for the cache stage that meets it: the end of the
 * key's fetch it is, its sink, what it is, and (a fill's) the failure its attempts ended with.
 */
class RefreshNote {
  readonly done: (end?: FillEnd) => void;
  readonly answer: InMemorySink;
  readonly kind: BackgroundFetch;
  failed: Failure | undefined;

  constructor(done: (end?: FillEnd) => void, answer: InMemorySink, kind: BackgroundFetch) {
    this.done = done;
    this.answer = answer;
    this.kind = kind;
  }
}

/** This request is a fill: the whole answer fetched for a Range that found nothing stored. */
export function isFill(request: StageRequest): boolean {
  const note = request.background?.note;
  return note instanceof RefreshNote && note.kind === 'fill';
}

/**
 * A fill's attempts ended with `failure`: the Range waiting on it is answered with it (as a request
 * waiting on another's fetch is), rather than try a failing upstream again after the route's
 * timeouts ran once. A refresh's waiters look again, as before. Nothing for a client's request.
 */
export function failedFetch(request: StageRequest, failure: Failure): void {
  const note = request.background?.note;
  if (note instanceof RefreshNote && note.kind === 'fill') note.failed = failure;
}

/** The `done` of the background fetch this request is (refreshExchange's); undefined: a client's request, or another stage's. */
export function refreshOf(request: StageRequest): ((end?: FillEnd) => void) | undefined {
  const note = request.background?.note;
  return note instanceof RefreshNote ? note.done : undefined;
}

/**
 * A refresh whose answer will not be kept answers nobody: its sink is dropped (the upstream is
 * read no further, its connection closes) and its log line says why, the gateway's decision,
 * never a client's leaving. After the turn: the relay that told the stage goes on to its end
 * first, and finds the sink closed. Nothing for a client's request.
 */
export function dropRefresh(request: StageRequest, why: string): void {
  const note = request.background?.note;
  if (note instanceof RefreshNote) queueMicrotask(() => note.answer.drop(`${NAMED[note.kind]}: ${why}`));
}

/**
 * A refresh's answer the cache will not keep (keptPolicy), known at its head: read whole while it
 * is small (an upstream's 503, a small no-store answer: its connection goes back to the pool and
 * its line is the upstream's answer), dropped at its head when its Content-Length is over
 * max_entry, else once its body passes it. The copy that counts it; undefined: none needed.
 */
export function unkeptRefresh(
  request: StageRequest,
  status: number,
  fields: readonly string[],
  maxEntry: number,
): BodyCopy | undefined {
  if (request.background === undefined) return undefined;
  let length: string | undefined;
  let control: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    if (name === 'content-length') length = fields[i + 1];
    else if (name === 'cache-control')
      control = control === undefined ? fields[i + 1] : `${control}, ${fields[i + 1]}`;
  }
  if (Number(length) > maxEntry) {
    dropRefresh(
      request,
      `its answer's Content-Length (${length} bytes) is over the cache's max_entry (${maxEntry} bytes)`,
    );
    return undefined;
  }
  const why = `its ${status} is not kept (${control === undefined ? 'no Cache-Control' : `Cache-Control: ${control}`}), and its body passed max_entry (${maxEntry} bytes)`;
  let size = 0;
  return {
    add: (chunk) => {
      const before = size;
      size += chunk.length;
      // Dropped once, as the body passes max_entry.
      if (before <= maxEntry && size > maxEntry) dropRefresh(request, why);
    },
    end: () => {},
  };
}
