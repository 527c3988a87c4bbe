import { type ServerResponse, STATUS_CODES } from 'node:http';

/** What an admin handler answers: a status and a JSON body (problem+json when `problem`). */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly problem?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** A body that is not JSON (the Prometheus exposition), sent as it is. */
  readonly text?: { readonly contentType: string; readonly body: string };
}

/** Where RFC 9110 renamed a status Node still calls by its older name. */
const PHRASES: Readonly<Record<number, string>> = { 413: 'Content Too Large' };

/**
 * An RFC 9457 problem: the field of the request at fault when there is one. A title that is its
 * status's own phrase ("Bad request", "Not found") is the problem `about:blank` stands for, and
 * the body has no `type` (§4.2.1); one of its own ("Invalid config", "Draining") names a problem of
 * its own, so the body names its type (§3.1.1), made of the title (`urn:candor:admin:draining`):
 * one type, one title (§3.1.3), where about:blank's title would be the status phrase's.
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): AdminAnswer {
  const own = title.toLowerCase() !== (PHRASES[status] ?? STATUS_CODES[status])?.toLowerCase();
  const type = own ? { type: `urn:candor:admin:${title.toLowerCase().replaceAll(' ', '-')}` } : {};
  return { status, problem: true, body: { ...type, title, status, detail, ...extra } };
}

/** A bad request naming the field at fault. */
export function badField(field: string, detail: string): AdminAnswer {
  return problem(400, 'Bad request', `${field}: ${detail}`, { field });
}

export function send(res: ServerResponse, answer: AdminAnswer): void {
  const text = answer.text?.body ?? `${JSON.stringify(answer.body, null, 2)}\n`;
  res.writeHead(answer.status, {
    'content-type':
      answer.text?.contentType ?? (answer.problem ? 'application/problem+json' : 'application/json'),
    'cache-control': 'no-store',
    // A problem's detail quotes what the request sent: read as its type only.
    'x-content-type-options': 'nosniff',
    // No answer of the admin API is a page to put in another site's frame (a reload button
    // under a decoy, a JSON answer read by a frame's tricks): CSP for today's browsers, the
    // older header for the rest. An answer with a policy of its own (the status page's) gives it.
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
    ...answer.headers,
  });
  res.end(text);
}
