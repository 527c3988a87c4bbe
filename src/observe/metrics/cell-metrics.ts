/**
 * prom-client's counters and histograms whose values are the cells' (cells.ts), read when
 * scraped: the hot path counts into plain numbers, prom-client renders (and the cluster primary
 * aggregates) them.
 */
import type { MetricSpec } from './catalog.ts';
import type { CellFamily, CounterCell, HistogramCell } from './cells.ts';
import { Counter, Histogram, type Registry } from './prom.ts';

/** A metric's prom-client options, from its spec in the catalog. */
export function promOptions(spec: MetricSpec, registry: Registry) {
  return {
    name: spec.name,
    help: spec.help,
    labelNames: spec.labels,
    aggregator: spec.aggregator,
    registers: [registry],
  };
}

/** A prom-client counter whose values are the cells' (read when scraped). */
export class CellCounter extends Counter {
  readonly #family: CellFamily<CounterCell>;
  readonly #departed: () => void;

  constructor(spec: MetricSpec, family: CellFamily<CounterCell>, registry: Registry, departed: () => void) {
    super(promOptions(spec, registry));
    this.#family = family;
    this.#departed = departed;
  }

  override async get(): Promise<Awaited<ReturnType<Counter['get']>>> {
    this.#departed();
    const meta = await super.get();
    return {
      ...meta,
      values: this.#family.cells.map((cell) => ({ labels: cell.labels, value: cell.value })),
    };
  }
}

type HistogramData = Awaited<ReturnType<Histogram['get']>>;

/** A prom-client histogram whose buckets are the cells' (read when scraped). */
export class CellHistogram extends Histogram {
  readonly #family: CellFamily<HistogramCell>;
  readonly #spec: MetricSpec;
  readonly #departed: () => void;

  constructor(spec: MetricSpec, family: CellFamily<HistogramCell>, registry: Registry, departed: () => void) {
    super({ ...promOptions(spec, registry), buckets: [...(spec.buckets ?? [])] });
    this.#family = family;
    this.#spec = spec;
    this.#departed = departed;
  }

  // prom-client renders a histogram from getForPromString() and aggregates it from get().
  override async get(): Promise<HistogramData> {
    return this.getForPromString();
  }

  async getForPromString(): Promise<HistogramData> {
    this.#departed();
    const { name, help, aggregator } = this.#spec;
    const bucketName = `${name}_bucket`;
    const values: HistogramData['values'] = [];
    for (const cell of this.#family.cells) {
      let cumulative = 0;
      cell.bounds.forEach((le, i) => {
        cumulative += cell.counts[i];
        values.push({ labels: { ...cell.labels, le }, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { ...cell.labels, le: '+Inf' }, value: cell.count, metricName: bucketName });
      values.push({ labels: cell.labels, value: cell.sum, metricName: `${name}_sum` });
      values.push({ labels: cell.labels, value: cell.count, metricName: `${name}_count` });
    }
    // prom-client's MetricType is a declared enum whose runtime values are these strings.
    return { name, help, type: 'histogram', aggregator, values } as unknown as HistogramData;
  }
}
