/**
 * `apprefer serve` as a child process, for the tests that kill it (SIGKILL) or restart it: the
 * real binary, a clean environment (only PATH and what the test passes), output kept for failures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually } from './helpers.ts';

export const BIN = path.resolve('bin/apprefer.js');

export type Served = {
  child: ChildProcess;
  exited: Promise<unknown>;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
};

export function serveProcess(port: number, env: Record<string, string>): Served {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH!,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SECRET_KEY: 'process-test-secret-0123456789abcdef',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, exited: new Promise((r) => child.on('exit', r)), output: () => out };
}

/** Waits for /readyz (the shared test PostgreSQL may be busy with other files: a long wait). */
export async function untilReady(port: number, ms = 90_000): Promise<void> {
  await eventually(
    () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    ms,
  );
}
