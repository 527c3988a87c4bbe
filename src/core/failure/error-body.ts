import { renderErrorPage } from './error-page.ts';
import type { ErrorFormat } from './negotiate.ts';
import { clientAdvice, describeFailure, type ErrorBodyContext, REASONS } from './wording.ts';

export interface ErrorBody {
  readonly contentType: string;
  readonly body: string;
}

export function renderErrorBody(format: ErrorFormat, ctx: ErrorBodyContext): ErrorBody {
  if (format === 'problem+json') {
    return { contentType: 'application/problem+json', body: problemJson(ctx) };
  }
  if (format === 'html') {
    return { contentType: 'text/html; charset=utf-8', body: renderErrorPage(ctx) };
  }
  return { contentType: 'text/plain; charset=utf-8', body: plainText(ctx) };
}

/** RFC 9457 problem details, with the Proxy-Status facts as extension members. */
function problemJson(ctx: ErrorBodyContext): string {
  const { failure } = ctx;
  const problem: Record<string, unknown> = {
    type: `urn:candor:error:${failure.type}`,
    title: failure.kind.title,
    status: failure.status,
    detail: describeFailure(ctx),
    error: failure.type,
    shape: failure.kind.shape,
    details: failure.details,
    proxy: ctx.proxyName,
    request_id: ctx.requestId,
    retryable: failure.clientMayRetry,
    advice: clientAdvice(failure),
  };
  if (ctx.nextHop !== undefined) problem.next_hop = ctx.nextHop;
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
