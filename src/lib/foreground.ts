/**
 * Foreground before background, within one process. The SDK writers (events, installs) say when
 * their queue backs up; background senders (conversion forwarding) then slow down instead of
 * taking the CPU and connections ingestion needs. Deliveries wait a little; nothing is dropped.
 */

/** How long one "backing up" signal counts. */
const BUSY_MS = 250;

let busyUntil = 0;

export const foreground = {
  /** A writer's queue backs up (more work queued than its transactions in flight can take). */
  busy(): void {
    busyUntil = Date.now() + BUSY_MS;
  },
  /** Whether ingestion backed up within the last BUSY_MS. */
  isBusy(): boolean {
    return Date.now() < busyUntil;
  },
};
