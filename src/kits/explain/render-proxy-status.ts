/** The text of `candor explain --proxy-status` and `--error`: one block per member or type. */
import { printable } from '../../core/printable.ts';
import type { ExplainedMember, ExplainedType } from './proxy-status-explain.ts';

const line = (label: string, text: string) => `  ${`${label}:`.padEnd(12)}${printable(text, true)}\n`;

function where(member: ExplainedMember): string {
  if (member.of === 1) return 'the only hop that wrote one';
  if (member.position === 1) return 'the hop nearest the origin';
  if (member.position === member.of) return 'the hop nearest the client';
  return `hop ${member.position} from the origin`;
}

function typeLines(error: ExplainedType): string {
  if (error.known === 'unknown')
    return line(
      'error',
      `${error.type}: unknown: not a type of RFC 9209's registry nor of Candor's (another proxy's own; its details may say more)`,
    );
  const origin =
    error.known === 'candor'
      ? `Candor's own; Proxy-Status carries ${error.writtenAs ?? 'no error type'} for it`
      : error.candorWrites === false
        ? 'RFC 9209; Candor never writes it'
        : 'RFC 9209';
  let out = line('error', `${error.type} (${origin}): ${error.title}`);
  out += line('meaning', error.meaning ?? '');
  out += line(
    'status',
    error.candorWrites === false
      ? `${error.status} as RFC 9209 recommends; shape: ${error.shape}`
      : `${error.status} from a Candor gateway; shape: ${error.shape}`,
  );
  for (const other of error.candorCases ?? [])
    out += line('also', `a Candor gateway writes it for ${other.type} (${other.status}): ${other.title}`);
  if (error.advice !== undefined) out += line('retry', error.advice);
  if (error.fix !== undefined) out += line('check', error.fix);
  return out;
}

export function renderMembers(members: readonly ExplainedMember[]): string {
  return members
    .map((member) => {
      let out = `Proxy-Status member ${member.position} of ${member.of}, written by ${printable(member.proxy, true)} (${where(member)})\n`;
      out += `  ${printable(member.summary, true)}\n`;
      if (member.error !== undefined) out += typeLines(member.error);
      // Beside an error, the member's proxy failed after its next hop answered: what it passed
      // on was its own status, never the one received.
      if (member.receivedStatus !== undefined)
        out += line(
          'received',
          member.error === undefined
            ? `${member.receivedStatus}, the next hop's own status, passed on as it came`
            : `${member.receivedStatus}, the next hop's own status; ${member.proxy} failed after it, so its client did not get it`,
        );
      if (member.rcode !== undefined) out += line('rcode', `${member.rcode} (the resolver's answer)`);
      if (member.alertId !== undefined || member.alertMessage !== undefined)
        out += line(
          'tls alert',
          [member.alertId, member.alertMessage].filter((x) => x !== undefined).join(' '),
        );
      if (member.nextHopMeans !== undefined)
        out += line(
          'next hop',
          member.nextHop === undefined
            ? member.nextHopMeans
            : `${JSON.stringify(member.nextHop)}: ${member.nextHopMeans}`,
        );
      if (member.details !== undefined) out += line('details', JSON.stringify(member.details));
      return out;
    })
    .join('\n');
}

export function renderTypes(types: readonly ExplainedType[]): string {
  return types.map((type) => `Error type ${printable(type.type, true)}\n${typeLines(type)}`).join('\n');
}
