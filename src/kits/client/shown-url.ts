/**
 * The URL as the client writes it in what it reports (UpstreamError's message and `url`, each
 * attempt's `url`): without its userinfo. `user:password@` is a credential, and these lines end
 * in logs. (RFC 9110 §4.2.4: a sender must not generate userinfo in an http(s) URI.)
 */
export function shownUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
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
