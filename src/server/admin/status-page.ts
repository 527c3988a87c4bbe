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

/** The page's routes, its files read once (they ship beside this module, in dist/ too). */
export function statusPageRoutes(): AdminRoute[] {
  return FILES.map(([path, file, contentType]) => {
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
}
