import type { ListenerConfig } from './types.ts';

/**
 * A listener's identity across a reload: its address, as it binds (so "LOCALHOST:80" is
 * "localhost:80"). The reload's plan keeps, opens and closes listeners by it; the process that
 * reads a config probes every listener's address but those the running gateway holds by it.
 */
export function listenerKey(listener: Pick<ListenerConfig, 'host' | 'port'>): string {
  return `${listener.host.toLowerCase()}:${listener.port}`;
}
