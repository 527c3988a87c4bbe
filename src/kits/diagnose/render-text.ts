/**
 * The report for people: one line per step with a ✓ or ✗ and its timing, printed as the
 * steps happen, then the verdict and the fix. Colour only when the output is a terminal.
 */
import { printable } from '../../core/printable.ts';
import type { DiagnoseEvents, DiagnoseReport } from './diagnose.ts';
import { type ProbePlan, planUrl } from './plan.ts';
import { type DiagnoseOptions, isUrl } from './targets.ts';
import type { Step, TargetReport } from './types.ts';

interface TextOptions {
  readonly color: boolean;
  /** Print every response header under the response line (default true). */
  readonly headers?: boolean;
}

const NOTE_INDENT = ' '.repeat(13);

export function createTextPrinter(write: (text: string) => void, options: TextOptions) {
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  // What a server sent (a banner, a status line, header values) is in the summaries and notes:
  // its control characters are escaped before the printer adds its own colours.
  const shown = (text: string) => printable(text, true);
  const events: DiagnoseEvents = {
    begin(plan: ProbePlan, index: number, total: number) {
      if (plan.viaGateway) write(`\n${paint('1', 'through the gateway')} ${planUrl(plan)}\n`);
      else if (total > 1 || plan.upstream !== null) {
        const of = plan.upstream === null ? '' : ` (upstream "${plan.upstream}")`;
        write(`${index > 0 ? '\n' : ''}${paint('1', 'target')} ${planUrl(plan)}${of}\n`);
      }
    },
    step(step: Step) {
      const mark = step.ok ? paint('32', '✓') : paint('31', '✗');
      write(`  ${mark} ${step.step.padEnd(9)}${shown(step.summary)}\n`);
      const notes = step.step === 'response' && step.ok && options.headers === false ? [] : step.notes;
      for (const note of notes) write(`${NOTE_INDENT}${paint('2', shown(note))}\n`);
    },
    end(report: TargetReport) {
      const { verdict } = report;
      const color = verdict.outcome === 'ok' ? '32' : verdict.outcome === 'upstream_error' ? '33' : '31';
      if (report.protocols) write(`${paint('1', 'protocols:')} ${shown(report.protocols.summary)}\n`);
      write(`${paint(`1;${color}`, 'verdict:')} ${shown(verdict.summary)}\n`);
      write(`${paint('1', 'fix:')} ${shown(verdict.fix)}\n`);
    },
  };
  return {
    events,
    heading(title: string) {
      write(`${paint('1', 'candor diagnose')} ${shown(title)}\n`);
    },
    finish(report: DiagnoseReport) {
      if (report.comparison) write(`\n${paint('1', 'compare:')} ${shown(report.comparison.summary)}\n`);
    },
  };
}

/** The first line: TARGET, and for an upstream the targets, the request and the timeouts it uses. */
export function headingFor(options: DiagnoseOptions, plans: readonly ProbePlan[]): string {
  const direct = plans.filter((plan) => !plan.viaGateway);
  const [first] = direct;
  if (first === undefined) return options.target;
  // The bounds, said before the wait: a silent upstream holds the probe up to them.
  const { timeouts } = first;
  const bounds = `timeouts: connect ${timeouts.connect} ms, response ${timeouts.answer} ms`;
  if (isUrl(options.target)) return `${options.target} (${bounds})`;
  const host = options.host === undefined ? '' : `, Host ${options.host}`;
  const targets = `${direct.length} target${direct.length === 1 ? '' : 's'}`;
  return `${options.target} (${targets} in ${options.config?.source}; ${first.method} ${first.path}${host}; ${bounds})`;
}
