/** A clock tests move by hand: inject `now` into what judges time, then `advance` past a TTL. */
export function manualClock(start = new Date()) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}
export type ManualClock = ReturnType<typeof manualClock>;
