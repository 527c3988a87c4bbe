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
import { hostPort } from '../../core/net/host-port.ts';
import { LEVEL2_CIPHERS } from '../../core/net/tls-floor.ts';
import { alpnNotH2, selfConnectFailure } from '../../upstream/connections/connector.ts';
import { formatMs, type ProbePlan, since } from './plan.ts';
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
  const started = performance.now();
  return new Promise((resolve) => {
    const connecting = new Connecting(plan, addresses, started, emit, resolve);
    connecting.arm(budgetMs);
  });
}

/** A socket opened as the gateway's connector opens it: the looked-up addresses, its SNI rule, its ALPN. */
function openSocket(plan: ProbePlan, addresses: readonly LookupAddress[]): net.Socket {
  const lookup: net.LookupFunction = (_host, options, callback) => {
    const cb = callback as (err: null, address: string | LookupAddress[], family?: number) => void;
    if (options.all) cb(null, [...addresses]);
    else cb(null, addresses[0].address, addresses[0].family);
  };
  const socket =
    plan.protocol === 'https:'
      ? tls.connect({
          host: plan.hostname,
          port: plan.port,
          lookup,
          servername: plan.tls.servername,
          ca: plan.tls.ca,
          crl: plan.tls.crl,
          cert: plan.tls.cert,
          key: plan.tls.key,
          // As the gateway connects (tls-floor.ts).
          ciphers: LEVEL2_CIPHERS,
          rejectUnauthorized: false,
          ALPNProtocols: [plan.httpVersion === 'h2' ? 'h2' : 'http/1.1'],
        })
      : net.connect({ host: plan.hostname, port: plan.port, lookup });
  socket.setNoDelay(true);
  return socket;
}

/** One connection on its way through TCP and TLS, each event told as a step, settled once. */
class Connecting {
  readonly #plan: ProbePlan;
  readonly #emit: (step: Step) => void;
  readonly #resolve: (result: Connected) => void;
  readonly #socket: net.Socket;
  readonly #started: number;
  #tcpMs = 0;
  #phase: 'tcp' | 'tls' = 'tcp';
  #address: string;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    plan: ProbePlan,
    addresses: readonly LookupAddress[],
    started: number,
    emit: (step: Step) => void,
    resolve: (result: Connected) => void,
  ) {
    this.#plan = plan;
    this.#emit = emit;
    this.#resolve = resolve;
    this.#started = started;
    this.#address = addresses[0].address;
    this.#socket = openSocket(plan, addresses);
  }

  /** Listens to the socket's events, and times the whole (DNS + TCP + TLS) out at `budgetMs`. */
  arm(budgetMs: number): void {
    this.#socket.on('error', this.#onError);
    this.#socket.once('connect', () => this.#connected());
    this.#socket.once('secureConnect', () => this.#handshaken());
    this.#timer = setTimeout(() => this.#timedOut(), Math.max(1, budgetMs));
  }

  #finish(result: { socket?: net.Socket; failure?: Failure }): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#socket.off('error', this.#onError);
    // Until the response reader takes over, an error must not go unheard (it would crash the process).
    this.#socket.on('error', () => {});
    if (result.failure) this.#socket.destroy();
    this.#resolve({ ...result, address: this.#address, tcpMs: this.#tcpMs });
  }

  #connectFacts(code?: string) {
    return { address: this.#address, port: this.#plan.port, timeoutMs: this.#plan.timeouts.connect, code };
  }

  #tlsFacts(extra: Partial<TlsFacts>): TlsFacts {
    return { servername: this.#plan.tls.servername, verified: false, ...extra };
  }

  /** Time spent in the phase under way. */
  #phaseMs(): number {
    return since(this.#phase === 'tcp' ? this.#started : this.#started + this.#tcpMs);
  }

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    const ms = this.#phaseMs();
    const failure = classifyConnectError(err, this.#phase, ms);
    if (this.#phase === 'tcp') {
      this.#emit({
        step: 'connect',
        ok: false,
        ms,
        summary: failure.details,
        notes: [],
        facts: this.#connectFacts(err.code),
      });
    } else {
      const facts = this.#tlsFacts({ code: err.code });
      this.#emit({ step: 'tls', ok: false, ms, summary: failure.details, notes: [], facts });
    }
    this.#finish({ failure });
  };

  /** TCP is up: a connection to itself fails here; plain HTTP is done, TLS begins. */
  #connected(): void {
    const socket = this.#socket;
    const tcpMs = since(this.#started);
    this.#tcpMs = tcpMs;
    this.#address = socket.remoteAddress ?? this.#address;
    const self = selfConnectFailure(socket, tcpMs);
    if (self) {
      this.#emit({
        step: 'connect',
        ok: false,
        ms: tcpMs,
        summary: self.details,
        notes: [],
        facts: this.#connectFacts(),
      });
      return this.#finish({ failure: self });
    }
    this.#phase = 'tls';
    this.#emit({
      step: 'connect',
      ok: true,
      ms: tcpMs,
      summary: `${hostPort(this.#address, this.#plan.port)} in ${formatMs(tcpMs)}`,
      notes: [],
      facts: this.#connectFacts(),
    });
    if (this.#plan.protocol !== 'https:') this.#finish({ socket });
  }

  /** The handshake is done: ALPN and the certificate are judged (an unverified one is the finding). */
  #handshaken(): void {
    const plan = this.#plan;
    const socket = this.#socket;
    const tlsSocket = socket as tls.TLSSocket;
    const ms = since(this.#started + this.#tcpMs);
    const peer = tlsSocket.getPeerCertificate();
    const checkedAs = plan.tls.servername ?? plan.hostname;
    const certificate = describeCertificate(peer, checkedAs);
    const verifyError = tlsSocket.authorized ? undefined : String(tlsSocket.authorizationError);
    const facts = this.#tlsFacts({
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
      this.#emit({ step: 'tls', ok: false, ms, summary: `${version}: ${failure.details}`, notes, facts });
      return this.#finish({ failure });
    }
    if (verifyError === undefined) {
      const summary = `${version}, certificate ${certificate?.subject ?? '(none)'} verified, in ${formatMs(ms)}`;
      this.#emit({ step: 'tls', ok: true, ms, summary, notes, facts });
      return this.#finish({ socket });
    }
    // A name refused is worded from the name checked and the certificate, as Node's check hands
    // them to the gateway (tls.checkServerIdentity's error); authorizationError is a bare code.
    const failure = classifyConnectError({ code: verifyError, host: checkedAs, cert: peer }, 'tls', ms);
    if (plan.tls.insecureSkipVerify) {
      notes.push(
        `not verified (${verifyError}), accepted anyway: the upstream sets tls.insecure_skip_verify`,
      );
      this.#emit({
        step: 'tls',
        ok: true,
        ms,
        summary: `${version}, certificate NOT verified, in ${formatMs(ms)}`,
        notes,
        facts,
      });
      return this.#finish({ socket });
    }
    this.#emit({ step: 'tls', ok: false, ms, summary: `${version}: ${failure.details}`, notes, facts });
    this.#finish({ failure });
  }

  #timedOut(): void {
    const plan = this.#plan;
    const what = this.#phase === 'tcp' ? 'TCP connect' : 'TLS handshake';
    const failure = new Failure('connection_timeout', `${what} not done after ${plan.timeouts.connect} ms`);
    const ms = this.#phaseMs();
    const summary = `timed out after ${formatMs(ms)} (connect timeout ${plan.timeouts.connect} ms, DNS + TCP + TLS)`;
    if (this.#phase === 'tcp')
      this.#emit({ step: 'connect', ok: false, ms, summary, notes: [], facts: this.#connectFacts() });
    else this.#emit({ step: 'tls', ok: false, ms, summary, notes: [], facts: this.#tlsFacts({}) });
    this.#finish({ failure });
  }
}
