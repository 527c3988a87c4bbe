/**
 * A Cache-Control value the config writes for the gateway to send (`static.cache_control`, a
 * `response_headers` rule): its directives (RFC 9111 §5.2: a token, `=` and a token or
 * quoted-string) and the lifetimes among them (`max-age`, `s-maxage`, `stale-while-revalidate`,
 * `stale-if-error`), which are delta-seconds. An nginx user's `expires 30d` written `max-age=30d`
 * reads, to every cache, as no lifetime at all (RFC 9111 §1.2.2, §4.2.1): each answer stale at
 * once, never kept, and nothing says so. Apart from formats.ts, which loads the schema.
 */

const DIRECTIVE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:=([!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[^"\\]|\\.)*"))?$/;
const LIFETIMES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/**
 * The directives of a value, its empty list elements dropped (RFC 9110 §5.6.1); a comma in a
 * quoted-string is its own (`no-cache="Set-Cookie, X-Id"` is one directive).
 */
function directivesOf(value: string): string[] {
  return (value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*"?)+/g) ?? [])
    .map((element) => element.trim())
    .filter((element) => element !== '');
}

/** The first lifetime directive whose argument is no delta-seconds (`max-age=30d`, `max-age`), or undefined. */
export function badLifetime(value: string): string | undefined {
  for (const directive of directivesOf(value)) {
    const [name, argument] = directive.split('=', 2);
    if (LIFETIMES.has(name.trim().toLowerCase()) && !/^(?:\d+|"\d+")$/.test(argument?.trim() ?? ''))
      return directive;
  }
  return undefined;
}

/** Whether a value reads as Cache-Control: directives alone, no whitespace at its ends, every lifetime in seconds. */
export function isCacheControl(value: string): boolean {
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) return false;
  const directives = directivesOf(value);
  return (
    directives.length > 0 && directives.every((d) => DIRECTIVE.test(d)) && badLifetime(value) === undefined
  );
}
