import { clientAdvice, describeFailure, type ErrorBodyContext, REASONS } from './wording.ts';

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Self-contained on purpose: an error page must render when every other server is down.
const STYLE = `
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1d2330}
main{max-width:40rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin:0 0 .25rem}.code{color:#b42318;font-weight:700}
.hops{display:flex;align-items:center;gap:.5rem;margin:1.5rem 0;flex-wrap:wrap}
.hop{padding:.4rem .8rem;border:2px solid #12b76a;border-radius:8px;font-weight:600}
.hop.bad{border-color:#b42318;color:#b42318}.link{color:#667085}.link.bad{color:#b42318;font-weight:700}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;font-size:.9rem;color:#475467}
dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}`;

export function renderErrorPage(ctx: ErrorBodyContext): string {
  const { failure, proxyName, requestId } = ctx;
  // errors.detail: minimal draws the hop without its name.
  const nextHop = ctx.nextHop !== undefined && ctx.minimal ? 'upstream' : ctx.nextHop;
  const reason = REASONS[failure.status] ?? 'Error';
  const shape = failure.kind.shape;
  // An answer the client's own limit refused (CLIENTS_DOING) is no failure of the upstream's.
  const upstreamFailed =
    shape !== 'client' && shape !== 'gateway' && shape !== 'internal' && !failure.clientsDoing;
  const gatewayBad = shape === 'internal';
  const hops =
    `<span class="hop${shape === 'client' ? ' bad' : ''}">You</span>` +
    `<span class="link${shape === 'client' ? ' bad' : ''}">${shape === 'client' ? '✕' : '→'}</span>` +
    `<span class="hop${gatewayBad ? ' bad' : ''}">${escapeHtml(proxyName)}</span>` +
    (nextHop === undefined
      ? ''
      : `<span class="link${upstreamFailed ? ' bad' : ''}">${upstreamFailed ? '✕' : '→'}</span>` +
        `<span class="hop${upstreamFailed ? ' bad' : ''}">${escapeHtml(nextHop)}</span>`);
  // A path of this host (the sign-in's own, checked where it was read): never another site's.
  const again =
    failure.signInAgain === undefined
      ? ''
      : `\n<p><a href="${escapeHtml(failure.signInAgain)}">Sign in again</a></p>`;
  const retryAfter =
    failure.retryAfter === undefined ? '' : `<dt>Retry after</dt><dd>${failure.retryAfter} s</dd>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${failure.status} ${escapeHtml(reason)} · ${escapeHtml(failure.kind.title)}</title>
<style>${STYLE}</style></head>
<body><main>
<h1><span class="code">${failure.status}</span> ${escapeHtml(reason)}</h1>
<p><strong>${escapeHtml(failure.kind.title)}.</strong> ${escapeHtml(describeFailure(ctx))}</p>
<div class="hops" aria-label="where it failed">${hops}</div>
<p>${escapeHtml(clientAdvice(failure))}</p>${again}
<dl><dt>Error</dt><dd>${failure.type} (${shape})</dd>${retryAfter}<dt>Request id</dt><dd>${escapeHtml(requestId)}</dd></dl>
<p style="font-size:.85rem;color:#667085">Quote the request id when you report this; it finds the gateway's log line.</p>
</main></body></html>
`;
}
