import { type KeyObject, X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import type { AcmeChallengeType } from '../../core/config/listener-config.ts';
import { certificateRequest } from '../../core/tls/csr.ts';
import type { AcmeAuthorization, AcmeChallenge, AcmeClient, AcmeOrder } from './acme-client.ts';
import { AcmeProblem } from './acme-problem.ts';
import { namesMissing } from './servable-certificate.ts';

/**
 * What answers the CA's validation: an HTTP-01 token on the plain listeners, a TLS-ALPN-01
 * certificate on the TLS listener, a DNS-01 TXT record in the zone. `present` resolves once
 * whatever the CA asks answers it (every process that may take its connection, every
 * authoritative server of the zone); `cleanup` takes it away again, also after a `present`
 * that failed half way.
 */
export interface ChallengeSolver {
  present(type: AcmeChallengeType, name: string, token: string, keyAuthorization: string): Promise<void>;
  cleanup(type: AcmeChallengeType, name: string, token: string): Promise<void>;
}

export interface OrderRequest {
  readonly names: readonly string[];
  readonly email?: string;
  /** The certificate's own key (EC P-256): the CSR is signed with it. */
  readonly certificateKey: KeyObject;
  /** The challenges to use, in order of preference. */
  readonly challenges: readonly AcmeChallengeType[];
  /** When the whole order must be done by (performance.now() clock). */
  readonly deadline: number;
  /** The ARI certificate id of the one this renews (RFC 9773 §5), when the CA has ARI. */
  readonly replaces?: string;
  /** Abandons the order at its next wait: the gateway stopped ordering. */
  readonly signal?: AbortSignal;
}

/** An order must finish (every validation, the finalize, the download) within this, waits for DNS aside. */
const ORDER_MS = 5 * 60_000;

/**
 * The time an order of `names` may take (its deadline, and a fleet's lock on it): five minutes,
 * and with DNS-01 each authorization's wait for its record to be seen at every authoritative
 * server (`propagationMs`, acme.dns01.propagation_timeout) on top. Those waits run one after the
 * other, before the CA is asked: a wildcard and its apex, at the default two minutes each, took
 * four of the five, and an order whose records were seen failed `candor:timeout` (its lock
 * lapsing under it in a fleet, another gateway then ordering the same names).
 */
export function orderWindowMs(names: number, propagationMs: number | undefined): number {
  return ORDER_MS + names * (propagationMs ?? 0);
}

/** How long to wait between polls when the CA gives no Retry-After; and the most it may ask for. */
const POLL_MS = 1_000;
const MAX_POLL_MS = 10_000;

/**
 * One certificate order from start to chain (RFC 8555 §7.4): the order, each authorization
 * validated by the first challenge the CA offers that the config allows, the finalize with a
 * CSR for the names, the download. Any refusal is the CA's problem document, thrown as an
 * AcmeProblem: an invalid challenge throws the challenge's own error (`connection`, `dns`,
 * `caa`, `unauthorized`, …), which is what the operator needs to read.
 */
export async function orderCertificate(
  client: AcmeClient,
  solver: ChallengeSolver,
  request: OrderRequest,
): Promise<string> {
  await client.account(request.email);
  let order = await newOrder(client, request);
  await authorize(client, solver, order.authorizations, request);
  order = await pollOrder(client, order, (o) => o.status !== 'pending', request);
  if (order.status !== 'ready') throw orderProblem(order, 'the order is not ready after its authorizations');
  order = await client.finalize(order, certificateRequest(request.names, request.certificateKey));
  order = await pollOrder(client, order, (o) => o.status !== 'processing', request);
  if (order.status !== 'valid' || !order.certificate)
    throw orderProblem(order, 'the order did not become valid after its finalize');
  return servable(await client.certificate(order.certificate), request);
}

/** How far ahead of this clock a new leaf's notBefore may be: a CA's clock a little ahead. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The CA's chain, when it can serve what was ordered: its leaf parses, goes with the key the
 * request was signed with, names every name and is valid now, and the whole chain makes a TLS
 * context with that key (each certificate after the leaf parses too). Anything else is the CA's
 * failure, told as one: saved, it would have been called issued, written over a renewal's still
 * valid certificate, and failed every handshake (an intermediate that is not one), or been
 * served already ended.
 */
function servable(chain: string, request: OrderRequest): string {
  const names = request.names.join(', ');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain);
  } catch (err) {
    throw new AcmeProblem(
      'candor:bad-certificate',
      `the CA's certificate for ${names} is not a PEM certificate (${(err as Error).message})`,
      0,
    );
  }
  if (!leaf.checkPrivateKey(request.certificateKey))
    throw new AcmeProblem(
      'candor:bad-certificate',
      `the CA's certificate for ${names} is not for the key its request was signed with`,
      0,
    );
  const missing = namesMissing(leaf, request.names);
  if (missing.length > 0)
    throw new AcmeProblem(
      'candor:bad-certificate',
      `the CA's certificate does not name ${missing.join(', ')} (it names ${leaf.subjectAltName ?? 'nothing'})`,
      0,
    );
  const now = Date.now();
  if (!(Date.parse(leaf.validTo) > now && Date.parse(leaf.validFrom) <= now + CLOCK_SKEW_MS))
    throw new AcmeProblem(
      'candor:bad-certificate',
      `the CA's certificate for ${names} is not valid now (from ${leaf.validFrom} to ${leaf.validTo})`,
      0,
    );
  try {
    tls.createSecureContext({
      cert: chain,
      key: request.certificateKey.export({ type: 'pkcs8', format: 'pem' }),
    });
  } catch (err) {
    throw new AcmeProblem(
      'candor:bad-certificate',
      `the CA's chain for ${names} cannot be served with its key (${(err as Error).message})`,
      0,
    );
  }
  return chain;
}

/**
 * The order, naming the certificate it renews when the CA has ARI. A CA that counts that one
 * replaced already (`alreadyReplaced`: an earlier order of it was finalized, and its certificate
 * never landed here) is asked again without naming it: naming it in every try would fail each
 * renewal until the certificate ends.
 */
async function newOrder(client: AcmeClient, request: OrderRequest): Promise<AcmeOrder> {
  if (request.replaces === undefined) return client.newOrder(request.names);
  return client.newOrder(request.names, request.replaces).catch((err: unknown) => {
    if (!(err instanceof AcmeProblem) || err.kind !== 'alreadyReplaced') throw err;
    return client.newOrder(request.names);
  });
}

/** An authorization still to be validated, and the challenge chosen for it. */
interface Validation {
  readonly url: string;
  /** The identifier's value: a wildcard's is the name under `*.`, where its DNS-01 record goes. */
  readonly name: string;
  /** The name as ordered, told in a failure: `*.example.com` for a wildcard's, not its apex's. */
  readonly ordered: string;
  readonly type: AcmeChallengeType;
  readonly challenge: AcmeChallenge;
}

/**
 * Every authorization of the order not valid yet, validated by the first challenge the CA offers
 * that the config allows: each one's answer put in place before the CA is asked to validate any,
 * then each asked and awaited, and all taken away after, whatever became of them. A wildcard's
 * and its apex's DNS-01 records share `_acme-challenge.NAME`: validated one after the other, the
 * first one's record was removed and the second one's added within the TTL, and a CA whose
 * resolver kept the first answer (Let's Encrypt's, boulder#5820) found the old value for the
 * second, an `unauthorized` for every such order.
 */
async function authorize(
  client: AcmeClient,
  solver: ChallengeSolver,
  urls: readonly string[],
  request: OrderRequest,
): Promise<void> {
  const validations: Validation[] = [];
  for (const url of urls) {
    const authorization = await client.authorization(url);
    if (authorization.status !== 'valid') validations.push(chosen(url, authorization, request));
  }
  const presented: Validation[] = [];
  try {
    for (const validation of validations) {
      const { type, name, challenge } = validation;
      // Listed first: a DNS-01 record added but not seen in time is removed all the same.
      presented.push(validation);
      await solver.present(type, name, challenge.token, await client.keyAuthorization(challenge.token));
    }
    for (const { challenge } of validations) await client.respond(challenge.url);
    for (const validation of validations) await validated(client, validation, request);
  } catch (err) {
    // The validation's failure is the one told, not a removal's after it.
    await takeAway(solver, presented).catch(() => {});
    throw err;
  }
  await takeAway(solver, presented);
}

/** Every answer presented taken away, each even after another's removal threw (the first such error thrown then). */
async function takeAway(solver: ChallengeSolver, presented: readonly Validation[]): Promise<void> {
  let failed: Error | undefined;
  for (const { type, name, challenge } of presented)
    await solver.cleanup(type, name, challenge.token).catch((err: Error) => {
      failed ??= err;
    });
  if (failed !== undefined) throw failed;
}

/** The first challenge of the config's the CA offers for `authorization`. */
function chosen(url: string, authorization: AcmeAuthorization, request: OrderRequest): Validation {
  const name = authorization.identifier.value;
  const ordered = authorization.wildcard === true ? `*.${name}` : name;
  const challenge = request.challenges
    .map((type) => authorization.challenges.find((c) => c.type === type))
    .find((c): c is AcmeChallenge => c !== undefined);
  if (!challenge)
    throw new AcmeProblem(
      'candor:no-challenge',
      `the CA offers ${authorization.challenges.map((c) => c.type).join(', ') || 'no challenge'} for ${ordered}; acme.challenges allows ${request.challenges.join(', ')}`,
      0,
    );
  return { url, name, ordered, type: challenge.type as AcmeChallengeType, challenge };
}

/** Waits for the CA's verdict on one validation: its challenge's own error when it is not valid. */
async function validated(client: AcmeClient, validation: Validation, request: OrderRequest): Promise<void> {
  const { url, ordered, type, challenge } = validation;
  let authorization: AcmeAuthorization;
  for (;;) {
    authorization = await client.authorization(url);
    if (authorization.status !== 'pending') break;
    await wait(authorization as { retryAfterMs?: number }, request, `the validation of ${ordered}`);
  }
  if (authorization.status !== 'valid') {
    const failed = authorization.challenges.find((c) => c.url === challenge.url);
    const problem = AcmeProblem.from(failed?.error, 0);
    throw new AcmeProblem(problem.type, `${ordered} (${type}): ${problem.detail}`, 0, problem.subproblems);
  }
}

async function pollOrder(
  client: AcmeClient,
  order: AcmeOrder,
  done: (order: AcmeOrder) => boolean,
  request: OrderRequest,
): Promise<AcmeOrder> {
  let current = order;
  while (!done(current)) {
    await wait(current as { retryAfterMs?: number }, request, 'the order');
    current = await client.order(order.url);
  }
  return current;
}

async function wait(resource: { retryAfterMs?: number }, request: OrderRequest, what: string): Promise<void> {
  const ms = Math.min(MAX_POLL_MS, resource.retryAfterMs ?? POLL_MS);
  if (performance.now() + ms > request.deadline)
    throw new AcmeProblem('candor:timeout', `${what} was still pending when the order's time ran out`, 0);
  await sleep(ms, undefined, { signal: request.signal });
}

function orderProblem(order: AcmeOrder, fallback: string): AcmeProblem {
  return order.error ? AcmeProblem.from(order.error, 0) : new AcmeProblem('candor:order', fallback, 0);
}
