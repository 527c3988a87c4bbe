/**
 * The RFC 9209 proxy error types that Candor never writes: every other registered type is a
 * key of the failure table (taxonomy.ts). Another proxy may write these; `candor explain
 * --proxy-status` reads them as registered, in words of our own, with the status RFC 9209
 * recommends and the shape they would have in the failure table.
 */
import type { Shape } from './taxonomy.ts';

export interface RegisteredKind {
  /** The status RFC 9209 recommends for it. */
  readonly status: number;
  readonly shape: Shape;
  readonly title: string;
  readonly explanation: string;
}

export const OTHER_REGISTERED_TYPES: Readonly<Record<string, RegisteredKind>> = {
  destination_ip_prohibited: {
    status: 502,
    shape: 'unreachable',
    title: "The next hop's address is not allowed",
    explanation: "the proxy's own policy forbids connecting to the address the next hop's name resolved to",
  },
  http_response_header_size: {
    status: 502,
    shape: 'garbage',
    title: "One of the next hop's response header fields is too large",
    explanation: 'a single header field of the answer is larger than the proxy accepts',
  },
  http_response_body_size: {
    status: 502,
    shape: 'garbage',
    title: "The next hop's response body is too large",
    explanation: 'the body of the answer is larger than the proxy accepts',
  },
  http_response_trailer_size: {
    status: 502,
    shape: 'garbage',
    title: "One of the next hop's trailer fields is too large",
    explanation: 'a single trailer field of the answer is larger than the proxy accepts',
  },
  http_response_content_coding: {
    status: 502,
    shape: 'garbage',
    title: "The next hop's content coding could not be decoded",
    explanation:
      'the proxy had to decode the body (gzip, br…) and could not: it is damaged or not what it says',
  },
  http_upgrade_failed: {
    status: 502,
    shape: 'garbage',
    title: 'The protocol upgrade failed',
    explanation: 'the next hop did not switch protocols as asked (a WebSocket upgrade, say)',
  },
  proxy_configuration_error: {
    status: 500,
    shape: 'gateway',
    title: "The proxy's configuration is wrong",
    explanation: 'the proxy could not handle the request because of a mistake in its own configuration',
  },
};
