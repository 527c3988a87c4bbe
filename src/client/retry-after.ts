/**
 * Retry-After (RFC 9110 §10.2.3) as a wait in milliseconds from `now`: either form,
 * delay-seconds or an HTTP-date. A date already past is no wait at all; a value that is
 * neither form is ignored (undefined), as the header was never sent.
 */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse reads the IMF-fixdate and both obsolete forms RFC 9110 §5.6.7 obliges a recipient to accept.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
