import type { ContentCoding, RouteConfig, StaticConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { type FilePath, filePathOf } from '../../core/file-path.ts';
import { clipped } from '../../core/http1/syntax.ts';
import { OwnAnswer } from '../../core/net/own-answer.ts';
import { negotiateCoding } from '../forward/content-coding.ts';
import type { RequestVerdict, RouteStage, StageHooks, StageRequest } from '../stages/stage.ts';
import { fileAnswer } from './file-answer.ts';
import { type NotOpened, type OpenedFile, openUnder, realRoot } from './open-file.ts';

/** The name a precompressed sibling has beside its file, by its coding. */
const SIBLING: Readonly<Record<ContentCoding, string>> = { br: '.br', gzip: '.gz', zstd: '.zst' };

/** How long opening and checking a file may take before the request is a 500 (a hung network disk). */
const OPEN_MS = 10_000;

/**
 * A route's static files (`routes[].static`) as a stage: it answers every request in `onRequest`,
 * from the files under its root, and the route has no upstream. GET and HEAD only (405 with
 * `Allow: GET, HEAD`); the path (normalised by the router, the route's prefix stripped) names a
 * file under root (file-path.ts refuses what could not), opened so that nothing outside root is
 * ever read (open-file.ts); a directory is answered with its `index` (a path to one without its
 * trailing `/` is sent there, 301, the route's own root too), never listed, and a path ending in
 * `/` names nothing else (a file so named is not there); a path no file answers gets the `fallback` file
 * (a single-page app's) or the gateway's 404, and so does a symbolic link (but one to a directory
 * under root, which is that directory), or any file that is not a
 * regular one; a dotfile is always the 404: one answer, which tells nothing of what is there.
 * The body streams from the file (a StreamedAnswer), and the files a request opened are closed at
 * its end (`onEnd`), whatever became of it.
 */
export function staticStage(route: RouteConfig): RouteStage | undefined {
  const config = route.static;
  if (config === undefined) return undefined;
  const fallback = config.fallback === undefined ? undefined : filePathOf(config.fallback, '/');
  const site: Site = {
    config,
    prefix: route.path,
    fallback: typeof fallback === 'object' && !(fallback instanceof Failure) ? fallback.segments : undefined,
  };
  return {
    name: 'static',
    timeoutMs: OPEN_MS,
    failOpen: false,
    trusted: true,
    start: (request) => new StaticRun(site, request),
  };
}

interface Site {
  readonly config: StaticConfig;
  readonly prefix: string;
  readonly fallback: readonly string[] | undefined;
}

class StaticRun implements StageHooks {
  readonly #site: Site;
  readonly #request: StageRequest;
  readonly #files: OpenedFile[] = [];
  /** The root's real path for this request (every file it opens is under the same one), asked at its first open. */
  #root: Promise<string | undefined> | undefined;
  #ended = false;

  constructor(site: Site, request: StageRequest) {
    this.#site = site;
    this.#request = request;
  }

  onRequest(): RequestVerdict | Promise<RequestVerdict> {
    const { method } = this.#request.head;
    if (method !== 'GET' && method !== 'HEAD')
      return new Failure('http_request_error', `a static route answers GET and HEAD, not ${method}`, {
        status: 405,
        allow: 'GET, HEAD',
      });
    const [path, query] = splitQuery(this.#request.upstreamPath);
    const asked = filePathOf(path, this.#site.prefix);
    if (asked instanceof Failure) return asked;
    if (asked === 'too_long' || asked === 'hidden') return notFound(path);
    return this.#answer(asked, path, query);
  }

  async #answer(asked: FilePath, path: string, query: string): Promise<RequestVerdict> {
    const { config, fallback } = this.#site;
    // A path ending in `/` names a directory: its index is opened at once, and a file asked so
    // (`/sub/index.html/`) is none (ENOTDIR: missing), as nginx has it. Without the `/`, a
    // directory is sent to its `/` (its index page's relative links resolve under it).
    let segments = asked.directory ? [...asked.segments, config.index] : asked.segments;
    let opened = await this.#open(segments);
    // One `/` at its start: a path that begins `//` (merge_slashes off) names the same directory
    // (empty segments are none), and `//name/` would be a network-path reference to the host `name`.
    if (opened === 'directory' && !asked.directory)
      return new OwnAnswer(301, ['location', `${path.replace(/^\/+/, '/')}/${query}`]);
    // A name refused (a link) is one not there: a 404 where a missing name got the fallback
    // would tell the client a link is there.
    if ((opened === 'missing' || opened === 'outside') && fallback !== undefined) {
      segments = fallback;
      opened = await this.#open(segments);
    }
    if (typeof opened === 'string') return notFound(path);
    const name = segments.at(-1) ?? '';
    const [file, coding] = await this.#precompressed(segments, opened);
    return fileAnswer(file, {
      name,
      coding,
      cacheControl: config.cacheControl,
      varies: config.precompressed.length > 0,
      request: this.#request.fields,
      head: this.#request.head.method === 'HEAD',
    });
  }

  /** The sibling compressed ahead of time the client takes best, in the route's order for ties, when one is there. */
  async #precompressed(
    segments: readonly string[],
    file: OpenedFile,
  ): Promise<[OpenedFile, ContentCoding | undefined]> {
    const accept = this.#request.fields['accept-encoding'];
    let offered = this.#site.config.precompressed;
    while (offered.length > 0) {
      const coding = negotiateCoding(accept === undefined ? undefined : String(accept), offered);
      if (coding === undefined) break;
      const sibling = [...segments.slice(0, -1), `${segments.at(-1)}${SIBLING[coding]}`];
      const opened = await this.#open(sibling);
      if (typeof opened !== 'string') return [opened, coding];
      offered = offered.filter((c) => c !== coding);
    }
    return [file, undefined];
  }

  /** Opens a file under root; kept to close at the request's end (at once, when it is over already). */
  async #open(segments: readonly string[]): Promise<OpenedFile | NotOpened> {
    this.#root ??= realRoot(this.#site.config.root);
    const root = await this.#root;
    if (root === undefined) return 'missing';
    const opened = await openUnder(root, segments);
    if (typeof opened === 'string') return opened;
    if (this.#ended) {
      opened.close();
      return 'missing';
    }
    this.#files.push(opened);
    return opened;
  }

  /** The request is over: every file it opened is closed (a stream cut, a client gone, a 304 alike). */
  onEnd(): void {
    this.#ended = true;
    for (const file of this.#files) file.close();
  }
}

function splitQuery(target: string): [string, string] {
  const q = target.indexOf('?');
  return q === -1 ? [target, ''] : [target.slice(0, q), target.slice(q)];
}

/** One 404 for every path the route does not serve, whatever the reason (nothing there, a dotfile, a link out of root). */
function notFound(path: string): Failure {
  return new Failure('destination_not_found', `no file for ${clipped(path)}`, {
    variant: 'static_file_not_found',
  });
}
