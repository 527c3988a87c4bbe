/**
 * The rows of DESIGN.md's failure table a real misbehaving upstream can make: each one's fault,
 * the upstream's settings, and what the gateway must say of it (its status, RFC 9209 type, shape,
 * and how far the request got). Read by the failure-table tests of each downstream protocol.
 */
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHugeHeader,
  startInvalidHeader,
  startInvalidStatusLine,
  startJsonNotHttp,
  startSshBanner,
} from '../../../src/kits/fault-kit/garbage-faults.ts';
import {
  startCloseBeforeHead,
  startCloseMidHead,
  startResetBeforeHead,
} from '../../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import {
  startClientCertificateRequired,
  startExpiredCertificate,
  startPlainOnTlsPort,
  startSelfSignedCertificate,
  startTlsHandshakeStall,
  startTlsOnPlainPort,
  startWrongHostCertificate,
  type TlsFault,
} from '../../../src/kits/fault-kit/tls-faults.ts';
import {
  startRefusing,
  startUnaccepting,
  UNRESOLVABLE_URL,
  UNROUTABLE_URL,
} from '../../../src/kits/fault-kit/unreachable-faults.ts';

export interface Row {
  readonly name: string;
  readonly start: () => Promise<
    Fault | { url: string; close(): Promise<void>; received?: readonly unknown[] }
  >;
  readonly upstreamYaml?: (fault: Fault) => string;
  readonly status: number;
  readonly error: string;
  readonly shape: string;
  /** Whether the request (head) reached the upstream. */
  readonly reached: boolean;
  /** The log line's stage, when it is not what `reached` says (sent when reached, else not_sent). */
  readonly stage?: string;
  /** Whether the log line says the upstream reset the connection (default false). */
  readonly upstreamReset?: boolean;
  /** Extra Proxy-Status parameter expected, e.g. 'rcode="NXDOMAIN"'. */
  readonly param?: RegExp;
}

export const trustKitCa = (fault: Fault) => `    tls: { ca: ${(fault as TlsFault).caPath} }\n`;
export const quick = '    timeouts: { connect: 500ms, response: 300ms, read: 300ms, total: 5s }\n';
/**
 * A row's upstream fields: its own, else `quick` timeouts for a timeout's row (504) and roomy ones
 * for the others, whose faults answer at once: on a loaded machine one took past 300 ms to close
 * mid-head, and a 502's row got the 504 of its response timeout.
 */
export const upstreamOf = (row: Row, fault: Fault): string =>
  row.upstreamYaml?.(fault) ??
  (row.status === 504 ? quick : '    timeouts: { connect: 5s, response: 5s, read: 5s, total: 15s }\n');

export const ROWS: readonly Row[] = [
  {
    name: 'an unresolvable name is a 502 dns_error, no rcode claimed (ENOTFOUND is NXDOMAIN or no data)',
    start: async () => ({ url: UNRESOLVABLE_URL, close: async () => {} }),
    status: 502,
    error: 'dns_error',
    shape: 'unreachable',
    reached: false,
    param: /details="name does not resolve: no such name, or no address records for it \(ENOTFOUND\)/,
  },
  {
    name: 'a refused connection is a 502 connection_refused',
    start: startRefusing,
    status: 502,
    error: 'connection_refused',
    shape: 'unreachable',
    reached: false,
  },
  {
    name: 'an address no route leads to is a 502 destination_ip_unroutable',
    start: async () => ({ url: UNROUTABLE_URL, close: async () => {} }),
    status: 502,
    error: 'destination_ip_unroutable',
    shape: 'unreachable',
    reached: false,
    param: /details="no route to the upstream \(E[A-Z]+\)/,
  },
  {
    name: 'a connect that never completes is a 504 connection_timeout',
    start: startUnaccepting,
    upstreamYaml: () => '    timeouts: { connect: 200ms }\n',
    status: 504,
    error: 'connection_timeout',
    shape: 'unreachable',
    reached: false,
  },
  {
    name: 'a TLS handshake the upstream never answers is a 504 connection_timeout',
    start: startTlsHandshakeStall,
    upstreamYaml: () => '    timeouts: { connect: 200ms }\n',
    status: 504,
    error: 'connection_timeout',
    shape: 'unreachable',
    reached: false,
    param: /details="TLS handshake not done after 200 ms"/,
  },
  {
    name: "https:// to a plain HTTP port is a 502 tls_protocol_error that says so in words, not OpenSSL's",
    start: startPlainOnTlsPort,
    status: 502,
    error: 'tls_protocol_error',
    shape: 'unreachable',
    reached: false,
    param:
      /details="TLS handshake failed: the upstream answered the ClientHello with something that is not TLS \(a plain HTTP server\? ERR_SSL_WRONG_VERSION_NUMBER\) after [\d.]+ ms"/,
  },
  {
    name: 'an expired certificate is a 502 tls_certificate_error',
    start: startExpiredCertificate,
    upstreamYaml: trustKitCa,
    status: 502,
    error: 'tls_certificate_error',
    shape: 'unreachable',
    reached: false,
  },
  {
    name: 'a certificate for another host is a 502 tls_certificate_error',
    start: startWrongHostCertificate,
    upstreamYaml: trustKitCa,
    status: 502,
    error: 'tls_certificate_error',
    shape: 'unreachable',
    reached: false,
  },
  {
    name: 'a self-signed certificate is a 502 tls_certificate_error',
    start: startSelfSignedCertificate,
    upstreamYaml: trustKitCa,
    status: 502,
    error: 'tls_certificate_error',
    shape: 'unreachable',
    reached: false,
  },
  {
    name: 'a handshake ended by an alert is a 502 tls_alert_received naming the alert',
    start: () => startClientCertificateRequired({ maxVersion: 'TLSv1.2' }),
    upstreamYaml: trustKitCa,
    status: 502,
    error: 'tls_alert_received',
    shape: 'unreachable',
    reached: false,
    param: /alert-id=40; alert-message="handshake_failure"|alert-id=116/,
  },
  {
    name: 'an upstream that accepts and never answers is a 504 http_response_timeout',
    start: startBlackhole,
    upstreamYaml: () => quick,
    status: 504,
    error: 'http_response_timeout',
    shape: 'slow',
    reached: true,
  },
  {
    name: 'a close before the response head is a 502 connection_terminated',
    start: startCloseBeforeHead,
    status: 502,
    error: 'connection_terminated',
    shape: 'reset',
    reached: true,
  },
  {
    name: 'a reset before the response head is a 502 connection_terminated',
    start: startResetBeforeHead,
    status: 502,
    error: 'connection_terminated',
    shape: 'reset',
    reached: true,
    upstreamReset: true,
  },
  {
    name: 'a close in the middle of the head is a 502 connection_terminated',
    start: startCloseMidHead,
    status: 502,
    error: 'connection_terminated',
    shape: 'reset',
    reached: true,
  },
  {
    name: 'an SSH banner is a 502 http_protocol_error',
    start: startSshBanner,
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'a JSON blob instead of a response is a 502 http_protocol_error',
    start: startJsonNotHttp,
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'an invalid status line is a 502 http_protocol_error',
    start: startInvalidStatusLine,
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'a status code below 100 is a 502 http_protocol_error',
    start: () => startInvalidStatusLine({ variant: 'code-below-100' }),
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'a 101 to a request that asked for no upgrade is a 502 http_protocol_error',
    start: () => startInvalidStatusLine({ variant: 'unasked-101' }),
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'an invalid header name is a 502 http_protocol_error',
    start: () => startInvalidHeader({ variant: 'space-in-name' }),
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'a NUL in a header value is a 502 http_protocol_error',
    start: () => startInvalidHeader({ variant: 'nul' }),
    status: 502,
    error: 'http_protocol_error',
    shape: 'garbage',
    reached: true,
  },
  {
    // The TLS server reads the plaintext request and closes without a byte of HTTP.
    name: 'TLS on the port the gateway speaks plain HTTP to is a 502 connection_terminated',
    start: startTlsOnPlainPort,
    status: 502,
    error: 'connection_terminated',
    shape: 'reset',
    reached: false,
    // The gateway wrote its request; the TLS server read it as a bad handshake and closed.
    stage: 'sent',
  },
  {
    name: 'a 64 KiB response header is a 502 http_response_header_section_size',
    start: startHugeHeader,
    status: 502,
    error: 'http_response_header_section_size',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'Content-Length with Transfer-Encoding is a 502 http_response_transfer_coding',
    start: () => startBadFraming({ variant: 'length-and-chunked' }),
    status: 502,
    error: 'http_response_transfer_coding',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'a transfer coding other than chunked is a 502 http_response_transfer_coding, not a gzip body passed as plain',
    start: () => startBadFraming({ variant: 'gzip-not-chunked' }),
    status: 502,
    error: 'http_response_transfer_coding',
    shape: 'garbage',
    reached: true,
  },
  {
    name: 'two different Content-Lengths are a 502 http_response_content_length, http_protocol_error in Proxy-Status',
    start: () => startBadFraming({ variant: 'two-lengths' }),
    status: 502,
    error: 'http_response_content_length',
    shape: 'garbage',
    reached: true,
  },
];
