import { forwardedParams, joinedLines } from '../../core/net/forwarded-for.ts';
import { keyAuthority } from './key-authority.ts';

/**
 * What the upstream is told of the URL its client asked for beyond Host and the scheme, as a
 * stored answer's key holds it ('' when nothing): the host in X-Forwarded-Host and Forwarded's
 * `host=`, X-Forwarded-Port, X-Forwarded-Prefix. Frameworks build absolute links and redirects
 * from them (Django, Rails, Spring, Express's `trust proxy`); a proxy in `trust_forwarded_from`
 * that sends one Host for many sites (nginx's default `proxy_set_header Host $proxy_host`) had
 * every site's page under that Host's key, one site's links given to another's clients (web
 * cache poisoning by an unkeyed field). From a client not trusted, X-Forwarded-Host and
 * Forwarded say the Host the key holds and the others are dropped (request-headers.ts): ''.
 * `headers`: flat, as the upstream gets them; `authority`: the Host it gets.
 */
export function forwardedKeyPart(headers: readonly string[], authority: string, scheme: string): string {
  const own = keyAuthority(authority, scheme);
  let part = '';
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    // Most fields are none of these: told by length and first letter before a lower-cased copy.
    if (name.length < 9 || (name.charCodeAt(0) | 0x20) !== (name.length === 9 ? 0x66 : 0x78)) continue;
    const lower = name.toLowerCase();
    const value = headers[i + 1];
    if (lower === 'x-forwarded-host') part += hosts([value], own, scheme);
    else if (lower === 'forwarded') part += hosts(forwardedParams(joinedLines(value), 'host='), own, scheme);
    else if (lower === 'x-forwarded-port' || lower === 'x-forwarded-prefix')
      part += `;${lower.slice(12)}=${value}`;
  }
  // Without spaces: a key's parts are told apart by them (purges, keyOnItsSide).
  return part === '' ? '' : encodeURI(`fwd${part}`);
}

/** `;host=` and each host that is not the Host the key holds (in its normal form), or ''. */
function hosts(named: readonly string[], own: string, scheme: string): string {
  let part = '';
  for (const host of named) {
    const normal = keyAuthority(host.trim(), scheme);
    if (normal !== '' && normal !== own) part += `;host=${normal}`;
  }
  return part;
}
