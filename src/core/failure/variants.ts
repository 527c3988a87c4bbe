/**
 * The cases of a failure type where its kind's explanation would be untrue (a static route's 404
 * has a route; a session store is no upstream's target), each with the explanation its error
 * bodies give instead, in their detail. The title stays the type's: RFC 9457 §3.1.3 asks a
 * problem type's title not to change from occurrence to occurrence, and clients that show it
 * (or group by it) read one problem as one. Every such case is here, in one table, so that what a
 * type can say is read from one place (test/core/failure/problem-titles.test.ts walks it).
 */
import type { FailureType } from './taxonomy.ts';

interface Variant {
  /** The failure type it is a case of: its status, Proxy-Status, retry rule and flag stay that type's. */
  readonly type: FailureType;
  /** In place of the kind's explanation: the detail's words (wording.ts describeFailure). */
  readonly explanation: string;
  /** In place of the kind's fix: what to do about this case (`candor explain`'s check, `candor diagnose`'s fix). */
  readonly fix: string;
}

export const VARIANTS = {
  /** A static route's path with no file under its root (nothing there, a dotfile, a link out of root). */
  static_file_not_found: {
    type: 'destination_not_found',
    explanation: "no file under the route's root answers this path",
    fix: "Check the path against the files under the route's static.root (a file missing or not deployed, a dotfile, a link out of the root); the route matched, so no route is missing.",
  },
  /** A static route out of descriptors opening a file: the kind's own words are of an upstream connection. */
  static_file_descriptors: {
    type: 'proxy_resources_exhausted',
    explanation: 'the gateway could not open the file: it ran out of its own file descriptors',
    fix: "Raise the gateway's open-file limit (ulimit -n, systemd's LimitNOFILE); the route's files are not at fault.",
  },
  /** A file the gateway sends itself that could not be read whole (changed, unreadable): no upstream cut it. */
  own_file_cut: {
    type: 'http_response_incomplete',
    explanation: 'the file being sent could not be read whole',
    fix: 'The file changed, shrank or could not be read while it was sent (the details say which): deploy files by writing a new one and renaming it over the old, never in place; no upstream was involved.',
  },
  /** The Redis that OIDC sessions are kept in did not answer (oidc/session-store.ts). */
  session_store_unavailable: {
    type: 'destination_unavailable',
    explanation:
      'the Redis the signed-in sessions are kept in did not answer, so the session could not be read or written',
    fix: "Bring back the Redis the route's OpenID Connect sessions are kept in (auth.oidc.session.redis), or mend the gateway's way to it; the route's upstream was not asked.",
  },
  /**
   * An auth hop's answer that is good HTTP but none the gateway can use (unusable-answer.ts): its
   * type stays http_protocol_error (502, the garbage shape: DESIGN.md's table for an auth hop).
   */
  unusable_answer: {
    type: 'http_protocol_error',
    explanation: 'the upstream answered in HTTP, but not with an answer the gateway can use',
    fix: "Make the auth hop answer as the gateway reads it (an auth service: 2xx to let in, 401 or 403 to refuse; a JWKS endpoint: a JSON key set), or fix its URL in the route's auth.",
  },
  /**
   * An `h2` upstream whose TLS handshake was done without ALPN selecting h2 (connector.ts
   * alpnNotH2): the type's words ask whether it speaks TLS at all, and its fix is the scheme.
   */
  alpn_not_h2: {
    type: 'tls_protocol_error',
    explanation: 'its TLS server does not speak HTTP/2 (ALPN selected no h2)',
    fix: "Set the upstream's protocol to http1 (the default) for a server that speaks HTTP/1.1 over TLS, or enable HTTP/2 (h2 by ALPN) on the target.",
  },
  /**
   * The no_application_protocol alert (120): the upstream's TLS server speaks none of the
   * protocols ALPN offered, the one the upstream's `protocol` names (classify.ts tlsAlertFailure).
   */
  alpn_refused: {
    type: 'tls_alert_received',
    explanation:
      "its TLS server speaks none of the protocols the gateway offered by ALPN (the upstream's protocol: http/1.1, or h2)",
    fix: "Set the upstream's protocol to the one the target speaks (h2 for an HTTP/2-only server, a gRPC one among them; http1 for one without HTTP/2), or enable that protocol on the target.",
  },
} as const satisfies Readonly<Record<string, Variant>>;

export type VariantName = keyof typeof VARIANTS;
