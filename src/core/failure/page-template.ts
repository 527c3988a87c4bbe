/**
 * An operator's error page (errors.pages.html): their HTML, with `{{name}}` placeholders for
 * the failure record's fields, each HTML-escaped (templateEscape). Only the body is theirs: the status and the
 * headers (Proxy-Status, Retry-After, Cache-Control, the request id) stay the gateway's.
 */
import { bodyText } from './body-text.ts';
import { escapeHtml } from './error-page.ts';
import { clientAdvice, describeFailure, type ErrorBodyContext, REASONS } from './wording.ts';

/** Every placeholder a template may use, and what it stands for. */
export const PLACEHOLDERS = {
  status: 'the status code, e.g. 502',
  reason: 'the status reason, e.g. Bad Gateway',
  title: 'the failure\'s title, e.g. "Upstream refused the connection"',
  type: 'the RFC 9209 error type, e.g. connection_refused',
  shape: 'unreachable, slow, reset, garbage, gateway, client or internal',
  details: 'the details (empty with errors.detail: minimal)',
  next_hop: 'the upstream as clients may see it (empty with errors.detail: minimal, or before routing)',
  request_id: 'the request id, to quote in a report',
  retry_after: 'seconds before a retry may help (empty when there is no Retry-After)',
  explanation: 'the plain-words sentence on which hop failed and how',
  advice: 'what the client may do next',
  proxy: "the gateway's name",
  sign_in_again:
    'for a sign-in the identity provider declined, the path of this host that begins a new one (empty otherwise)',
} as const;

type Placeholder = keyof typeof PLACEHOLDERS;

const PLACEHOLDER = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
/**
 * What the operator meant as a placeholder, spelled as none can be: with a digit, a hyphen or a
 * dot (`{{next-hop}}` as Proxy-Status spells it, `{{request.id}}`). PLACEHOLDER does not match
 * it, so it would reach every page as written: refused at load as any unknown name.
 */
const PLACEHOLDER_LIKE = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/**
 * Another template engine's tags (Handlebars', Mustache's), none of which is one here: unescaped
 * output (`{{{name}}}`, `{{& name}}`), a section (`{{#name}}`, `{{^name}}`, `{{/name}}`), a
 * partial (`{{> name}}`), a comment (`{{! … }}`). A page ported from one reached every client
 * with them as written.
 */
const FOREIGN_TAG = /\{\{(?:\{[^{}]*\}|\s*[&#/^>!][^{}]*)\}\}/g;

/**
 * A template's problems, each with its 1-based line, in the template's order: placeholders it
 * names that do not exist, and other engines' tags.
 */
export function templateProblems(text: string): { line: number; message: string }[] {
  const found: { at: number; message: string }[] = [];
  const foreign: [number, number][] = [];
  for (const match of text.matchAll(FOREIGN_TAG)) {
    foreign.push([match.index, match.index + match[0].length]);
    found.push({
      at: match.index,
      message: `${match[0]} is another template engine's tag; a page here has only {{name}} placeholders, each HTML-escaped, and no sections, partials or comments`,
    });
  }
  for (const match of text.matchAll(PLACEHOLDER_LIKE)) {
    if (Object.hasOwn(PLACEHOLDERS, match[1])) continue;
    // `{{{stack}}}` is told once, as the other engine's tag it is.
    if (foreign.some(([from, to]) => match.index >= from && match.index < to)) continue;
    found.push({
      at: match.index,
      message: `unknown placeholder {{${match[1]}}}; expected one of ${Object.keys(PLACEHOLDERS)
        .map((p) => `{{${p}}}`)
        .join(', ')}`,
    });
  }
  return found
    .sort((a, b) => a.at - b.at)
    .map(({ at, message }) => ({ line: text.slice(0, at).split('\n').length, message }));
}

/** Whether a template quotes the request id (without it, a client has nothing to report). */
export function templateHasRequestId(text: string): boolean {
  for (const match of text.matchAll(PLACEHOLDER)) if (match[1] === 'request_id') return true;
  return false;
}

/**
 * A value as a template may place it: in text, in a quoted attribute, or in one written without
 * quotes (`title={{details}}`), where an `=` of the client's (the details quote its path)
 * would start an attribute of its own (`/x/onmouseover=alert(1)`: a handler on the gateway's
 * page), and a backtick is a quote to old browsers. So `=` and `` ` `` are character references
 * too, as Handlebars and Mustache escape them; they read the same in text.
 */
function templateEscape(text: string): string {
  // bodyText: the backstop error-body.ts puts on the built-in bodies, here on the values alone.
  return escapeHtml(bodyText(text)).replace(/[=`]/g, (c) => (c === '=' ? '&#61;' : '&#96;'));
}

/** The page for one failure: every placeholder replaced by its escaped value. */
export function renderPageTemplate(template: string, ctx: ErrorBodyContext): string {
  const { failure } = ctx;
  const value = (name: Placeholder): string => {
    switch (name) {
      case 'status':
        return String(failure.status);
      case 'reason':
        return REASONS[failure.status] ?? '';
      case 'title':
        return failure.kind.title;
      case 'type':
        return failure.type;
      case 'shape':
        return failure.kind.shape;
      case 'details':
        return ctx.minimal ? '' : failure.details;
      case 'next_hop':
        return ctx.minimal ? '' : (ctx.nextHop ?? '');
      case 'request_id':
        return ctx.requestId;
      case 'retry_after':
        return failure.retryAfter === undefined ? '' : String(failure.retryAfter);
      case 'explanation':
        return describeFailure(ctx);
      case 'advice':
        return clientAdvice(failure);
      case 'proxy':
        return ctx.proxyName;
      // A path of this host (the sign-in's own, checked where it was read): never another site's.
      case 'sign_in_again':
        return failure.signInAgain ?? '';
    }
  };
  // A name the template may not use was refused at load (templateProblems): none reaches here.
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(PLACEHOLDERS, name) ? templateEscape(value(name as Placeholder)) : whole,
  );
}
