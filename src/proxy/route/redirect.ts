import type { RedirectConfig } from '../../core/config/types.ts';
import { hostnameOf } from '../../core/net/hostname.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';

/** A route's redirect, made for one request: the session answers it (nothing is forwarded). */
export class RedirectAnswer extends OwnAnswer {
  readonly location: string;

  constructor(status: number, location: string) {
    super(status, ['location', location]);
    this.location = location;
  }
}

/**
 * The status a route's redirect answers `method` with: the one written for GET and HEAD; for any
 * other method, a 301 or 302 is sent as the 308 or 307 of the same permanence. RFC 9110 §15.4.2
 * and §15.4.3 let a user agent (every browser, curl, fetch) send the request again as a GET
 * after a 301 or 302: an HTTP form's POST redirected to HTTPS would reach the new location
 * without its body, as a GET its route may not even take. A 307 or 308 keeps method and body.
 *
 * @example redirectStatus(301, 'POST') // 308
 */
export function redirectStatus(status: RedirectConfig['status'], method: string): RedirectConfig['status'] {
  if (method === 'GET' || method === 'HEAD') return status;
  return status === 301 ? 308 : status === 302 ? 307 : status;
}

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443 };

/**
 * Where a route's redirect sends this request: a fixed location, or the same host, path and
 * query on another scheme and/or port (the HTTP → HTTPS case). Undefined when the request
 * named no host to keep (an HTTP/1.0 request without Host).
 *
 * @example redirectLocation({ kind: 'origin', scheme: 'https', status: 308 }, 'http', 'Example.com:80', '/a?b')
 * // 'https://example.com/a?b'
 */
export function redirectLocation(
  redirect: RedirectConfig,
  protocol: string,
  authority: string,
  path: string,
): string | undefined {
  if (redirect.kind === 'location') return redirect.location;
  const host = hostnameOf(authority);
  if (host === '') return undefined;
  const scheme = redirect.scheme ?? protocol;
  const port = redirect.port ?? (redirect.scheme === undefined ? portOf(authority) : undefined);
  const shown = port === undefined || port === DEFAULT_PORT[scheme] ? '' : `:${port}`;
  return `${scheme}://${host}${shown}${path}`;
}

/** "example.com:8080" → 8080; no port → undefined. */
function portOf(authority: string): number | undefined {
  const colon = authority.lastIndexOf(':');
  if (colon === -1 || colon < authority.lastIndexOf(']')) return undefined;
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
