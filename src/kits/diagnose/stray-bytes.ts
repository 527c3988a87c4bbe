/**
 * Bytes a target sent past the end of its response, in the read that ended it: a
 * Content-Length smaller than the body it writes, a body on a 204, a second answer. The gateway
 * passes the answer on as framed, closes the connection for the rest and logs "upstream sent
 * bytes past its response" (upstream/connections/http1/connection.ts): diagnose shows them and
 * says so, never "none needed".
 */
import type { ProbeContext } from './context.ts';

/** How much of the stray bytes a note quotes. */
const QUOTED = 40;

/** Where the response ended, as its framing says: "its Content-Length: 3", "a 204 has no body". */
function end(context: ProbeContext): string {
  const body = context.body;
  if (body?.framing === 'content-length') return `its Content-Length: ${body.expected}`;
  if (body?.framing === 'chunked') return 'its last chunk';
  if (context.plan.method === 'HEAD') return 'the answer to a HEAD has no body';
  return `a ${context.head?.status} has no body`;
}

/** The body step's note on the stray bytes; none when the response ended where its framing says. */
export function strayNotes(context: ProbeContext): string[] {
  const stray = context.body?.stray;
  if (stray === undefined) return [];
  const quoted = stray.toString('latin1', 0, QUOTED) + (stray.length > QUOTED ? '…' : '');
  return [`${stray.length} bytes came past the end of the response (${end(context)}): "${quoted}"`];
}

/** The fix for an answer followed by stray bytes; undefined when there were none. */
export function strayFix(context: ProbeContext): string | undefined {
  const stray = context.body?.stray;
  if (stray === undefined) return undefined;
  const body = context.body;
  const kept =
    body?.framing === 'content-length'
      ? ` (clients get the first ${body.expected} bytes of the body, the rest is lost)`
      : '';
  const why =
    body?.framing === 'content-length'
      ? 'its Content-Length is smaller than the body it writes, or it wrote a second answer'
      : body?.framing === 'chunked'
        ? 'it wrote more after the last chunk, or a second answer'
        : 'it wrote a body where none may be, or a second answer';
  return `the upstream sent ${stray.length} bytes past the end of its response (${end(context)}): ${why}. Candor passes on the answer as framed${kept}, closes the connection and logs "upstream sent bytes past its response". Fix the framing the upstream writes.`;
}
