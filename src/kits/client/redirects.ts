/**
 * fetch's redirect following (the Fetch standard's HTTP-redirect fetch, §4.4), done by the
 * client one hop at a time with `redirect: 'manual'`, so that it knows a server answered: a
 * request answered with a redirect has reached that server, whatever the next hop's failure
 * says. Left to fetch, a POST answered 303 (done, see there) whose Location then refused the
 * connection was "connection refused: nothing was sent", and was sent again.
 *
 * The rules are fetch's: at most 20 redirects, http(s) locations only, a 301/302 POST and a
 * 303 that is not a GET or HEAD go on as a GET without their body, a 307/308 keeps method and
 * body (so a stream passed as it is cannot follow one), and a hop to another origin leaves
 * Authorization, Proxy-Authorization and Cookie behind.
 */
import type { RequestBody } from './replayable-body.ts';

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
/** The Fetch standard's request-body-header names: they describe a body, and go with it. */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];
/** Credentials for one origin, not to be handed to the next. */
const ORIGIN_BOUND = ['authorization', 'proxy-authorization', 'cookie'];

/**
 * fetch's words (undici's) for a redirect it would not follow (`redirect: 'error'`, more than
 * its 20, a location that is not http(s)), and the client's own where it follows them; and for
 * a URL on one of the Fetch standard's bad ports, refused before any connection, for any
 * request: the same call again meets the same refusal.
 */
const REDIRECT_REFUSALS: ReadonlySet<string> = new Set([
  'bad port',
  'unexpected redirect',
  'redirect count exceeded',
  'URL scheme must be a HTTP(S) scheme',
  'redirect location is not a URL',
  'a 307 or 308 redirect cannot be followed with a stream body: it was sent once',
  'redirect location includes credentials',
]);

/** fetch's own failure for a redirect it will not follow: "fetch failed", the reason as cause. */
function refusal(reason: string): TypeError {
  return new TypeError('fetch failed', { cause: new Error(reason) });
}

/** Whether `err` is fetch's refusal (a redirect not followed, a bad port): the same again would meet it too. */
export function refusedRedirect(err: Error): boolean {
  const cause = err.cause;
  return (
    cause instanceof Error &&
    (cause as { code?: unknown }).code === undefined &&
    REDIRECT_REFUSALS.has(cause.message)
  );
}

/** The request as the first hop sends it, for the hops that follow. */
export interface Redirectable {
  readonly method: string;
  readonly headers: Headers;
  /** Whether it has a body; `body()` makes it again, for a 307/308 (when `replayable`). */
  readonly hasBody: boolean;
  readonly replayable: boolean;
  readonly body: () => RequestBody | null | undefined;
}

/** The redirects an attempt followed, and where the last one led (for a failure after them). */
export interface Hops {
  count: number;
  url: URL;
}

/**
 * `send(target, init)` (whose `redirect` must be 'manual'), then every redirect it answers,
 * counted in `hops`. The last response, `redirected` as fetch would say.
 */
export async function sendFollowing(
  send: typeof fetch,
  target: URL | Request,
  init: RequestInit,
  request: Redirectable,
  hops: Hops,
): Promise<Response> {
  let answer = await send(target, init);
  let { method, hasBody } = request;
  const headers = new Headers(request.headers);
  for (;;) {
    const location = answer.headers.get('location');
    if (!REDIRECT_STATUSES.has(answer.status) || location === null) {
      if (hops.count > 0) Object.defineProperty(answer, 'redirected', { value: true });
      return answer;
    }
    // The redirect's own answer is nobody's, followed or refused: its connection goes now, not
    // when the garbage collector finds a body left unread.
    answer.body?.cancel().catch(() => {});
    const next = URL.parse(location, hops.url.href);
    if (next === null) throw refusal('redirect location is not a URL');
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw refusal('URL scheme must be a HTTP(S) scheme');
    if (hops.count >= MAX_REDIRECTS) throw refusal('redirect count exceeded');
    // fetch would refuse to make the request, quoting the location, password and all, into a
    // message that ends in logs; said without it.
    if (next.username !== '' || next.password !== '') throw refusal('redirect location includes credentials');
    if (answer.status !== 303 && hasBody && !request.replayable)
      throw refusal('a 307 or 308 redirect cannot be followed with a stream body: it was sent once');
    const status = answer.status;
    if (
      ((status === 301 || status === 302) && method === 'POST') ||
      (status === 303 && method !== 'GET' && method !== 'HEAD')
    ) {
      method = 'GET';
      hasBody = false;
      for (const name of BODY_HEADERS) headers.delete(name);
    }
    if (next.origin !== hops.url.origin) for (const name of ORIGIN_BOUND) headers.delete(name);
    hops.count++;
    hops.url = next;
    const hopInit: RequestInit & { duplex?: 'half' } = { ...init, method, headers, body: null };
    if (hasBody) {
      hopInit.body = request.body() ?? null;
      hopInit.duplex = 'half';
    }
    answer = await send(next, hopInit);
  }
}
