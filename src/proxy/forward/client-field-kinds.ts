/**
 * The client's fields request-headers.ts treats apart from the rest, told by their name as it
 * came (any case: by its length, then its letters, nameIs), without a lower-cased copy of each
 * name and a switch over it (issue 61).
 */
import { nameIs } from '../../core/http1/syntax.ts';

/** None of the names below: the field goes on as it came (unless another rule drops it). */
export const OTHER = 0;
/** Never sent on, from anyone. */
export const DROP = 1;
export const X_FORWARDED_FOR = 2;
export const X_FORWARDED_PROTO = 3;
export const X_FORWARDED_HOST = 4;
export const FORWARDED = 5;
export const VIA = 6;
export const HOST = 7;
export const CONTENT_LENGTH = 8;
export const MAX_FORWARDS = 9;
export const TRACESTATE = 10;

/** The names, lower-case, with what each is. */
const NAMES: readonly (readonly [string, number])[] = [
  ['host', HOST],
  ['via', VIA],
  ['forwarded', FORWARDED],
  ['x-forwarded-for', X_FORWARDED_FOR],
  ['x-forwarded-proto', X_FORWARDED_PROTO],
  ['x-forwarded-host', X_FORWARDED_HOST],
  ['content-length', CONTENT_LENGTH],
  ['max-forwards', MAX_FORWARDS],
  ['tracestate', TRACESTATE],
  // This hop's own: the id it gave the request, the trace it continued or started.
  ['x-request-id', DROP],
  ['traceparent', DROP],
  // Answered by this hop (100-continue), not sent on.
  ['expect', DROP],
  // A request's trailers are read and never sent on (HTTP/2's and a chunked HTTP/1.1 body's
  // alike), so the field announcing them would tell the upstream of a section that never comes.
  ['trailer', DROP],
  // IIS, Symfony, Laravel (and Spring behind IIS) take these as the request's real path: a
  // client's would have the upstream serve `/admin` for the `/public` this hop routed and judged
  // (auth, allow/deny). Dropped from trusted proxies too: their trust is in who the client is,
  // not in which path it asked; a route that needs one sets it with a rule.
  ['x-original-url', DROP],
  ['x-rewrite-url', DROP],
  // No HTTP field is named Proxy; a CGI-style server makes it HTTP_PROXY, which HTTP client
  // libraries take as their outbound proxy (httpoxy, CVE-2016-5385 and kin): the app's calls out
  // would go through the client's server.
  ['proxy', DROP],
  // Proxy credentials are for the proxy that asked for them (RFC 9110 §11.7.2): this one never
  // asks (no 407), and the app behind it is no proxy. A client that takes the gateway for its
  // forward proxy (`curl -x gateway --proxy-user`) would hand the app its proxy password.
  ['proxy-authorization', DROP],
];

/** The names by their length: a name is compared, letter by letter, with those of its length only. */
const BY_LENGTH = Array.from({ length: 1 + Math.max(...NAMES.map(([name]) => name.length)) }, (_, length) =>
  NAMES.filter(([name]) => name.length === length),
);

/** Which of the names request-headers.ts treats apart a client's field has (OTHER: none). */
export function clientFieldKind(name: string): number {
  const sameLength = BY_LENGTH[name.length];
  if (sameLength !== undefined) for (const [lower, kind] of sameLength) if (nameIs(name, lower)) return kind;
  return OTHER;
}

/**
 * Whether this hop gathers a field of this kind into a field of its own (request-headers.ts's
 * `told`: the forwarding fields), never sending the client's line on as it came.
 */
export function isSaidAgain(kind: number): boolean {
  return (
    kind === X_FORWARDED_FOR || kind === X_FORWARDED_PROTO || kind === X_FORWARDED_HOST || kind === FORWARDED
  );
}
