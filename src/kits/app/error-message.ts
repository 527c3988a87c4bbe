/**
 * What a thrown value says, for the kit's log lines. An app may throw anything: an object
 * without a prototype (`Object.create(null)`, what `querystring.parse` gives) has no toString,
 * and `String()` of it throws; so does an Error whose `message` getter throws. Describing a
 * failure must never fail itself: thrown from the kit's own catch, it would become an uncaught
 * exception (a listener's throw), an unhandled rejection (its rejection, a readiness check's, a
 * cleanup hook's), and Node would end the process with every request in flight.
 */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return `a thrown ${typeof error} that cannot be read as text`;
  }
}
