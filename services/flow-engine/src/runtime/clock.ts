// The engine's only source of time. Engine code never calls Date.now(): leases, timers, retry
// delays and deadlines all read a Clock, and SQL takes the time as a parameter ($now), so tests
// move time by advancing a ManualClock instead of sleeping or seeding past timestamps.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  private ms: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.ms = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
