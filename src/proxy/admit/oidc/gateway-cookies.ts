/**
 * The gateway's own cookies as the routes' upstreams see them: every OpenID Connect route's
 * session (in up to MAX_PARTS parts) and its sign-ins' flows, kept out of every request sent
 * upstream and out of every Set-Cookie an upstream sends. Apart from the sealing
 * (session-cookie.ts, which loads jose): a worker whose config has an OpenID Connect route
 * anywhere builds these for every route, and one without loads neither.
 */
import type { AnswerEdit } from '../../../core/net/own-answer.ts';

/** The most cookies one sealed value is split into: past it (15 KB) the value is refused, not sent. */
export const MAX_PARTS = 4;

/** Whether a cookie named `cookie` is one of the parts of `name` (taken out of the request sent upstream). */
export function isPartOf(cookie: string, name: string): boolean {
  if (cookie === name) return true;
  if (!cookie.startsWith(`${name}.`)) return false;
  const index = Number(cookie.slice(name.length + 1));
  return Number.isInteger(index) && index > 0 && index < MAX_PARTS;
}

/** The prefix of the cookies the sign-ins of a route whose session cookie is `name` keep their flows in (sign-in.ts). */
export function flowPrefixOf(name: string): string {
  return `${name}_flow_`;
}

/**
 * The edit of the request sent upstream that takes the session's cookies (every part of `name`)
 * and the sign-in's (every name starting with `flowPrefix`) out of its Cookie fields: sealed for
 * the gateway alone, of no use to the app, and kilobytes on every request.
 */
export function withoutSealed(name: string, flowPrefix: string): AnswerEdit {
  return withoutSealedOf([name], [flowPrefix]);
}

/**
 * The gateway's own cookies, those of every OpenID Connect route (`names`: their sessions' names),
 * kept from the upstream of every route: undefined where no route signs in. The session cookie
 * is its host's (Path=/), so a browser sends it to the host's other routes too, and it is a
 * bearer credential: an upstream beside the signed-in app that reads it can replay it there as
 * its user. A request without a Cookie field (most) is passed as it is, nothing made.
 */
export function withoutGatewayCookies(names: readonly string[]): AnswerEdit | undefined {
  if (names.length === 0) return undefined;
  const strip = withoutSealedOf(names, names.map(flowPrefixOf));
  return (headers) => {
    for (let i = 0; i < headers.length; i += 2)
      if (headers[i].length === 6 && headers[i].toLowerCase() === 'cookie') return strip(headers);
    return headers as string[];
  };
}

/**
 * Drops, in place, an upstream's Set-Cookie fields for the gateway's own cookies (every OpenID
 * Connect route's session, its parts and its sign-in flows; `names`: the sessions' names): no
 * upstream sets a session of its choosing (an attacker's own, sealed at their sign-in), which
 * would sign the user in as someone else. Made once; undefined where no route signs in.
 */
export function withoutPlantedCookies(names: readonly string[]): ((headers: string[]) => void) | undefined {
  if (names.length === 0) return undefined;
  const isGateways = gatewayCookieTest(names, names.map(flowPrefixOf));
  return (headers) => {
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (headers[i].length !== 10 || headers[i].toLowerCase() !== 'set-cookie') continue;
      const line = headers[i + 1];
      const eq = line.indexOf('=');
      if (isGateways((eq === -1 ? line : line.slice(0, eq)).trim())) headers.splice(i, 2);
    }
  };
}

/** Whether a cookie's name is the gateway's: one of the sessions `names` (or a part of one), or a sign-in's flow. */
function gatewayCookieTest(
  names: readonly string[],
  flowPrefixes: readonly string[],
): (named: string) => boolean {
  return (named) =>
    flowPrefixes.some((prefix) => named.startsWith(prefix)) || names.some((name) => isPartOf(named, name));
}

function withoutSealedOf(names: readonly string[], flowPrefixes: readonly string[]): AnswerEdit {
  const ours = gatewayCookieTest(names, flowPrefixes);
  return (headers) => {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i].toLowerCase() !== 'cookie') {
        out.push(headers[i], headers[i + 1]);
        continue;
      }
      const kept = headers[i + 1]
        .split(';')
        .map((pair) => pair.trim())
        .filter((pair) => {
          const eq = pair.indexOf('=');
          const named = eq === -1 ? pair : pair.slice(0, eq).trim();
          return pair !== '' && !ours(named);
        });
      if (kept.length > 0) out.push(headers[i], kept.join('; '));
    }
    return out;
  };
}
