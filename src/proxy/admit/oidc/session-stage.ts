import type { RouteStage } from '../../stages/stage.ts';

/**
 * The Set-Cookie fields a request's answer is to carry (a session refreshed on its way to the
 * upstream), by the request's head fields: access control decides them before the answer
 * exists, and the stage adds them to it, whichever answer it is.
 */
const pending = new WeakMap<readonly string[], readonly string[]>();

/** The session cookies `cookies` to be set on the answer to the request whose head fields are `headers`. */
export function setOnAnswer(headers: readonly string[], cookies: readonly string[]): void {
  pending.set(headers, cookies);
}

/**
 * An OpenID Connect route's stage: a session refreshed while the request went through (its
 * tokens renewed with the refresh token) is sent back to the browser on the answer, the
 * upstream's or the gateway's own alike, so its next request carries the new one.
 */
export function oidcSessionStage(): RouteStage {
  return {
    name: 'oidc_session',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    // Started before access control decides (request-session.ts): the cookies are looked up when the answer's head is made.
    start: (request) => ({
      editAnswer: (headers) => {
        const out = [...headers];
        for (const cookie of pending.get(request.head.headers) ?? []) out.push('set-cookie', cookie);
        return out;
      },
    }),
  };
}
