/**
 * The fleet seen from one place: every live gateway's record (those whose lease still runs) and
 * the revision under the key, each gateway flagged when it does not run that revision (a canary
 * gateway running the canary's is not behind); and the config canary, running or last ended.
 */
import type { EtcdClient } from '../../upstream/config-source/etcd-client.ts';
import { canaryLine } from './canary-push.ts';
import {
  type Canary,
  canaryKey,
  canaryOf,
  type GatewayRecord,
  gatewaysPrefix,
  readJson,
} from './fleet-keys.ts';

export interface FleetStatus {
  readonly key: string;
  /** The revision of the document under the key now (0: none), and etcd's revision at the read. */
  readonly latest: number;
  readonly gateways: readonly (GatewayRecord & { readonly behind: boolean; readonly on_canary: boolean })[];
  /** The config canary under way or last ended (its document left out), or null when there was none. */
  readonly canary: (Omit<Canary, 'document'> & { readonly line: string }) | null;
}

export async function fleetStatus(client: EtcdClient, key: string): Promise<FleetStatus> {
  const [doc, records, canaryRead] = await Promise.all([
    client.range(key),
    client.range(gatewaysPrefix(key), { prefix: true }),
    client.range(canaryKey(key)),
  ]);
  const latest = doc.kvs[0]?.modRevision ?? 0;
  const canary = canaryOf(canaryRead.kvs[0]);
  const onCanary = (g: GatewayRecord) =>
    canary?.phase === 'running' && canary.gateways.includes(g.name) && g.revision === canary.revision;
  const gateways = records.kvs
    .map((kv) => readJson<GatewayRecord>(kv.value))
    .filter((record): record is GatewayRecord => record !== undefined && typeof record.name === 'string')
    .map((record) => ({
      ...record,
      // With no config under the key there is no revision to be behind: each keeps what it runs.
      behind: latest !== 0 && record.revision !== latest && !onCanary(record),
      on_canary: onCanary(record),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (canary === undefined) return { key, latest, gateways, canary: null };
  const { document: _document, ...shown } = canary;
  return { key, latest, gateways, canary: { ...shown, line: canaryLine(canary, gateways.length) } };
}

/** The fleet as lines for a terminal: one per gateway, the ones behind marked. */
export function fleetLines(status: FleetStatus): string {
  const revision =
    status.latest === 0
      ? 'no config under the key (none pushed, or it was deleted: each gateway keeps what it runs)'
      : `latest revision ${status.latest}`;
  const head = `${status.key}: ${revision}, ${status.gateways.length} live gateway(s)\n`;
  const rows = status.gateways.map((g) => {
    const state = g.behind
      ? `BEHIND: runs revision ${g.revision}`
      : g.on_canary
        ? `CANARY: runs revision ${g.revision}`
        : `revision ${g.revision}`;
    const refused =
      g.refused === undefined
        ? ''
        : `; refused revision ${g.refused.revision} at ${g.refused.at}: ${g.refused.problems[0] ?? ''}`;
    const away = g.unreachable_since === undefined ? '' : `; source unreachable since ${g.unreachable_since}`;
    return `  ${g.name}  ${g.address}  candor ${g.version}  ${state} (since ${g.since})${refused}${away}\n`;
  });
  const canary =
    status.canary === null
      ? ''
      : `${status.canary.line}${status.canary.phase === 'running' && status.canary.last_look !== undefined ? `\n  look ${status.canary.look}/${status.canary.looks}: ${status.canary.last_look}` : ''}\n`;
  return head + rows.join('') + canary;
}
