/** How often, at most, a flood of one kind of event is told. */
const REPORT_MS = 1_000;

/**
 * `report`, at once for the first event of a quiet spell, then at most once a second with the
 * last event and how many came since: a flood of refused connections (or of anything told this way) is not a flood of lines.
 */
export function reportEverySecond<T>(report: (last: T, count: number) => void): (event: T) => void {
  let waiting = false;
  let count = 0;
  let last: T;
  return (event) => {
    last = event;
    if (waiting) {
      count++;
      return;
    }
    report(event, 1);
    waiting = true;
    setTimeout(function flush() {
      if (count === 0) {
        waiting = false;
        return;
      }
      report(last, count);
      count = 0;
      setTimeout(flush, REPORT_MS).unref();
    }, REPORT_MS).unref();
  };
}
