import type { RouteStage } from '../../stages/stage.ts';
import { cookiesForAnswer } from './answer-cookies.ts';

/**
 * An OpenID Connect route's stage: a session renewed while the request went through (its
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
        for (const cookie of cookiesForAnswer(request.head.headers) ?? []) out.push('set-cookie', cookie);
        return out;
      },
    }),
  };
}
