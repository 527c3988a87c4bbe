/**
 * When a hop fails in a way that hints at a scheme mix-up, one more connection settles it: a
 * plain port that hangs up on our request is tried with a TLS handshake, a TLS port whose
 * handshake fails is sent the request in plaintext, and a target whose answer to an HTTP/2
 * probe was not HTTP/2 is sent the preface again and its first bytes named. Neither changes the verdict's failure type
 * (that is what the gateway sees); they name what is on the port.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type Identification, identify, printableBytes } from '../../core/http1/impostors.ts';
import type { ProbePlan } from './plan.ts';
import { opensWithSettings, PREFACE_AND_SETTINGS } from './protocol-check.ts';

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
export async function tryPlaintext(
  address: string,
  port: number,
  request: Buffer,
  budgetMs: number,
): Promise<Identification | undefined> {
  const bytes = await firstAnswer(net.connect({ host: address, port }), 'connect', request, budgetMs);
  if (bytes.length === 0) return undefined;
  if (bytes.subarray(0, 5).toString('latin1') === 'HTTP/')
    return { what: 'a plain HTTP server', evidence: `it answers plaintext with "${printableBytes(bytes)}"` };
  return identify(bytes);
}

/**
 * Sends the HTTP/2 connection preface (over TLS with ALPN h2 for an https:// plan, as the
 * probe did) and names what answers when it is not HTTP/2: an HTTP/1.x server's status line, a
 * banner, bytes. Undefined when nothing answers, or when a SETTINGS frame does (the target speaks
 * HTTP/2: what failed came later, and the failure says what).
 */
export async function tryPreface(
  plan: ProbePlan,
  address: string,
  budgetMs: number,
): Promise<Identification | undefined> {
  const servername = plan.tls.servername;
  const bytes =
    plan.protocol === 'https:'
      ? await firstAnswer(
          tls.connect({
            host: address,
            port: plan.port,
            servername,
            cert: plan.tls.cert,
            key: plan.tls.key,
            ALPNProtocols: ['h2'],
            rejectUnauthorized: false,
          }),
          'secureConnect',
          PREFACE_AND_SETTINGS,
          budgetMs,
        )
      : await firstAnswer(
          net.connect({ host: address, port: plan.port }),
          'connect',
          PREFACE_AND_SETTINGS,
          budgetMs,
        );
  if (bytes.length === 0 || opensWithSettings(bytes)) return undefined;
  if (bytes.subarray(0, 5).toString('latin1') === 'HTTP/')
    return {
      what: 'an HTTP/1.x server',
      evidence: `it answers the HTTP/2 connection preface with "${printableBytes(bytes)}"`,
    };
  return identify(bytes);
}

/**
 * Writes `hello` once `ready` fires and gathers the answer's first bytes: up to a line end, 4 KiB,
 * an HTTP/2 frame head, the server's FIN or error, or the budget, whichever comes first.
 */
function firstAnswer(
  socket: net.Socket,
  ready: 'connect' | 'secureConnect',
  hello: Buffer,
  budgetMs: number,
): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, budgetMs);
    socket.once(ready, () => socket.write(hello));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const bytes = Buffer.concat(chunks);
      if (length >= 4096 || bytes.includes('\r\n') || opensWithSettings(bytes)) done();
    });
    socket.once('end', done);
    socket.once('error', done);
  });
}
