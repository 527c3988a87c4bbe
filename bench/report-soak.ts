/** The soak section of RESULTS.md: Candor's worker RSS over minutes of small-c200. */
import * as fmt from './format.ts';
import { FLAT_SHARE, type SoakOutcome, type SoakResult, summariseSoak, WORKER_TARGET_KIB } from './soak.ts';

function signed(share: number): string {
  return `${share >= 0 ? '+' : '−'}${fmt.percent(Math.abs(share))}`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** "10%" for 0.1. */
const FLAT = `${Math.round(FLAT_SHARE * 100)}%`;

function verdict(ok: boolean): string {
  return ok ? 'yes' : '**no**';
}

/** The worker's RSS every `step` seconds (the nearest sample), to show a slope at a glance. */
function series(result: SoakResult): string {
  const step = result.seconds >= 120 ? 30 : Math.max(1, Math.round(result.seconds / 6));
  const picked = [];
  for (let at = step; at <= result.seconds; at += step) {
    const near = result.samples.filter((s) => Math.abs(s.atS - at) <= 1);
    if (near.length === 0) continue;
    const sample = near.reduce((a, b) => (Math.abs(a.atS - at) <= Math.abs(b.atS - at) ? a : b));
    picked.push(`${clock(at)} ${fmt.mib(sample.workerKiB)}`);
  }
  return picked.join(', ');
}

export function soakSection(soak: SoakOutcome): string[] {
  const heading = '## Memory soak: Candor, 1 worker, small-c200';
  if ('skipped' in soak) return [heading, '', `Not run: ${soak.skipped}.`, ''];
  const summary = summariseSoak(soak);
  const intro =
    `Candor alone (\`--workers 1\`: one process, which is the worker) on CPU 0, wrk and the origin on CPU 1, ` +
    `under ${soak.scenario} (200 connections) for ${soak.seconds} s without a warm-up; the worker's VmRSS ` +
    `sampled every second. Targets: under 100 MB (${fmt.mib(WORKER_TARGET_KIB)}) per worker, and flat: ` +
    `every sample from 1 min to the end within ±${FLAT} of the 1-minute sample ` +
    '(a shorter soak takes its reference at a fifth of its length).';
  const lines = [heading, '', intro, ''];
  if (soak.error !== undefined) lines.push(`**${soak.error.slice(0, 300)}**`, '');
  if (summary === undefined) return [...lines, 'Too few samples for the numbers.', ''];
  const run = soak.run;
  const errors =
    run === undefined
      ? '–'
      : `${fmt.percent(run.non2xx / Math.max(1, run.requests))} non-2xx, ${run.socketErrors} socket errors`;
  lines.push(
    '| measure | value |',
    '|---|--:|',
    `| RSS at ${clock(summary.referenceAtS)} (reference) | ${fmt.mib(summary.referenceKiB)} |`,
    `| RSS at the end (${clock(soak.samples[soak.samples.length - 1].atS)}) | ${fmt.mib(summary.endKiB)} |`,
    `| peak RSS (whole soak) | ${fmt.mib(summary.peakKiB)} |`,
    `| change, reference → end | ${signed(summary.change)} |`,
    `| range from the reference on | ${fmt.mib(summary.lowKiB)}–${fmt.mib(summary.highKiB)} |`,
    `| flat within ±${FLAT} | ${verdict(summary.flat)} |`,
    `| under 100 MB per worker (peak) | ${verdict(summary.underTarget)} |`,
    `| req/s over the soak | ${run === undefined ? '–' : fmt.rps(run.rps)} |`,
    `| p99 | ${run === undefined ? '–' : fmt.ms(run.p99Ms)} |`,
    `| errors | ${errors} |`,
    `| other load (share of one core, whole soak) | ${soak.foreign === undefined ? '–' : fmt.percent(soak.foreign)} |`,
    '',
    `Worker RSS over time: ${series(soak)}.`,
    '',
  );
  return lines;
}
