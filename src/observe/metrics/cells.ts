/**
 * Where the hot path counts: one cell per label set, found by walking nested Maps keyed by
 * the label values themselves (no key string is built per request), created on first use
 * and kept. prom-client reads the cells when it is scraped (metrics.ts); its own `inc()` and
 * `observe()` validate and hash the labels on every call, which measured 0.5 µs for a counter
 * and 1.5 µs for a histogram: several per request, that was more than the 5% the issue allows
 * on a small response. A cell costs a few Map lookups and an add.
 */

type LabelValue = string | number;
type Labels = Record<string, string>;

/** The cells of one metric, by label values in the order of its label names. */
export class CellFamily<C> {
  readonly labelNames: readonly string[];
  readonly cells: C[] = [];
  readonly #root = new Map<LabelValue, unknown>();
  readonly #create: (labels: Labels) => C;

  constructor(labelNames: readonly string[], create: (labels: Labels) => C) {
    this.labelNames = labelNames;
    this.#create = create;
  }

  /** The cell for these label values (as many as the metric has label names). */
  cell(...values: LabelValue[]): C {
    let level = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]) as Map<LabelValue, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(values[i], next);
      }
      level = next;
    }
    const found = level.get(values[last]) as C | undefined;
    if (found !== undefined) return found;
    const labels: Labels = {};
    this.labelNames.forEach((name, i) => {
      labels[name] = String(values[i]);
    });
    const created = this.#create(labels);
    level.set(values[last], created);
    this.cells.push(created);
    return created;
  }
}

export class CounterCell {
  readonly labels: Labels;
  value = 0;

  constructor(labels: Labels) {
    this.labels = labels;
  }
}

export class HistogramCell {
  readonly labels: Labels;
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative: summed when scraped); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export function counterFamily(labelNames: readonly string[]): CellFamily<CounterCell> {
  return new CellFamily(labelNames, (labels) => new CounterCell(labels));
}

export function histogramFamily(
  labelNames: readonly string[],
  bounds: readonly number[],
): CellFamily<HistogramCell> {
  return new CellFamily(labelNames, (labels) => new HistogramCell(labels, bounds));
}
