// A bounded pool: at most `concurrency` steps run at once on this replica, at most `maxQueue` wait.
// The commands consumer reserves a slot BEFORE it claims a step, so a claim is only taken when
// this replica can run it; a full pool leaves the command to another replica or the unclaimed-step
// sweep. A hanging step occupies one slot (until its deadline aborts it), never the consumer.
export interface WorkerPool {
  /** A slot for one task, or null when the pool and its queue are full. */
  reserve(): Slot | null;
  stats(): { active: number; queued: number; reserved: number };
  /** Resolves when nothing is running, queued or reserved. */
  idle(): Promise<void>;
}

export interface Slot {
  run(task: () => Promise<void>): void;
  release(): void;
}

export function createWorkerPool(opts: {
  concurrency: number;
  maxQueue: number;
  onError?: (e: unknown) => void;
}): WorkerPool {
  let active = 0;
  let reserved = 0;
  const queue: Array<() => Promise<void>> = [];
  let idleWaiters: Array<() => void> = [];

  const checkIdle = () => {
    if (active === 0 && queue.length === 0 && reserved === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };
  const pump = () => {
    while (active < opts.concurrency && queue.length > 0) {
      const task = queue.shift()!;
      active += 1;
      void task()
        .catch((e: unknown) => opts.onError?.(e))
        .finally(() => {
          active -= 1;
          pump();
          checkIdle();
        });
    }
  };

  return {
    reserve() {
      if (active + queue.length + reserved >= opts.concurrency + opts.maxQueue) return null;
      reserved += 1;
      let used = false;
      return {
        run(task) {
          if (used) throw new Error('slot already used');
          used = true;
          reserved -= 1;
          queue.push(task);
          pump();
        },
        release() {
          if (used) return;
          used = true;
          reserved -= 1;
          checkIdle();
        },
      };
    },
    stats: () => ({ active, queued: queue.length, reserved }),
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
  };
}
