import { bodyJson, bodyText } from './body-text.ts';
import { renderErrorPage } from './error-page.ts';
import type { ErrorFormat } from './negotiate.ts';
import { renderPageTemplate } from './page-template.ts';
import { clientAdvice, describeFailure, type ErrorBodyContext, REASONS } from './wording.ts';

export interface ErrorBody {
  readonly contentType: string;
  readonly body: string;
  /** The Content-Security-Policy the body is sent with (the gateway's own HTML page only). */
  readonly policy?: string;
}

/**
 * What the gateway's own page may do in a browser: show its inline style, nothing else. It
 * quotes a client's path and an upstream's words (escaped, error-page.ts); should an escape
 * ever miss, the page still runs no script and loads nothing (OWASP's defence in depth). An
 * operator's template gets none: it may load its own stylesheet, images or script.
 */
export const ERROR_PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** An operator's own pages (errors.pages): the HTML template, members added to problem+json. */
export interface ErrorPages {
  readonly html?: string;
  readonly json?: Readonly<Record<string, unknown>>;
}

/**
 * The body of a failure answer. Its details quote other parties (an upstream's certificate names
 * and reason phrase, a provider's error code, a Redis reply): each place that quotes one should
 * clean it, and this is the backstop should one miss. No control character but tab and newline,
 * no DEL, C1, bidi override, U+2028/2029 or half a surrogate pair reaches the body raw: in
 * problem+json they are \u escapes (half a pair \ufffd: strict readers refuse `\ud800`), in text
 * and the built-in page printable's escapes (`\x1b`), half a pair U+FFFD. An operator's template
 * is theirs (its CRLF, its own marks): only the values placed in it are cleaned (page-template.ts).
 * With none of them, no copy is made.
 */
export function renderErrorBody(format: ErrorFormat, ctx: ErrorBodyContext, pages?: ErrorPages): ErrorBody {
  if (format === 'problem+json') {
    return { contentType: 'application/problem+json', body: bodyJson(problemJson(ctx, pages?.json)) };
  }
  if (format === 'html') {
    const html = pages?.html;
    return {
      contentType: 'text/html; charset=utf-8',
      ...(html === undefined
        ? { body: bodyText(renderErrorPage(ctx)), policy: ERROR_PAGE_POLICY }
        : { body: renderPageTemplate(html, ctx) }),
    };
  }
  return { contentType: 'text/plain; charset=utf-8', body: bodyText(plainText(ctx)) };
}

/**
 * RFC 9457 problem details, with the Proxy-Status facts as extension members; an operator's
 * `extra` members first, so that none of them can replace one of the gateway's (the config
 * refuses such a name too: file-checks.ts).
 */
function problemJson(ctx: ErrorBodyContext, extra?: Readonly<Record<string, unknown>>): string {
  const { failure } = ctx;
  const problem: Record<string, unknown> = {
    ...extra,
    type: `urn:candor:error:${failure.type}`,
    title: failure.kind.title,
    status: failure.status,
    detail: describeFailure(ctx),
    error: failure.type,
    shape: failure.kind.shape,
    details: ctx.minimal ? undefined : failure.details,
    proxy: ctx.proxyName,
    request_id: ctx.requestId,
    retryable: failure.clientMayRetry,
    advice: clientAdvice(failure),
  };
  if (ctx.nextHop !== undefined && !ctx.minimal) problem.next_hop = ctx.nextHop;
  if (failure.retryAfter !== undefined) problem.retry_after = failure.retryAfter;
  return JSON.stringify(problem) + '\n';
}

function plainText(ctx: ErrorBodyContext): string {
  const { failure } = ctx;
  const reason = REASONS[failure.status] ?? '';
  return (
    `${failure.status} ${reason}: ${failure.kind.title}\n\n` +
    `${describeFailure(ctx)}\n` +
    `${clientAdvice(failure)}\n\n` +
    `error: ${failure.type} (${failure.kind.shape})\n` +
    `request id: ${ctx.requestId}\n`
  );
}

/** The members problemJson writes itself: an operator's errors.pages.json may not name them. */
export const PROBLEM_MEMBERS: readonly string[] = [
  'type',
  'title',
  'status',
  'detail',
  'error',
  'shape',
  'details',
  'proxy',
  'request_id',
  'retryable',
  'advice',
  'next_hop',
  'retry_after',
];
