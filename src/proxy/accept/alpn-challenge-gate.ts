/**
 * ACME's TLS-ALPN-01 validation (RFC 8737) on a TLS listener: a connection whose ClientHello
 * offers `acme-tls/1` alone, for a name being validated now, is answered with that validation's
 * certificate and closed; every other connection goes on to the listener's TLS as it came.
 * node:tls picks a certificate by SNI before it sees ALPN, so the first record is read here
 * (core/tls/client-hello.ts), bounded in bytes and in time, and put back untouched.
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { MAX_HELLO_BYTES, readClientHello } from '../../core/tls/client-hello.ts';

/** The validation certificate for a name being validated now (in a fleet, looked up in its store), or undefined. */
export type AlpnChallengeLookup = (
  servername: string,
) => tls.SecureContext | undefined | Promise<tls.SecureContext | undefined>;

export interface PreTlsStage {
  /** Reads what it must of a new TCP connection, then passes it on (or answers and closes it). */
  admit(socket: Socket, pass: (socket: Socket) => void): void;
}

const ACME_TLS = 'acme-tls/1';

export function createAlpnChallengeGate(lookup: AlpnChallengeLookup, timeoutMs: () => number): PreTlsStage {
  return {
    admit(socket, pass) {
      let seen: Buffer = Buffer.alloc(0);
      const settle = () => {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('end', onGone);
        socket.removeListener('error', onGone);
        socket.removeListener('close', settle);
      };
      const onGone = () => {
        settle();
        socket.destroy();
      };
      // A client that sends no hello in time is cut, as one that sends no request head is.
      const timer = setTimeout(onGone, timeoutMs());
      const onData = (chunk: Buffer) => {
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        const hello = readClientHello(seen);
        if (hello === 'incomplete' && seen.length <= MAX_HELLO_BYTES) return;
        settle();
        socket.pause();
        socket.unshift(seen);
        const found =
          typeof hello === 'object' && hello.alpn.length === 1 && hello.alpn[0] === ACME_TLS
            ? lookup(hello.serverName ?? '')
            : undefined;
        const decide = (context: tls.SecureContext | undefined) =>
          context === undefined ? pass(socket) : answerValidation(socket, context);
        if (!(found instanceof Promise)) return decide(found);
        // Looked up elsewhere (a fleet's Redis): a client that resets meanwhile must not be an
        // uncaught 'error' (no other listener is on the socket yet), nor be passed on once gone.
        socket.on('error', onWaitError);
        found.then(
          (context) => {
            socket.removeListener('error', onWaitError);
            if (!socket.destroyed) decide(context);
          },
          () => socket.destroy(),
        );
      };
      socket.on('data', onData);
      socket.once('end', onGone);
      socket.once('error', onGone);
      // Closed by the gateway itself (a drain, the connection limit): no hello is coming, and
      // the timer would hold the socket until its timeout for nothing.
      socket.once('close', settle);
      // Behind the PROXY gate the socket comes paused (the bytes after its header put back):
      // a 'data' listener alone would not start it, and the handshake would wait for nothing.
      socket.resume();
    },
  };
}

function onWaitError(this: Socket): void {
  this.destroy();
}

/** The handshake with the validation's certificate, then the close: the CA reads nothing more (RFC 8737 §3). */
function answerValidation(socket: Socket, context: tls.SecureContext): void {
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: [ACME_TLS],
  });
  const cut = setTimeout(() => secure.destroy(), 10_000);
  secure.once('secure', () => secure.end());
  secure.once('close', () => clearTimeout(cut));
  secure.on('error', () => secure.destroy());
  // The socket was paused to put the ClientHello back: the TLS socket reads it from there.
}
