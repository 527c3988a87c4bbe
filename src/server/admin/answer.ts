import type { ServerResponse } from 'node:http';

/** What an admin handler answers: a status and a JSON body (problem+json when `problem`). */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly problem?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** A body that is not JSON (the Prometheus exposition), sent as it is. */
  readonly text?: { readonly contentType: string; readonly body: string };
}

/** An RFC 9457 problem: the field of the request at fault when there is one. */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): AdminAnswer {
  return { status, problem: true, body: { title, status, detail, ...extra } };
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
