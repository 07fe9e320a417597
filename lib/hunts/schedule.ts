/** NCRONTAB (six fields: second minute hour day month day-of-week), as Azure Functions timers use. */
import { CronExpressionParser } from "cron-parser";
import { z } from "zod";

export function parseNcrontab(expression: string) {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(`'${expression}' has ${fields.length} fields; NCRONTAB needs six (second minute hour day month day-of-week)`);
  }
  return CronExpressionParser.parse(expression, { tz: "UTC" });
}

export const Ncrontab = z.string().superRefine((value, ctx) => {
  try {
    parseNcrontab(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `invalid NCRONTAB schedule: ${(error as Error).message}` });
  }
});

/** The first occurrence of the schedule strictly after `after`. */
export function nextOccurrence(expression: string, after: Date): Date {
  const parsed = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: after });
  return parsed.next().toDate();
}
