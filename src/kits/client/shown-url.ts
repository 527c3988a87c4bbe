/**
 * The URL as the client writes it in what it reports (UpstreamError's message and `url`, each
 * attempt's `url`, a redirect's location): without its userinfo, and with the value of a query
 * parameter whose name says it is a credential (`api_key`, `access_token`, S3's
 * `X-Amz-Signature`…) written `***`. These lines end in logs. (RFC 9110 §4.2.4: a sender must
 * not generate userinfo in an http(s) URI; RFC 6750 §5.3 warns against bearer tokens in URLs,
 * which APIs and presigned redirects still use.)
 */

import { withCredentialsMasked } from '../../core/credential-names.ts';

/** `search` with each credential's value written `***`, the rest as it came. */
function shownSearch(search: string): string {
  return withCredentialsMasked(search);
}

export function shownUrl(url: URL): string {
  const search = shownSearch(url.search);
  if (url.username === '' && url.password === '' && search === url.search) return url.href;
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  // Assigned to `search`, `***` would be kept as it is: `*` needs no escape in a query.
  shown.search = search;
  return shown.href;
}

/**
 * fetch's own error for a call it refused, its message (and stack) without the URL's credentials:
 * undici quotes the whole URL in "Request cannot be constructed from a URL that includes
 * credentials". The same error, so that its class and cause stay what the caller may test.
 */
export function withoutCredentials(err: unknown, url: URL): unknown {
  const shown = shownUrl(url);
  if (shown === url.href || !(err instanceof Error) || !err.message.includes(url.href)) return err;
  err.message = err.message.replaceAll(url.href, shown);
  if (typeof err.stack === 'string') err.stack = err.stack.replaceAll(url.href, shown);
  return err;
}
