/**
 * A static route's request path as the names of the file under its root: the route's prefix
 * stripped, each segment decoded, and anything that could name a file outside the root, or one
 * the route does not serve, refused before the file system is asked.
 */
import { Failure } from './failure/failure.ts';

/** The longest name of one segment (NAME_MAX on Linux and macOS) and of the whole path under root. */
const NAME_MAX = 255;
const PATH_MAX = 1024;

/** The path's segments under root (empty: the root itself), whether it named a directory (ended in `/`), or why not. */
export interface FilePath {
  readonly segments: readonly string[];
  readonly directory: boolean;
}

/** What a path cannot be: a 400 for a path no client would send for a file, `hidden` for a dotfile. */
export type PathRefusal = Failure | 'hidden' | 'too_long';

/**
 * The segments of `path` (normalised, query off) under a route whose prefix is `prefix`. The
 * router normalised the path already (dot-segments out, unreserved escapes decoded): this reads
 * it again as a file system would, so that no spelling the normal form let through (normalisation
 * off, `paths.normalize: false`; an encoded slash a route allowed) escapes: a decoded segment that
 * is `.` or `..`, or holds `/`, `\` or NUL is a 400; one that starts with `.` is hidden (a
 * dotfile: `.git`, `.env`), but for `/.well-known/` on a route at `/`.
 */
export function filePathOf(path: string, prefix: string): FilePath | PathRefusal {
  const rest = prefix === '/' ? path : path.slice(prefix.length);
  if (rest.length > PATH_MAX) return 'too_long';
  const raw = rest.split('/');
  // The path's own `/`, not the part under the prefix: `/assets` on a route `/assets` names its
  // root as a file would be named, and is sent to `/assets/` (a relative link on its index page
  // would resolve outside the route).
  const directory = path.endsWith('/');
  const segments: string[] = [];
  for (const piece of raw) {
    if (piece === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(piece);
    } catch {
      return bad('a path segment is not valid percent-encoded UTF-8');
    }
    if (name === '.' || name === '..') return bad('a path segment is a dot-segment');
    if (/[/\\\0]/.test(name)) return bad('a path segment holds a slash, a backslash or NUL');
    if (Buffer.byteLength(name) > NAME_MAX) return 'too_long';
    // RFC 8615's `/.well-known/` (security.txt, app links, a provider's metadata) is public by
    // definition: served from a root mapped at `/`, its own dotfiles hidden all the same.
    if (name.startsWith('.') && !(name === '.well-known' && segments.length === 0 && prefix === '/'))
      return 'hidden';
    segments.push(name);
  }
  return { segments, directory };
}

function bad(details: string): Failure {
  return new Failure('http_request_error', details, { status: 400 });
}
