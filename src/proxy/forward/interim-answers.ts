import { REASONS } from '../../core/failure/wording.ts';
import type { AnswerSink } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { UpstreamHead } from '../../upstream/connections/exchange-contract.ts';
import type { StageRun } from '../stages/stage-run.ts';
import { buildDownstreamHead } from './answer-headers.ts';
import { MAX_INTERIM } from './exchange-options.ts';

/**
 * The interim (1xx) answers an exchange passes on to its client, as a proxy does (RFC 9110
 * §15.2), bounded by MAX_INTERIM by count and by bytes: more are dropped, and counted in the log.
 * Made by the exchange at the first one: most answers have none.
 */
export class InterimAnswers {
  readonly #sink: AnswerSink;
  readonly #record: RequestRecord;
  /** The route's stages, which edit an interim answer's fields (editInterim); undefined: none. */
  readonly #stages: StageRun | undefined;
  /** Interim answers relayed so far, and their fields' bytes. */
  #count = 0;
  #bytes = 0;

  constructor(sink: AnswerSink, record: RequestRecord, stages: StageRun | undefined) {
    this.#sink = sink;
    this.#record = record;
    this.#stages = stages;
  }

  /** One to pass on, with this hop's Via entry for it. */
  relay(head: UpstreamHead, via: string): void {
    // HTTP/1.0 has no 1xx (RFC 9110 §15.2): such a head is no interim answer its server meant,
    // and relayed it would be said in this hop's HTTP/1.1. Read past (it has no body even in
    // HTTP/1.0, RFC 1945 §7.2), it is ignored, as RFC 1945 §9.1 lets a recipient.
    if (head.version === '1.0') {
      this.#record.interimDropped++;
      return;
    }
    // An upstream sending 1xx in a loop would otherwise grow the client's buffer without bound.
    if (this.#count >= MAX_INTERIM.count || this.#bytes >= MAX_INTERIM.bytes) {
      this.#record.interimDropped++;
      return;
    }
    // Hop-by-hop fields out, Via in, as for the final head; then the route's stages' edits (its
    // header rules' `remove` and `set` names: an upstream's X-Powered-By or Server in a 103 is what
    // the route hides or replaces in the 200). An edit that failed: the interim answer is
    // dropped, not sent unedited.
    const built = buildDownstreamHead(head.headers, this.#record.id, via, undefined, false);
    const headers = this.#stages === undefined ? built : this.#stages.editInterim(built);
    if (headers === undefined) {
      this.#record.interimDropped++;
      return;
    }
    // One the client is not reading is not worth more memory: the sink drops it.
    if (!this.#sink.sendInterim(head.status, head.reason || (REASONS[head.status] ?? ''), headers)) {
      this.#record.interimDropped++;
      return;
    }
    this.#count++;
    for (let i = 0; i < headers.length; i++) this.#bytes += headers[i].length + 2;
  }
}
