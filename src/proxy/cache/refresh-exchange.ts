import type { DownstreamExchange, DownstreamHead } from '../../core/net/downstream.ts';
import { InMemorySink } from '../../core/net/in-memory-sink.ts';
import type { StageRequest } from '../stages/stage.ts';

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
 * (DownstreamExchange.background), whose note only the cache reads (refreshOf).
 */
export function refreshExchange(
  of: DownstreamHead,
  madeFor: string,
  done: () => void,
  side: string | undefined,
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
  answer.onClose(() => done());
  // The gateway's own request: nothing of it was read from a client.
  return {
    head,
    body: undefined,
    bodyComplete: true,
    bytesRead: 0,
    answer,
    background: { kind: 'refresh', madeFor, upstream: side, note: new RefreshNote(done) },
  };
}

/** What a refresh's request carries for the cache stage that meets it: the end of the key's fetch it is. */
class RefreshNote {
  readonly done: () => void;

  constructor(done: () => void) {
    this.done = done;
  }
}

/** The `done` of the refresh this request is (refreshExchange's); undefined: a client's request, or another stage's. */
export function refreshOf(request: StageRequest): (() => void) | undefined {
  const note = request.background?.note;
  return note instanceof RefreshNote ? note.done : undefined;
}
