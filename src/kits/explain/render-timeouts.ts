import { plural, readableDuration } from './text-table.ts';
import { MIN_FOR_P99, type TimeoutFinding } from './timeout-advice.ts';

/** The Timeouts section of `candor explain`'s text: what each upstream's timeouts say, and what to do. */

/**
 * The shortest and longest wait as the lines gave them (2001–2003 ms): "all waited" is a claim
 * about every line, so it quotes their extremes, never a rounded bucket of them.
 */
function exactRange(min: number, max: number): string {
  const ms = (value: number) => `${Number(value.toFixed(3))}`;
  if (min >= 100_000)
    return readableDuration(min) === readableDuration(max)
      ? readableDuration(min)
      : `${readableDuration(min)}–${readableDuration(max)}`;
  return min === max ? `${ms(min)} ms` : `${ms(min)}–${ms(max)} ms`;
}

/** "grpc-timeout of 150 ms", "grpc-timeout of 100–250 ms". */
function deadlines(d: NonNullable<TimeoutFinding['clientDeadlines']>): string {
  return `grpc-timeout of ${d.minMs === d.maxMs ? d.minMs : `${d.minMs}–${d.maxMs}`} ms`;
}

/**
 * Where the client's deadlines cut the requests: " waiting for the response head" when all did
 * there (or before anything was sent, or mid-body), else each place with its count.
 */
function cutWhere(d: NonNullable<TimeoutFinding['clientDeadlines']>): string {
  const places = [
    [d.notSent, 'before anything was sent'],
    [d.head, 'waiting for the response head'],
    [d.body, 'while the response body streamed'],
  ] as const;
  const cut = places.filter(([n]) => n > 0);
  if (cut.length === 1) return ` ${cut[0][1]}`;
  return `: ${cut.map(([n, where]) => `${n} ${where}`).join(', ')}`;
}

/** One upstream's timeout finding, as the Timeouts section tells it. */
export function timeoutText(t: TimeoutFinding): string {
  const client = t.clientDeadlines;
  if (t.verdict === 'client_deadline' && client !== undefined)
    return [
      `${t.upstream}: ${plural(client.count, 'gRPC request')} ran out of the client's own deadline (${deadlines(client)})${cutWhere(client)}`,
      "  the client gave up before any timeout of the gateway: raise the client's deadline if the work is meant to take that long, or find what makes the upstream slower than it",
    ]
      .map((l) => `  ${l}`)
      .join('\n');
  const lines = [`${t.upstream}: ${plural(t.timeouts, 'request')} timed out waiting for the response head`];
  if (client !== undefined)
    lines.push(
      `  and ${plural(client.count, 'gRPC request')} ran out of the client's own deadline (${deadlines(client)})${cutWhere(client)}; not counted here, no gateway timeout would change them`,
    );
  if (t.waited && t.configuredMs !== undefined) {
    const [low, high] = [readableDuration(t.waited.p10), readableDuration(t.waited.p90)];
    const spread = low === high ? low : `${low}–${high} (p10–p90)`;
    lines.push(
      t.hugsTimeout
        ? `  they all waited ${exactRange(t.waited.min, t.waited.max)}: a timeout of about ${readableDuration(t.configuredMs)} cut them`
        : `  their waits spread over ${spread}: more than one timeout may be at play`,
    );
  }
  const p99 = t.answeredP99Ms;
  // A p99 of fewer than MIN_FOR_P99 requests is their slowest one: it is named as such, and
  // no timeout is suggested from it.
  const measured =
    t.suggestedMs === undefined
      ? `slowest ${readableDuration(p99 ?? 0)} of ${t.answered}`
      : `p99 ${readableDuration(p99 ?? 0)} of ${t.answered}`;
  const tooFew = `    ${t.answered} answered requests are too few to suggest a value from: a p99 takes ${MIN_FOR_P99}`;
  const suggested = `about ${readableDuration(t.suggestedMs ?? 0)} (p99 × 1.5, from ${t.answered} answered requests)`;
  switch (t.verdict) {
    case 'timeout_cuts_slow_work':
      lines.push(
        `  answered requests: ${measured}, close to the timeout: it cuts legitimately slow work`,
        t.suggestedMs === undefined
          ? '  → if the work is meant to take that long, raise the response timeout; otherwise find what makes it slow'
          : t.suggestedFloor
            ? // The cut ones are the slowest: the answered ones' p99 leaves them out.
              `  → if the work is meant to take that long, set the response timeout to at least ${suggested.replace(/^about /, '')}: ${cutWords(t)}, so the upstream's own p99 is above the timeout, and these logs cannot say by how much; otherwise find what makes it slow`
            : `  → if the work is meant to take that long, set the response timeout to ${suggested}; otherwise find what makes it slow`,
      );
      if (t.suggestedMs === undefined) lines.push(tooFew);
      break;
    case 'upstream_hangs':
      lines.push(
        `  answered requests: ${measured}, far below it: these requests hung, the timeout is not what failed`,
        t.suggestedMs === undefined
          ? '  → find what the upstream waits on'
          : `  → find what the upstream waits on; a response timeout of ${suggested} would fail hung requests sooner`,
      );
      if (t.suggestedMs === undefined) lines.push(tooFew);
      break;
    case 'nothing_to_compare':
      lines.push(
        t.answered === 0
          ? '  the upstream answered nothing in these logs: it hangs; the timeout is not the problem, what the upstream waits on is'
          : `  only ${plural(t.answered, 'answered request')}: too few for a p99 to suggest a timeout from`,
      );
      break;
    case 'unmeasured':
      lines.push('  the log does not record how long they waited: no timeout to suggest (see Notes)');
      break;
  }
  return lines.map((l) => `  ${l}`).join('\n');
}

/** "78 of 300 (26%) were cut": the head timeouts measured among the requests that got a head or timed out. */
function cutWords(t: TimeoutFinding): string {
  const cut = t.timeouts;
  const all = t.answered + cut;
  return `${cut} of ${all} (${Math.round((100 * cut) / all)}%) were cut`;
}
