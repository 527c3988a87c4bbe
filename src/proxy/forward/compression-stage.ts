import type { CompressionConfig, RouteConfig } from '../../core/config/types.ts';
import type { RouteStage } from '../stages/stage.ts';
import { CompressingSink } from './compressing-sink.ts';
import { partForCodedCopy } from './content-coding.ts';
import { withoutRange } from './request-headers.ts';

/** What compression asks again without: the client's Range, and its If-Range (the whole answer, to compress). */
const WHOLE = ['range', 'if-range'];

/**
 * The route's compression (`routes[].compression`) as a stage: each attempt's answer body goes
 * through a compressing sink (compressing-sink.ts decides by the answer's type, size and the
 * client's Accept-Encoding), and a part (206) this client may splice into a compressed copy is
 * not relayed: the whole answer is asked for at once, without the client's Range and If-Range
 * (content-coding.ts's partForCodedCopy), and judged as one to a request without a Range. A
 * whole 200 that came instead (the If-Range no longer matched, or the upstream ignores Range) is
 * that answer already: judged so as it is, never asked for twice.
 */
export function compressionStage(route: RouteConfig): RouteStage | undefined {
  const config = route.compression;
  if (config === undefined) return undefined;
  return {
    name: 'compression',
    timeoutMs: 0,
    failOpen: false,
    trusted: true,
    start(request) {
      // A background refresh's answer goes to nobody (its cache stores the identity body).
      if (request.background) return undefined;
      return new CompressionRun(config, request.head, request.record);
    },
  };
}

class CompressionRun {
  readonly #config: CompressionConfig;
  #head: ConstructorParameters<typeof CompressingSink>[2];
  readonly #record: ConstructorParameters<typeof CompressingSink>[3];
  #askedWhole = false;
  /** The sink of the attempt under way (wrapSink comes first, with the attempt). */
  #sink: CompressingSink | undefined;

  constructor(
    config: CompressionConfig,
    head: ConstructorParameters<typeof CompressingSink>[2],
    record: ConstructorParameters<typeof CompressingSink>[3],
  ) {
    this.#config = config;
    this.#head = head;
    this.#record = record;
  }

  onUpstreamHead(answer: { readonly status: number; readonly headers: string[] }) {
    // Range is a GET's (RFC 9110 §14.2): another method's 206 is not asked again (a POST would be sent twice).
    if (this.#askedWhole || this.#head.method !== 'GET') return undefined;
    if (!partForCodedCopy(this.#head.headers, answer.status, answer.headers, this.#config)) return undefined;
    // Asked whole, or whole already, the answer is judged as one to a request without a Range.
    this.#head = { ...this.#head, headers: withoutRange(this.#head.headers) };
    if (answer.status === 200 && this.#sink !== undefined) {
      this.#sink.judgeAs(this.#head);
      return undefined;
    }
    this.#askedWhole = true;
    return { askAgainWithout: WHOLE };
  }

  wrapSink(
    sink: ConstructorParameters<typeof CompressingSink>[0],
    budget: ConstructorParameters<typeof CompressingSink>[4],
  ) {
    this.#sink = new CompressingSink(sink, this.#config, this.#head, this.#record, budget);
    return this.#sink;
  }
}
