import { readdirSync, readFileSync } from 'node:fs';
import type { AdminRoute } from './admin-server.ts';

/**
 * The status page: GET / on the admin listener, with its stylesheet and script beside it, and the
 * modules the script imports (status-page/*.js, at /status-page/NAME.js). The files are static (no build step, nothing fetched from elsewhere) and hold no data, so
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

const SCRIPT = 'text/javascript; charset=utf-8';

/** The page's files: every module of status-page/ is served, so that one added later ships without a change here. */
const files = (): [path: string, file: string, contentType: string][] => [
  ['/', 'status-page.html', 'text/html; charset=utf-8'],
  ['/status-page.css', 'status-page.css', 'text/css; charset=utf-8'],
  // Not status-page.js: that name is this module's, once compiled into dist/.
  ['/status-page.js', 'status-page.client.js', SCRIPT],
  ...readdirSync(new URL('./status-page/', import.meta.url))
    .filter((name) => name.endsWith('.js'))
    .map((name): [string, string, string] => [`/status-page/${name}`, `status-page/${name}`, SCRIPT]),
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
  const routes = files().map(([path, file, contentType]): AdminRoute => {
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
  return [...routes, NO_ICON];
}
