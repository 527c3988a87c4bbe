import { readFileSync } from 'node:fs';
import type { AdminRoute } from './admin-server.ts';

/**
 * The status page: GET / on the admin listener, with its stylesheet and script beside it. The
 * three files are static (no build step, nothing fetched from elsewhere) and hold no data, so
 * they are served without the token; every figure the page shows comes from the API's own
 * endpoints, each of which needs it. The policy below keeps the page to its own origin: its
 * script and stylesheet, and fetches to this listener, nothing else.
 */
const POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: readonly [path: string, file: string, contentType: string][] = [
  ['/', 'status-page.html', 'text/html; charset=utf-8'],
  ['/status-page.css', 'status-page.css', 'text/css; charset=utf-8'],
  // Not status-page.js: that name is this module's, once compiled into dist/.
  ['/status-page.js', 'status-page.client.js', 'text/javascript; charset=utf-8'],
];

/**
 * The page has no icon, but a browser asks for /favicon.ico all the same: answered 204, not the
 * 401 of a path that needs the token, which put an error in the page's console and an
 * `admin unauthorized` warn line in the gateway's log at every load.
 */
const NO_ICON: AdminRoute = {
  method: 'GET',
  path: '/favicon.ico',
  open: true,
  handle: () => ({ status: 204, body: undefined, text: { contentType: 'image/x-icon', body: '' } }),
};

/** The page's routes, its files read once (they ship beside this module, in dist/ too). */
export function statusPageRoutes(): AdminRoute[] {
  const files = FILES.map(([path, file, contentType]): AdminRoute => {
    const body = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    const answer = {
      status: 200,
      body: undefined,
      text: { contentType, body },
      headers: {
        'content-security-policy': POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      },
    };
    return { method: 'GET', path, open: true, handle: () => answer };
  });
  return [...files, NO_ICON];
}
