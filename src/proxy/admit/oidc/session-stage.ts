import type { RouteStage } from '../../stages/stage.ts';
import { cookiesForAnswer } from './answer-cookies.ts';

/**
 * An OpenID Connect route's stage: a session renewed while the request went through (its
 * tokens renewed with the refresh token) is sent back to the browser on the answer, the
 * upstream's or the gateway's own alike, so its next request carries the new one. That answer
 * is one user's: its caching fields become `private, no-store`, so no shared cache in front
 * (the upstream's `public, max-age`) keeps a session's cookies for others.
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
        const cookies = cookiesForAnswer(request.head.headers);
        if (cookies === undefined) return [...headers];
        const out: string[] = [];
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i].toLowerCase();
          if (name !== 'cache-control' && name !== 'expires') out.push(headers[i], headers[i + 1]);
        }
        out.push('cache-control', 'private, no-store');
        for (const cookie of cookies) out.push('set-cookie', cookie);
        return out;
      },
      // A session renewed on a WebSocket's upgrade: its cookies go on the 101 (a browser keeps them).
      editSwitch: (headers) => {
        const cookies = cookiesForAnswer(request.head.headers);
        if (cookies === undefined) return headers;
        const out = [...headers];
        for (const cookie of cookies) out.push('set-cookie', cookie);
        return out;
      },
    }),
  };
}
