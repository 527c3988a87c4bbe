import type { DownstreamExchange, DownstreamHead } from '../../core/net/downstream.ts';
import { InMemorySink } from '../../core/net/in-memory-sink.ts';
import type { BodyCopy, StageRequest } from '../stages/stage.ts';

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
    background: { kind: 'refresh', madeFor, upstream: side, note: new RefreshNote(done, answer) },
  };
}

/** What a refresh's request carries for the cache stage that meets it: the end of the key's fetch it is, and its sink. */
class RefreshNote {
  readonly done: () => void;
  readonly answer: InMemorySink;

  constructor(done: () => void, answer: InMemorySink) {
    this.done = done;
    this.answer = answer;
  }
}

/** The `done` of the refresh this request is (refreshExchange's); undefined: a client's request, or another stage's. */
export function refreshOf(request: StageRequest): (() => void) | undefined {
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
  if (note instanceof RefreshNote) queueMicrotask(() => note.answer.drop(`refresh: ${why}`));
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
