import { describe, expect, it } from "vitest";
import { AlertTurns } from "../../lib/runs/replay.js";

const HOUR = 3_600_000;
const windows = (...ends: number[]) => ends.map((end) => ({ start: end - HOUR, end }));

/** Whether the promise has settled after pending callbacks ran. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("alerts of hunts replayed side by side join incidents by their window's end, then in the hunts' order", () => {
  it("an hourly hunt's alerts wait for no daily hunt; at the day's end the earlier hunt in the order goes first", async () => {
    const turns = new AlertTurns(["daily", "hourly"]);
    const daily = turns.forHunt("daily");
    const hourly = turns.forHunt("hourly");
    // Until a hunt has planned its windows, it may still have one that ends first.
    const early = hourly.turn(windows(HOUR)[0]);
    expect(await settled(early)).toBe(false);
    daily.planned(windows(24 * HOUR));
    hourly.planned(windows(HOUR, 2 * HOUR, 24 * HOUR));
    expect(await settled(early)).toBe(true);
    hourly.done(windows(HOUR)[0]);
    expect(await settled(hourly.turn(windows(2 * HOUR)[0]))).toBe(true);
    // The daily hunt's alerts wait until the hourly hunt has done its windows that end before.
    const dailyTurn = daily.turn(windows(24 * HOUR)[0]);
    expect(await settled(dailyTurn)).toBe(false);
    hourly.done(windows(2 * HOUR)[0]);
    expect(await settled(dailyTurn)).toBe(true);
    // Both at the day's end: the daily hunt is first in the order, so the hourly one waits for it.
    const hourlyLast = hourly.turn(windows(24 * HOUR)[0]);
    expect(await settled(hourlyLast)).toBe(false);
    daily.done(windows(24 * HOUR)[0]);
    expect(await settled(hourlyLast)).toBe(true);
  });

  it("a hunt that finishes its day early (it failed, or left its windows to another instance) holds up no one", async () => {
    const turns = new AlertTurns(["a", "b"]);
    const b = turns.forHunt("b");
    b.planned(windows(HOUR));
    const turn = b.turn(windows(HOUR)[0]);
    expect(await settled(turn)).toBe(false);
    turns.finish("a");
    expect(await settled(turn)).toBe(true);
  });
});
