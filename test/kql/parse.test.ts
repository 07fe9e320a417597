/** parse (simple, relaxed, regex) and parse-where, against the outputs of Microsoft's parse operator examples. */
import { describe, expect, it } from "vitest";
import { q } from "./helpers.js";

const TRACES = `let Traces = datatable(EventText: string) [
  "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=27, sliceNumber=23, lockTime=02/17/2016 08:40:01, releaseTime=02/17/2016 08:40:01, previousLockTime=02/17/2016 08:39:01)",
  "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=nonValidLongValue, sliceNumber=20, lockTime=02/17/2016 08:40:01, releaseTime=nonValidDateTime 08:40:01, previousLockTime=02/17/2016 08:39:01)"
];`;

describe("parse", () => {
  it("simple: a number column before * takes the digits, a column before a literal the text up to it (documented)", () => {
    const rows = q(`${TRACES} Traces | take 1
      | parse EventText with * "resourceName=" resourceName ", totalSlices=" totalSlices: long * "sliceNumber=" sliceNumber: long * "lockTime=" lockTime ", releaseTime=" releaseTime: date "," * "previousLockTime=" previousLockTime: date ")" *
      | project resourceName, totalSlices, sliceNumber, lockTime, releaseTime, previousLockTime`);
    expect(rows).toEqual([
      {
        resourceName: "PipelineScheduler",
        totalSlices: 27,
        sliceNumber: 23,
        lockTime: "02/17/2016 08:40:01",
        releaseTime: "2016-02-17T08:40:01.0000000Z",
        previousLockTime: "2016-02-17T08:39:01.0000000Z",
      },
    ]);
  });

  it("simple is strict: one value not of its type leaves every new column empty", () => {
    const rows = q(
      `${TRACES} Traces | parse EventText with * "totalSlices=" totalSlices: long ", sliceNumber=" sliceNumber: long * | project totalSlices, sliceNumber`,
    );
    expect(rows).toEqual([
      { totalSlices: 27, sliceNumber: 23 },
      { totalSlices: null, sliceNumber: null },
    ]);
  });

  it("relaxed: only the value not of its type is empty (documented)", () => {
    const rows = q(`${TRACES} Traces
      | parse kind=relaxed EventText with * "resourceName=" resourceName ", totalSlices=" totalSlices: long ", sliceNumber=" sliceNumber: long * "lockTime=" lockTime ", releaseTime=" releaseTime: date "," * "previousLockTime=" previousLockTime: date ")" *
      | project totalSlices, sliceNumber, releaseTime`);
    expect(rows).toEqual([
      { totalSlices: 27, sliceNumber: 23, releaseTime: "2016-02-17T08:40:01.0000000Z" },
      { totalSlices: null, sliceNumber: 20, releaseTime: null },
    ]);
  });

  it("regex: literals are expressions and their own groups do not shift the columns' groups (documented)", () => {
    const rows = q(`${TRACES} Traces | take 1
      | parse kind=regex EventText with "(.*?)[a-zA-Z]*=" resourceName @", totalSlices=\\s*\\d+\\s*.*?sliceNumber=" sliceNumber: long ".*?(previous)?lockTime=" lockTime ".*?releaseTime=" releaseTime ".*?previousLockTime=" previousLockTime: date "\\\\)"
      | project resourceName, sliceNumber, lockTime, releaseTime, previousLockTime`);
    expect(rows).toEqual([
      {
        resourceName: "PipelineScheduler",
        sliceNumber: 23,
        lockTime: "02/17/2016 08:40:01, ",
        releaseTime: "02/17/2016 08:40:01, ",
        previousLockTime: "2016-02-17T08:39:01.0000000Z",
      },
    ]);
  });

  it("regex is greedy by default; flags=Ui makes it lazy and case-insensitive (documented)", () => {
    const greedy = q(
      `${TRACES} Traces | take 1 | parse kind=regex EventText with * "resourceName=" resourceName ',' * | project resourceName`,
    );
    expect(greedy).toEqual([
      { resourceName: "PipelineScheduler, totalSlices=27, sliceNumber=23, lockTime=02/17/2016 08:40:01, releaseTime=02/17/2016 08:40:01" },
    ]);
    const lazy = q(
      `${TRACES} Traces | parse kind=regex flags=Ui EventText with * "RESOURCENAME=" resourceName ',' * | project resourceName`,
    );
    expect(lazy).toEqual([{ resourceName: "PipelineScheduler" }, { resourceName: "PipelineScheduler" }]);
  });

  it("a text that does not fit leaves the columns empty", () => {
    expect(q(`print s = "no delimiters here" | parse s with "user=" user " action=" action | project user, action`)).toEqual([
      { user: "", action: "" },
    ]);
  });
});

describe("parse-where", () => {
  it("keeps only the rows that parse, with their values", () => {
    expect(q(`${TRACES} Traces | parse-where EventText with * "totalSlices=" totalSlices: long "," * | project totalSlices`)).toEqual([
      { totalSlices: 27 },
    ]);
  });

  it("kind=regex drops the rows the expression does not match", () => {
    const text = `datatable(s:string)["user=alice id=7", "nothing", "user=bob id=x"] | parse-where kind=regex s with "user=" user @"\\s+id=" id: long | project user, id`;
    expect(q(text)).toEqual([{ user: "alice", id: 7 }]);
  });
});
