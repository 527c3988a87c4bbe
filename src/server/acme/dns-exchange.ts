import net from 'node:net';
import { hostPort } from '../../core/net/host-port.ts';
import { AcmeProblem } from './acme-problem.ts';

/** A DNS server as DNS-01 reaches it: the update's primary, or an authoritative server checked for the record. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** How long one exchange with a DNS server may take, the connection included. */
export const DNS_EXCHANGE_MS = 10_000;

export function serverLabel(server: DnsServer): string {
  return hostPort(server.host, server.port);
}

/**
 * One message and its answer over TCP (RFC 1035 §4.2.2, RFC 7766: every server speaks it, and an
 * update or a query never comes back truncated), each framed by its two-byte length. The
 * server's failures are told as the hop's: `candor:dns-unreachable` (no connection),
 * `candor:dns-timeout` (no whole answer in time), `candor:dns-bad-answer` (closed before one).
 */
export function dnsExchange(
  server: DnsServer,
  message: Buffer,
  signal?: AbortSignal,
  timeoutMs = DNS_EXCHANGE_MS,
): Promise<Buffer> {
  const label = serverLabel(server);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    let connected = false;
    const done = (err: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer as Buffer);
    };
    const onAbort = () => done(signal?.reason as Error);
    const timer = setTimeout(
      () =>
        done(
          new AcmeProblem(
            'candor:dns-timeout',
            `the DNS server ${label} did not answer within ${timeoutMs / 1000} s${connected ? '' : ' (no connection)'}`,
            0,
          ),
        ),
      timeoutMs,
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      connected = true;
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length, 0);
      // Not ended: a server may take a half-close for the client leaving (RFC 7766 §6.2.3).
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      // The length prefix bounds what is kept: at most 65535 bytes (RFC 1035 §4.2.2).
      if (received.length - 2 >= length) done(undefined, received.subarray(2, 2 + length));
    });
    socket.on('end', () => done(badAnswer(label, 'the connection was closed before a whole answer')));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(
        connected
          ? badAnswer(label, `the connection failed before a whole answer (${err.code ?? err.message})`)
          : new AcmeProblem(
              'candor:dns-unreachable',
              `the DNS server ${label} could not be reached: ${err.code ?? err.message}`,
              0,
            ),
      ),
    );
  });
}

export function badAnswer(label: string, what: string): AcmeProblem {
  return new AcmeProblem('candor:dns-bad-answer', `the DNS server ${label}: ${what}`, 0);
}
