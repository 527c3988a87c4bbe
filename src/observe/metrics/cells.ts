/**
 * Where the hot path counts: one cell per label set, found by walking nested Maps keyed by
 * the label values themselves (no key string is built per request), created on first use
 * and kept. prom-client reads the cells when it is scraped (cell-metrics.ts); its own `inc()` and
 * `observe()` validate and hash the labels on every call, which measured 0.5 µs for a counter
 * and 1.5 µs for a histogram: several per request, that was more than the 5% the issue allows
 * on a small response. A cell costs an add, after five comparisons when it is the family's
 * cell asked for last (most requests end as the one before did), else a few Map lookups.
 */

type LabelValue = string | number;
type Labels = Record<string, string>;

/** The cells of one metric, by label values in the order of its label names. */
export class CellFamily<C extends { readonly labels: Labels }> {
  readonly labelNames: readonly string[];
  readonly cells: C[] = [];
  readonly #root = new Map<LabelValue, unknown>();
  readonly #create: (labels: Labels) => C;
  /** The cell last asked for, and its label values. */
  #last: C | undefined = undefined;
  #v0: LabelValue | undefined = undefined;
  #v1: LabelValue | undefined = undefined;
  #v2: LabelValue | undefined = undefined;
  #v3: LabelValue | undefined = undefined;
  #v4: LabelValue | undefined = undefined;

  constructor(labelNames: readonly string[], create: (labels: Labels) => C) {
    if (labelNames.length < 1 || labelNames.length > 5) throw new Error('a cell family has 1 to 5 labels');
    this.labelNames = labelNames;
    this.#create = create;
  }

  /**
   * The cell for these label values (as many as the metric has label names, at most five).
   * Named parameters, not a rest array: an array per call was one allocation per count, and
   * a request makes several.
   */
  cell(v0: LabelValue, v1?: LabelValue, v2?: LabelValue, v3?: LabelValue, v4?: LabelValue): C {
    // The cell asked for last, asked for again: most requests of a route end as the one before
    // did (the same route, status and method), and five comparisons cost less than a Map walk.
    const last = this.#last;
    if (
      last !== undefined &&
      v0 === this.#v0 &&
      v1 === this.#v1 &&
      v2 === this.#v2 &&
      v3 === this.#v3 &&
      v4 === this.#v4
    )
      return last;
    const found = this.#find(v0, v1, v2, v3, v4);
    this.#v0 = v0;
    this.#v1 = v1;
    this.#v2 = v2;
    this.#v3 = v3;
    this.#v4 = v4;
    this.#last = found;
    return found;
  }

  /** The pairs of first two label values that have cells (a target metric's upstream and target). */
  pairs(): [LabelValue, LabelValue][] {
    if (this.labelNames.length < 2) return [];
    const out: [LabelValue, LabelValue][] = [];
    for (const [v0, level] of this.#root)
      for (const v1 of (level as Map<LabelValue, unknown>).keys()) out.push([v0, v1]);
    return out;
  }

  /**
   * Drops every cell whose first two label values are these (a target gone from its upstream):
   * its series leave the scrape. A count made on it later (a request still in flight) starts a
   * new cell, from 0, as a restarted process would.
   */
  forget(v0: LabelValue, v1: LabelValue): void {
    const level = this.#root.get(v0) as Map<LabelValue, unknown> | undefined;
    if (this.labelNames.length < 2 || level?.delete(v1) !== true) return;
    if (level.size === 0) this.#root.delete(v0);
    const [n0, n1] = this.labelNames;
    const [s0, s1] = [String(v0), String(v1)];
    let kept = 0;
    for (const cell of this.cells)
      if (cell.labels[n0] !== s0 || cell.labels[n1] !== s1) this.cells[kept++] = cell;
    this.cells.length = kept;
    this.#last = undefined;
  }

  #find(v0: LabelValue, v1?: LabelValue, v2?: LabelValue, v3?: LabelValue, v4?: LabelValue): C {
    const last = this.labelNames.length - 1;
    let level = this.#root;
    for (let i = 0; i < last; i++) {
      const value = valueAt(i, v0, v1, v2, v3, v4);
      let next = level.get(value) as Map<LabelValue, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const key = valueAt(last, v0, v1, v2, v3, v4);
    const found = level.get(key) as C | undefined;
    if (found !== undefined) return found;
    const labels: Labels = {};
    this.labelNames.forEach((name, i) => {
      labels[name] = String(valueAt(i, v0, v1, v2, v3, v4));
    });
    const created = this.#create(labels);
    level.set(key, created);
    this.cells.push(created);
    return created;
  }
}

/** The i-th of a cell's label values. */
function valueAt(
  i: number,
  v0: LabelValue,
  v1: LabelValue | undefined,
  v2: LabelValue | undefined,
  v3: LabelValue | undefined,
  v4: LabelValue | undefined,
): LabelValue {
  // A value a caller left out is kept as undefined (labelled "undefined"), as the rest array
  // did: a metric's label count is data the type cannot check, and a count must never throw.
  return (i === 0 ? v0 : i === 1 ? v1 : i === 2 ? v2 : i === 3 ? v3 : v4) as LabelValue;
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
