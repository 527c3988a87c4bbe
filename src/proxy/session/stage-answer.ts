import { Failure } from '../../core/failure/failure.ts';
import type { Admitted } from '../admit/admit-request.ts';
import { buildDownstreamHead } from '../forward/answer-headers.ts';
import type { UpstreamRequest } from '../forward/upstream-request.ts';
import type { BeforeAttemptsVerdict, ForwardedRequest, StageAnswer } from '../stages/stage.ts';
import type { Attempts } from './attempts.ts';
import type { AttemptsOwner } from './attempts-owner.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * A route stage's answer in the upstream's place (stage.ts's StageAnswer: a stored answer) goes
 * out through the one head builder, as a fetched answer's head does: this hop's fields, Via for
 * the version it was first received in (RFC 9110 §7.6.3), then the stages' edits of every answer.
 */
export function sendStageAnswer(req: SessionRequest, owner: AttemptsOwner, answer: StageAnswer): void {
  const { answer: sink, record, runtime, exchange } = req;
  // Said by the stage (it answered): who made the answer is the gateway (originOf), whatever an attempt got.
  record.stageAnswered = true;
  if (sink.closed) return;
  answer.send({
    sink: sink,
    // A body the client is still sending is not read: the connection closes after the answer.
    close: !exchange.bodyComplete,
    budget: exchange.budget,
    nextHop: () => owner.nextHop(),
    responded: (status) => owner.responded(status),
    head: (fields, version, proxyStatus) => {
      const via = version === '1.1' ? runtime.via11 : version === '2' ? runtime.via2 : runtime.via10;
      const built = buildDownstreamHead(fields, record.id, via, proxyStatus, false);
      const edit = owner.answerEdit();
      return edit === undefined ? built : edit(built);
    },
    refused: (failure) => owner.answer(failure),
    cut: (failure) => {
      owner.failed(failure);
      sink.abort();
    },
  });
}

/**
 * The attempts start, unless a route stage settles the request before the first one (stage.ts's
 * onForward, with what every attempt sends): with its answer, or a failure the request ends
 * with as any attempt's (a stage may answer in its place), possibly after waiting: then the
 * wait comes back, for the caller's handler of a bug (undefined: nothing waits).
 */
export function startAttempts(
  req: SessionRequest,
  owner: AttemptsOwner,
  admitted: Admitted,
  attempts: Attempts,
): Promise<void> | undefined {
  const stages = owner.stageRun();
  if (stages === undefined || !stages.forwards) {
    attempts.start();
    return undefined;
  }
  const verdict = stages.onForward(forwardedOf(admitted, attempts.sends));
  if (!(verdict instanceof Promise)) {
    forwarded(req, owner, verdict, attempts);
    return undefined;
  }
  return verdict.then((decided) => forwarded(req, owner, decided, attempts));
}

function forwarded(
  req: SessionRequest,
  owner: AttemptsOwner,
  verdict: BeforeAttemptsVerdict,
  attempts: Attempts,
): void {
  // The client left while a stage decided.
  if (req.answer.closed) return;
  if (verdict === undefined) return attempts.start();
  if (verdict instanceof Failure) return attempts.end(verdict);
  owner.answerWith(verdict);
}

/** What every attempt sends, as the stages meet it before the first one. */
function forwardedOf(admitted: Admitted, sends: UpstreamRequest): ForwardedRequest {
  return {
    upstream: admitted.upstream.name,
    authority: admitted.authority,
    path: admitted.upstreamPath,
    headers: sends.headers,
    addFields: (fields) => sends.addFields(fields),
    dropFields: (names) => sends.askAgainWithout(names),
  };
}
