/**
 * A valid response that is not the upstream's own: a captive portal or a login page between
 * here and the upstream (a 511, or a 200 HTML page that redirects elsewhere at once).
 */
export function portalHint(status: number, contentType: string, body: Buffer): string | undefined {
  if (status === 511)
    return 'a 511 Network Authentication Required: a captive portal answered, not the upstream';
  if (!/html/i.test(contentType) || status !== 200) return undefined;
  const text = body.toString('latin1');
  const refresh = /<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)/i.exec(text);
  if (refresh)
    return `a 200 HTML page that redirects at once to ${refresh[1]} (meta refresh): a captive portal or a login page?`;
  const script = /(?:window\.|document\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']/i.exec(text);
  if (script)
    return `a 200 HTML page that redirects at once to ${script[1]} (script): a captive portal or a login page?`;
  return undefined;
}
