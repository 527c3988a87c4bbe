/**
 * A request's method as a metric's label value: bounded, whatever token a client sends.
 */

/** RFC 9110 methods (and PATCH) keep their name; anything else is "_OTHER", as OpenTelemetry asks. */
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/** The method as a label value: a client can send any token, and a label must stay bounded. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}
