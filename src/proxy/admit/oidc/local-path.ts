/**
 * `path` when it is a path of this host (`/…`), else the root: where a sign-in sends a browser
 * back to, or links it to. A browser reads `//host/…` and `/\host/…` as another site's, and drops
 * tabs and newlines before it reads (WHATWG URL), so none of those is ever followed, even one
 * sealed in the gateway's own flow cookie: never an open redirect.
 */
export function localPath(path: string): string {
  return /^\/(?![/\\])[^\x00-\x20\x7f]*$/.test(path) ? path : '/';
}
