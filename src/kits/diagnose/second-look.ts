/**
 * When a hop fails in a way that hints at a scheme mix-up, one more connection settles it: a
 * plain port that hangs up on our request is tried with a TLS handshake, and a TLS port whose
 * handshake fails is sent the request in plaintext. Neither changes the verdict's failure type
 * (that is what the gateway sees); they name what is on the port.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type Identification, identify, printable } from './identify.ts';

/** How long a second look may take: a few round trips, never more than the connect timeout. */
export function secondLookBudget(tcpMs: number, connectTimeout: number): number {
  return Math.min(connectTimeout, 400 + 4 * tcpMs);
}

/** Resolves with what a TLS handshake on the port found, or undefined when it is no TLS server. */
export function tryTls(
  address: string,
  port: number,
  servername: string | undefined,
  budgetMs: number,
): Promise<Identification | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: address, port, servername, rejectUnauthorized: false });
    const done = (found: Identification | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(found);
    };
    const timer = setTimeout(() => done(undefined), budgetMs);
    socket.once('secureConnect', () =>
      done({
        what: 'a TLS server',
        evidence: `a TLS handshake on the same port succeeds (${socket.getProtocol() ?? 'TLS'})`,
      }),
    );
    socket.once('error', () => done(undefined));
  });
}

/** Sends `request` in plaintext and names what answers, or undefined when nothing does. */
export function tryPlaintext(
  address: string,
  port: number,
  request: Buffer,
  budgetMs: number,
): Promise<Identification | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      if (length === 0) return resolve(undefined);
      const bytes = Buffer.concat(chunks);
      if (bytes.subarray(0, 5).toString('latin1') === 'HTTP/')
        return resolve({
          what: 'a plain HTTP server',
          evidence: `it answers plaintext with "${printable(bytes)}"`,
        });
      resolve(identify(bytes));
    };
    const timer = setTimeout(done, budgetMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= 4096 || Buffer.concat(chunks).includes('\r\n')) done();
    });
    socket.once('end', done);
    socket.once('error', done);
  });
}
