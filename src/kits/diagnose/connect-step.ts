/**
 * Hops 2 and 3, TCP connect and TLS handshake, on one socket as the gateway's connector opens
 * it (same lookup order, same SNI rule, same timeout shared with DNS). The handshake never
 * rejects a certificate by itself: a verification failure is reported as the finding, with
 * the certificate's details kept.
 */
import type { LookupAddress } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { classifyConnectError } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import { alpnNotH2, selfConnectFailure } from '../../upstream/connections/connector.ts';
import { formatMs, hostPort, type ProbePlan, since } from './plan.ts';
import { describeCertificate, tlsNotes } from './tls-facts.ts';
import type { Step, TlsFacts } from './types.ts';

interface Connected {
  readonly socket?: net.Socket;
  readonly failure?: Failure;
  /** The address connected to (or tried first). */
  readonly address: string;
  /** TCP connect time, for sizing the second looks. */
  readonly tcpMs: number;
}

/** Opens the connection; `budgetMs` is what the DNS step left of the connect timeout. */
export function connectStep(
  plan: ProbePlan,
  addresses: readonly LookupAddress[],
  budgetMs: number,
  emit: (step: Step) => void,
): Promise<Connected> {
  const https = plan.protocol === 'https:';
  const servername = plan.tls.servername;
  const lookup: net.LookupFunction = (_host, options, callback) => {
    const cb = callback as (err: null, address: string | LookupAddress[], family?: number) => void;
    if (options.all) cb(null, [...addresses]);
    else cb(null, addresses[0].address, addresses[0].family);
  };
  const started = performance.now();
  let tcpMs = 0;
  let phase: 'tcp' | 'tls' = 'tcp';
  let address = addresses[0].address;
  const connectFacts = (code?: string) => ({
    address,
    port: plan.port,
    timeoutMs: plan.timeouts.connect,
    code,
  });

  return new Promise((resolve) => {
    const socket = https
      ? tls.connect({
          host: plan.hostname,
          port: plan.port,
          lookup,
          servername,
          ca: plan.tls.ca,
          cert: plan.tls.cert,
          key: plan.tls.key,
          rejectUnauthorized: false,
          ALPNProtocols: [plan.httpVersion === 'h2' ? 'h2' : 'http/1.1'],
        })
      : net.connect({ host: plan.hostname, port: plan.port, lookup });
    socket.setNoDelay(true);
    let settled = false;
    const finish = (result: Connected) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('error', onError);
      // Until the response reader takes over, an error must not go unheard (it would crash the process).
      socket.on('error', () => {});
      if (result.failure) socket.destroy();
      resolve(result);
    };
    const tlsFacts = (extra: Partial<TlsFacts>): TlsFacts => ({ servername, verified: false, ...extra });

    const onError = (err: NodeJS.ErrnoException) => {
      const ms = since(phase === 'tcp' ? started : started + tcpMs);
      const failure = classifyConnectError(err, phase, ms);
      if (phase === 'tcp') {
        emit({
          step: 'connect',
          ok: false,
          ms,
          summary: failure.details,
          notes: [],
          facts: connectFacts(err.code),
        });
      } else {
        const facts = tlsFacts({ code: err.code });
        emit({ step: 'tls', ok: false, ms, summary: failure.details, notes: [], facts });
      }
      finish({ failure, address, tcpMs });
    };
    socket.on('error', onError);

    socket.once('connect', () => {
      tcpMs = since(started);
      address = socket.remoteAddress ?? address;
      const self = selfConnectFailure(socket, tcpMs);
      if (self) {
        emit({
          step: 'connect',
          ok: false,
          ms: tcpMs,
          summary: self.details,
          notes: [],
          facts: connectFacts(),
        });
        return finish({ failure: self, address, tcpMs });
      }
      phase = 'tls';
      emit({
        step: 'connect',
        ok: true,
        ms: tcpMs,
        summary: `${hostPort(address, plan.port)} in ${formatMs(tcpMs)}`,
        notes: [],
        facts: connectFacts(),
      });
      if (!https) finish({ socket, address, tcpMs });
    });

    socket.once('secureConnect', () => {
      const tlsSocket = socket as tls.TLSSocket;
      const ms = since(started + tcpMs);
      const certificate = describeCertificate(tlsSocket.getPeerCertificate(), servername ?? plan.hostname);
      const verifyError = tlsSocket.authorized ? undefined : String(tlsSocket.authorizationError);
      const facts = tlsFacts({
        protocol: tlsSocket.getProtocol() ?? undefined,
        alpn: tlsSocket.alpnProtocol || undefined,
        certificate,
        verified: tlsSocket.authorized,
        verifyError,
      });
      const notes = tlsNotes(facts);
      const version = `${facts.protocol ?? 'TLS'}${facts.alpn ? `, ${facts.alpn}` : ''}`;
      if (plan.httpVersion === 'h2' && facts.alpn !== 'h2') {
        const failure = alpnNotH2(facts.alpn, ms);
        emit({ step: 'tls', ok: false, ms, summary: `${version}: ${failure.details}`, notes, facts });
        return finish({ failure, address, tcpMs });
      }
      if (verifyError === undefined) {
        const summary = `${version}, certificate ${certificate?.subject ?? '(none)'} verified, in ${formatMs(ms)}`;
        emit({ step: 'tls', ok: true, ms, summary, notes, facts });
        return finish({ socket, address, tcpMs });
      }
      const failure = classifyConnectError({ code: verifyError }, 'tls', ms);
      if (plan.tls.insecureSkipVerify) {
        notes.push(
          `not verified (${verifyError}), accepted anyway: the upstream sets tls.insecure_skip_verify`,
        );
        emit({
          step: 'tls',
          ok: true,
          ms,
          summary: `${version}, certificate NOT verified, in ${formatMs(ms)}`,
          notes,
          facts,
        });
        return finish({ socket, address, tcpMs });
      }
      emit({ step: 'tls', ok: false, ms, summary: `${version}: ${failure.details}`, notes, facts });
      finish({ failure, address, tcpMs });
    });

    const timer = setTimeout(
      () => {
        const what = phase === 'tcp' ? 'TCP connect' : 'TLS handshake';
        const failure = new Failure(
          'connection_timeout',
          `${what} not done after ${plan.timeouts.connect} ms`,
        );
        const ms = since(phase === 'tcp' ? started : started + tcpMs);
        const summary = `timed out after ${formatMs(ms)} (connect timeout ${plan.timeouts.connect} ms, DNS + TCP + TLS)`;
        if (phase === 'tcp')
          emit({ step: 'connect', ok: false, ms, summary, notes: [], facts: connectFacts() });
        else emit({ step: 'tls', ok: false, ms, summary, notes: [], facts: tlsFacts({}) });
        finish({ failure, address, tcpMs });
      },
      Math.max(1, budgetMs),
    );
  });
}
