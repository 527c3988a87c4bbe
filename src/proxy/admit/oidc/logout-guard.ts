import { escapeHtml } from '../../../core/failure/error-page.ts';
import { OwnAnswer } from '../../../core/net/own-answer.ts';
import type { SignInRequest } from './session.ts';

/**
 * Whether a request to `logout_path` came from a page that is not the gateway's own (logout
 * CSRF): another site's link, form or script navigation, which the session's SameSite=Lax
 * cookie follows on a top-level GET. The browser says so itself: `Sec-Fetch-Site` other than
 * `same-origin` or `none` (typed, a bookmark), or an `Origin` (every browser sends one with a
 * POST) that is not the route's own, `null` too. A client that says neither (curl, a script) is
 * taken at its word, as oauth2-proxy's sign_out takes any GET.
 */
export function logoutFromElsewhere(request: SignInRequest, secure: boolean): boolean {
  const site = request.fields['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.fields.origin;
  if (origin === undefined) return false;
  if (typeof origin !== 'string') return true;
  return origin.toLowerCase() !== routeOrigin(request.host, secure);
}

/** The origin a page of this host has, as a browser writes it (its default port left out). */
function routeOrigin(host: string, secure: boolean): string {
  try {
    return new URL(`${secure ? 'https' : 'http'}://${host}`).origin.toLowerCase();
  } catch {
    return '';
  }
}

/**
 * The page that asks before signing out: its button posts the logout from this origin, which
 * then ends the session. Never framed (a page of another site cannot lay it under a click of its
 * own) and never stored; it runs and loads nothing, and is read as the HTML it says it is. Its
 * policy has no `form-action`: a browser holds that to the redirect after the POST as well (CSP3
 * §6.4.1), and the logout's redirect goes to the provider's end-session endpoint, another origin,
 * so `form-action 'self'` blocked it and the button did nothing. The one form is the gateway's.
 */
export function logoutConfirmation(logoutPath: string): OwnAnswer {
  const action = escapeHtml(logoutPath);
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Sign out?</title></head>
<body><h1>Sign out?</h1>
<p>Another page asked to sign you out. Sign out only if you meant to.</p>
<form method="post" action="${action}"><button type="submit">Sign out</button></form>
</body></html>
`;
  return new OwnAnswer(
    200,
    [
      'content-type',
      'text/html; charset=utf-8',
      'cache-control',
      'no-store',
      'x-content-type-options',
      'nosniff',
      'x-frame-options',
      'DENY',
      'content-security-policy',
      "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ],
    Buffer.from(page),
  );
}
