import cluster, { type Worker } from 'node:cluster';
import { linesDroppedHere } from '../log/log-writers.ts';
import { METRICS } from './catalog.ts';
import type { Exposition } from './exposition.ts';
import { AggregatorRegistry, type Registry } from './prom.ts';

/**
 * `--workers N`: each worker counts its own requests; the primary, which serves /metrics,
 * asks every worker for its registry over the cluster's IPC channel (prom-client's messages,
 * which the worker's AggregatorRegistry answers) and merges them with prom-client's
 * AggregatorRegistry.aggregate (each metric by the aggregator its catalog row names).
 *
 * The primary gathers them itself, not with prom-client's clusterMetrics(), to keep each
 * worker's last answer: a worker that dies (and is replaced, from 0) would otherwise take its
 * counts out of the sum, and a counter that goes down is a reset to rate() and increase(),
 * which then take the other workers' whole totals for the window's increase (a spike on every
 * graph and alert at each crash). Its counters and histograms as last scraped stay in the sum;
 * what it counted after that scrape is lost (an undercount, never a step down).
 */

type Family = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

const GET_METRICS_REQ = 'prom-client:getMetricsReq';
const GET_METRICS_RES = 'prom-client:getMetricsRes';
/** How long a scrape waits for every worker's answer (prom-client's own bound). */
const ANSWER_MS = 5_000;

/** In a worker: answer the primary's requests with this gateway's registry. */
export function answerPrimaryWith(registry: Registry): void {
  AggregatorRegistry.setRegistries(registry);
  // Constructing it is what installs the worker's listener for the primary's requests.
  new AggregatorRegistry();
}

interface Scrape {
  /** The workers asked that have not answered. */
  readonly waiting: Set<number>;
  /** The answers so far, by worker id (a worker that dies is taken out: its counts are then departed's). */
  readonly answers: Map<number, Family[]>;
  done(error?: Error): void;
}

/**
 * In the primary: renders every worker's metrics, merged (rejects when a worker does not answer
 * within 5 s). `serving`: whether a worker serves (it said so once its gateway was up). The
 * primary makes one at its first scrape and holds it.
 */
export function clusterMetrics(
  serving: (worker: Worker) => boolean,
  /** Families only the primary knows (a fleet's config source, the workers that died), added to the workers' merged. */
  own: () => readonly PrimaryFamily[] = () => [],
): () => Promise<Exposition> {
  const scrapes = new Map<number, Scrape>();
  /** Each live worker's last answer, by worker id. */
  const last = new Map<number, Family[]>();
  /** The counters and histograms of the workers that died, as last scraped, merged. */
  let departed: Family[] = [];
  let next = 0;

  cluster.on('message', (worker: Worker, message: { type?: unknown; requestId?: unknown }) => {
    if (message?.type !== GET_METRICS_RES) return;
    const scrape = scrapes.get(message.requestId as number);
    if (scrape === undefined || !scrape.waiting.delete(worker.id)) return;
    const { error, metrics } = message as { error?: string; metrics?: Family[][] };
    if (error !== undefined || metrics === undefined) return scrape.done(new Error(error ?? 'no metrics'));
    const answer = metrics.flat();
    last.set(worker.id, answer);
    scrape.answers.set(worker.id, answer);
    if (scrape.waiting.size === 0) scrape.done();
  });
  // Its IPC channel gone (its 'disconnect', which comes before its 'exit'), a worker is asked no
  // more: its counts are departed's from then on, or the sum would dip until it exits.
  const gone = (worker: Worker) => {
    const answer = last.get(worker.id);
    last.delete(worker.id);
    if (answer !== undefined) departed = merged([departed, answer.filter(isCounted)]);
    // A scrape under way counts it once, as departed; one that waited for it never gets its
    // answer: the others' go on.
    for (const scrape of scrapes.values()) {
      scrape.answers.delete(worker.id);
      if (scrape.waiting.delete(worker.id) && scrape.waiting.size === 0) scrape.done();
    }
  };
  cluster.on('disconnect', gone);
  cluster.on('exit', gone);

  // Scrapes that come while one is under way take its answer: each asked every worker for its
  // whole registry, and thirty at once on a gateway of 1,000 routes (10 MB a scrape) kept both
  // workers serialising for longer than the 5 s bound, every one a 503, and the ones after too.
  let underWay: Promise<Exposition> | undefined;
  return () => {
    underWay ??= render().finally(() => {
      underWay = undefined;
    });
    return underWay;
  };

  function render(): Promise<Exposition> {
    return new Promise<Exposition>((resolve, reject) => {
      const requestId = next++;
      const answers = new Map<number, Family[]>();
      const timer = setTimeout(() => scrape.done(new Error('Operation timed out.')), ANSWER_MS);
      const scrape: Scrape = {
        waiting: new Set(),
        answers,
        done(error) {
          if (!scrapes.delete(requestId)) return;
          clearTimeout(timer);
          if (error !== undefined) return reject(error);
          const live = [...answers.values()];
          departed = withoutGoneTargets(departed, live);
          const registry = AggregatorRegistry.aggregate([
            ...live,
            departed,
            [...primaryFamilies(), ...own().map(primaryFamily)],
          ]);
          registry.metrics().then((text) => resolve({ contentType: registry.contentType, text }), reject);
        },
      };
      scrapes.set(requestId, scrape);
      // A worker still starting is not asked: the request would reach it before it listens for
      // one, be lost, and fail the whole scrape 5 s later (a 503 after every worker restart). It
      // has served nothing yet: its counts are zeros.
      for (const worker of Object.values(cluster.workers ?? {}))
        if (worker?.isConnected() && serving(worker)) {
          worker.send({ type: GET_METRICS_REQ, requestId });
          scrape.waiting.add(worker.id);
        }
      if (scrape.waiting.size === 0) scrape.done();
    });
  }
}

/**
 * What the primary counts itself: the log lines it dropped (its own writer, on the same
 * destination as the workers'). The workers count only theirs, so a log that refused the
 * primary's lines (a worker's death, a reload) left them out of the gateway's total.
 */
function primaryFamilies(): Family[] {
  const { name, help, type, aggregator } = METRICS.logLinesDropped;
  return [
    {
      name,
      help,
      type: type as unknown as Family['type'],
      aggregator,
      // (A worker's answer, as sent over IPC, has none either: aggregate() reads the values.)
      collect: () => {},
      values: [{ value: linesDroppedHere(), labels: {} }],
    },
  ];
}

/** A family of the catalog with the primary's own values: a gauge, or a counter only it keeps. */
export interface PrimaryFamily {
  readonly metric:
    | 'configSourceRevision'
    | 'configSourceUnreachableSince'
    | 'configSourceRefusedRevision'
    | 'workerExits'
    | 'canaryVerdicts'
    | 'configReloads'
    | 'acmeOrders';
  readonly values: readonly { readonly value: number; readonly labels: Readonly<Record<string, string>> }[];
}

function primaryFamily({ metric, values }: PrimaryFamily): Family {
  const { name, help, type, aggregator } = METRICS[metric];
  return {
    name,
    help,
    type: type as unknown as Family['type'],
    aggregator,
    collect: () => {},
    values: values.map((v) => ({ value: v.value, labels: { ...v.labels } })),
  };
}

/** A family whose values add up over the gateway's life: a gauge is the live workers' alone. */
function isCounted(family: Family): boolean {
  // prom-client's MetricType is a declared enum whose runtime values are these strings.
  const type = family.type as unknown as string;
  return type === 'counter' || type === 'histogram';
}

/** These answers as one, each family by its aggregator (a dead worker's beside the ones before). */
function merged(answers: Family[][]): Family[] {
  const registry = AggregatorRegistry.aggregate(answers);
  return registry.getMetricsAsArray().map((metric) => (metric as unknown as { get(): Family }).get());
}

/**
 * The dead workers' series of targets their upstream no longer has, dropped, as a live worker
 * drops its own (metrics.ts, departedOf): the live targets are the ones candor_target_healthy
 * lists (every target of every upstream a worker runs); an upstream none lists keeps its series.
 */
function withoutGoneTargets(departed: Family[], answers: Family[][]): Family[] {
  const live = new Map<string, Set<string>>();
  for (const answer of answers)
    for (const family of answer)
      if (family.name === 'candor_target_healthy')
        for (const { labels } of family.values) {
          const upstream = String(labels.upstream);
          const targets = live.get(upstream) ?? new Set<string>();
          targets.add(String(labels.target));
          live.set(upstream, targets);
        }
  if (live.size === 0) return departed;
  return departed.map((family) => ({
    ...family,
    values: family.values.filter(({ labels }) => {
      if (labels.upstream === undefined || labels.target === undefined) return true;
      const targets = live.get(String(labels.upstream));
      return targets === undefined || targets.has(String(labels.target));
    }),
  }));
}
