import type { ChildProcess } from 'node:child_process';

export { freePort } from '../src/lib/net.ts';

/** Waits until a spawned server answers /healthz (any status), failing if it exits first. */
export async function waitUntilUp(port: number, child: ChildProcess) {
  for (;;) {
    if (child.exitCode !== null) throw new Error('server exited during start');
    try { await fetch(`http://127.0.0.1:${port}/healthz`, { redirect: 'manual' }); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
}
