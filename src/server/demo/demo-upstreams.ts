import { startInvalidHeader, startSshBanner } from '../../kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../kits/fault-kit/http-servers.ts';
import { startCloseBeforeHead, startResetMidBody } from '../../kits/fault-kit/reset-faults.ts';
import { startBlackhole } from '../../kits/fault-kit/slow-faults.ts';
import { startSwitchable } from '../../kits/fault-kit/switchable.ts';
import { startRefusing } from '../../kits/fault-kit/unreachable-faults.ts';

interface DemoUpstreams {
  /** DEMO_*_PORT variables for demo.yaml, pointing at the servers just started. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** The demo's upstreams: the fault kit's healthy echo app and one misbehaving server per shape. */
export async function startDemoUpstreams(): Promise<DemoUpstreams> {
  const servers = {
    DEMO_HEALTHY_PORT: await startEcho(),
    DEMO_REFUSED_PORT: await startRefusing(),
    DEMO_SLOW_PORT: await startBlackhole(),
    DEMO_RESET_PORT: await startCloseBeforeHead(),
    DEMO_GARBAGE_PORT: await startSshBanner(),
    DEMO_BADHEADER_PORT: await startInvalidHeader({ variant: 'space-in-name' }),
    DEMO_TRUNCATED_PORT: await startResetMidBody(),
    DEMO_POOL_A_PORT: await startSwitchable(),
    DEMO_POOL_B_PORT: await startSwitchable(),
  };
  // The pool's third target dies and comes back every 10 seconds.
  const flapping = await startSwitchable();
  const flap = setInterval(() => flapping.setMode(flapping.mode === 'ok' ? 'reset' : 'ok'), 10_000);
  flap.unref();
  const env: Record<string, string> = {};
  for (const [name, server] of Object.entries(servers)) env[name] = String(server.port);
  env.DEMO_FLAPPING_PORT = String(flapping.port);
  return {
    env,
    async close() {
      clearInterval(flap);
      await Promise.all([...Object.values(servers).map((s) => s.close()), flapping.close()]);
    },
  };
}
