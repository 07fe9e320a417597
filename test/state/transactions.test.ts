/**
 * The project's own $batch writer against Azurite, checked against the SDK: what it stores reads
 * back exactly as what the SDK's createEntity stores, and refusals come back as the SDK's would
 * (a RestError with the failing operation's status), with nothing of the transaction applied.
 */
import { createHttpHeaders, RestError } from "@azure/core-rest-pipeline";
import { odata, TableClient } from "@azure/data-tables";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { azuriteConnectionString } from "../../lib/state/storage.js";
import { entityBytes, entityBytesAtMost, TRANSACTION_BYTES, TRANSACTION_LIMIT } from "../../lib/state/tables.js";
import { submitTransaction, type TableAction } from "../../lib/state/transactions.js";
import { freshStorage, useAzurite } from "../helpers/azurite.js";

const azurite = useAzurite();

async function table(): Promise<TableClient> {
  return (await freshStorage(azurite())).table("baselines");
}

/** An entity as the SDK reads it back (with each value's type when `typed`), without what the service adds. */
async function stored(client: TableClient, partitionKey: string, rowKey: string, typed = false): Promise<Record<string, unknown>> {
  const read = (await client.getEntity(partitionKey, rowKey, { disableTypeConversion: typed })) as Record<string, unknown>;
  return without(read, "etag", "timestamp", "odata.metadata");
}

function without(entity: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entity).filter(([name]) => !names.includes(name)));
}

const PROPERTIES = {
  text: "DESKTOP-7 | powershell.exe | 10.0.0.5 | 5985 — ünïcode",
  small: 42,
  negative: -7,
  epochMs: 1_732_000_000_123,
  fraction: 0.25,
  flag: true,
  off: false,
  when: new Date(Date.UTC(2024, 9, 21, 13, 45, 7, 123)),
  big: 9_007_199_254_740_993n,
  bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
  typedLong: { value: "123", type: "Int64" },
  typedDouble: { value: 3, type: "Double" },
};

describe("entity group transactions written by the project", () => {
  it("store every property type exactly as the SDK's own writes do, and answer with each operation's etag", async () => {
    const client = await table();
    await client.createEntity({ partitionKey: "p", rowKey: "by-sdk", ...PROPERTIES });
    const result = await submitTransaction(client, [
      ["create", { partitionKey: "p", rowKey: "ours", ...PROPERTIES }],
      ["create", { partitionKey: "p", rowKey: "second", text: "x" }],
    ]);

    expect(result.subResponses.map((r) => r.status)).toEqual([204, 204]);
    const bySdk = without(await stored(client, "p", "by-sdk", true), "rowKey");
    const ours = without(await stored(client, "p", "ours", true), "rowKey");
    expect(ours).toEqual(bySdk);
    expect(ours.when).toEqual({ value: "2024-10-21T13:45:07.123Z", type: "DateTime" });
    expect((await client.getEntity("p", "second")).etag).toBe(result.subResponses[1].etag);
  });

  it("an entity written back as it was read stores no etag or timestamp of its own, as with the SDK", async () => {
    const client = await table();
    await client.createEntity({ partitionKey: "p", rowKey: "a", n: 1 });
    const read = await client.getEntity("p", "a");
    await submitTransaction(client, [["upsert", { ...read, partitionKey: "p", rowKey: "ours" }, "Replace"]]);
    await client.upsertEntity({ ...read, partitionKey: "p", rowKey: "by-sdk" }, "Replace");
    // Typed reads show a stored property as { value, type }; the service's own etag and timestamp are plain.
    const shape = (e: Record<string, unknown>) => Object.entries(e).map(([name, value]) => [name, typeof value]);
    const ours = await client.getEntity("p", "ours", { disableTypeConversion: true });
    expect(shape(ours)).toEqual(shape(await client.getEntity("p", "by-sdk", { disableTypeConversion: true })));
    expect(typeof ours.etag).toBe("string");
    expect(ours.n).toEqual({ value: "1", type: "Int32" });
  });

  it("update by merge or replace, upsert and delete, on keys that need quoting in a URL", async () => {
    const client = await table();
    const partitionKey = "hunt~b03";
    const rowKeys = ["o'brien", "50% off", "a b", "ünï"];
    const created = await submitTransaction(
      client,
      rowKeys.map((rowKey) => ["create", { partitionKey, rowKey, kept: "yes", n: 1 }]),
    );
    const [quote, percent, space, unicode] = created.subResponses.map((r) => r.etag!);

    const changed = await submitTransaction(client, [
      ["update", { partitionKey, rowKey: "o'brien", n: 2 }, "Merge", { etag: quote }],
      ["update", { partitionKey, rowKey: "50% off", n: 3 }, "Replace", { etag: percent }],
      ["upsert", { partitionKey, rowKey: "new one", n: 4 }, "Replace"],
      ["delete", { partitionKey, rowKey: "a b" }, { etag: space }],
      ["delete", { partitionKey, rowKey: "ünï" }, { etag: unicode }],
    ]);

    expect(changed.subResponses).toHaveLength(5);
    expect(await stored(client, partitionKey, "o'brien")).toEqual({ partitionKey, rowKey: "o'brien", kept: "yes", n: 2 });
    expect(await stored(client, partitionKey, "50% off")).toEqual({ partitionKey, rowKey: "50% off", n: 3 });
    expect(await stored(client, partitionKey, "new one")).toEqual({ partitionKey, rowKey: "new one", n: 4 });
    const left = [];
    for await (const e of client.listEntities()) left.push(e.rowKey);
    expect(left.sort()).toEqual(["50% off", "new one", "o'brien"]);
    expect((await client.getEntity(partitionKey, "o'brien")).etag).toBe(changed.subResponses[0].etag);
  });

  it("a stale etag, an existing row or a missing one refuses the whole transaction with that operation's status", async () => {
    const client = await table();
    const [first] = (await submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a", n: 1 }]])).subResponses;
    await client.updateEntity({ partitionKey: "p", rowKey: "a", n: 2 }, "Merge");

    const refusals = await Promise.all(
      [
        // Each begins with an operation that would succeed: none of it may be applied.
        [
          ["create", { partitionKey: "p", rowKey: "b" }],
          ["update", { partitionKey: "p", rowKey: "a", n: 9 }, "Merge", { etag: first.etag }],
        ],
        [
          ["create", { partitionKey: "p", rowKey: "c" }],
          ["create", { partitionKey: "p", rowKey: "a" }],
        ],
        [
          ["create", { partitionKey: "p", rowKey: "d" }],
          ["delete", { partitionKey: "p", rowKey: "a" }, { etag: first.etag! }],
        ],
        [
          ["create", { partitionKey: "p", rowKey: "e" }],
          ["delete", { partitionKey: "p", rowKey: "nothing here" }],
        ],
      ].map((actions) => submitTransaction(client, actions as never).catch((error: unknown) => error)),
    );

    expect(refusals.map((e) => e instanceof RestError && e.statusCode)).toEqual([412, 409, 412, 404]);
    expect((refusals[1] as RestError).code).toBe("EntityAlreadyExists");
    expect((refusals[0] as RestError).message).toMatch(/^1:/);
    const left = [];
    for await (const e of client.listEntities<{ n: number }>()) left.push([e.rowKey, e.n]);
    expect(left).toEqual([["a", 2]]);
  });

  it("a request the service refuses as a whole says so with its status", async () => {
    const client = await table();
    const tooMany = Array.from({ length: 101 }, (_, i): ["create", { partitionKey: string; rowKey: string }] => [
      "create",
      { partitionKey: "p", rowKey: `r${i}` },
    ]);
    const error = await submitTransaction(client, tooMany).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestError);
    expect((error as RestError).statusCode).toBeGreaterThanOrEqual(400);
    const left = [];
    for await (const e of client.listEntities()) left.push(e);
    expect(left).toEqual([]);
  });

  it("a property no Table Storage type fits is refused before anything is sent, naming it", async () => {
    const client = await table();
    await expect(submitTransaction(client, [["create", { partitionKey: "p", rowKey: "a", nested: { a: 1 } }]])).rejects.toThrow(
      /property 'nested' of entity p\/a/,
    );
  });

  it("a connection reset while the body is being sent is tried again (the pipeline's retry), and the transaction is applied", async () => {
    const client = await table();
    const azuriteTable = new URL(azurite().tableUrl);
    // In front of Azurite: the first connection is reset once the body starts coming (the client is still writing it,
    // as when a kept-alive connection the server closed is reused); the next ones pass through.
    let connections = 0;
    const sockets: Socket[] = [];
    const proxy = createServer((socket) => {
      sockets.push(socket);
      if (++connections === 1) {
        socket.once("data", () => socket.resetAndDestroy());
        return;
      }
      const upstream = connect(Number(azuriteTable.port), azuriteTable.hostname);
      sockets.push(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const viaProxy = TableClient.fromConnectionString(
        azuriteConnectionString({ blob: port, queue: port, table: port }),
        client.tableName,
        { allowInsecureConnection: true, retryOptions: { retryDelayInMs: 10 } },
      );
      // About 1.8 MB: far more than one socket write, so the reset lands while it is being sent.
      const actions: TableAction[] = Array.from({ length: 60 }, (_, i) => [
        "create",
        { partitionKey: "p", rowKey: `r${i}`, text: "x".repeat(30_000) },
      ]);
      const result = await submitTransaction(viaProxy, actions);
      expect(result.subResponses).toHaveLength(60);
      expect(connections).toBeGreaterThanOrEqual(2);
      let stored = 0;
      for await (const entity of client.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'p'` } })) if (entity.text) stored++;
      expect(stored).toBe(60);
    } finally {
      // The client keeps its connections alive: closed here, not after Azurite's 5 s keep-alive.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("weigh text as it is sent: JSON escapes and UTF-8 bytes, a lone surrogate escaped", () => {
    const weight = (text: string) => entityBytes({ text }) - entityBytes({ text: "" });
    for (const text of [
      "plain",
      'say "hi"',
      "C:\\Windows\\System32",
      "tab\tand\u0001",
      "\b\f\n\r\u001f\u007f",
      "é and 中文",
      "😀",
      "lone \ud800",
      "low first \udc00\ud800 then a high at the end \ud83d",
      "\u2028",
      "x".repeat(400_000),
    ])
      expect(weight(text), JSON.stringify(text).slice(0, 40)).toBe(Buffer.byteLength(JSON.stringify(text)) - 2);
  });

  it("weigh an entity at most: by a bound when a full transaction of its like fits anyway, exactly when heavier", () => {
    for (const text of ["plain", 'say "hi"', "\u0001\u0002", "é 中 😀", "lone \ud800", "x".repeat(5_000), '"\\'.repeat(25_000)]) {
      const entity = { partitionKey: "p", rowKey: "r", text };
      const atMost = entityBytesAtMost(entity);
      expect(atMost, text.slice(0, 20)).toBeGreaterThanOrEqual(entityBytes(entity));
      if (atMost * TRANSACTION_LIMIT > TRANSACTION_BYTES) expect(atMost, text.slice(0, 20)).toBe(entityBytes(entity));
    }
    // Light: the bound, not counted (six bytes a character); heavy: counted.
    expect(entityBytesAtMost({ text: "x".repeat(5_000) })).toBe(entityBytes({ text: "" }) + 6 * 5_000);
    expect(entityBytesAtMost({ text: "x".repeat(50_000) })).toBe(entityBytes({ text: "x".repeat(50_000) }));
  });

  describe("answers in Azure's own words (recorded shapes, no service)", () => {
    /** A client whose $batch requests get `answer` without going anywhere. */
    function answering(status: number, body: string, headers: Record<string, string> = {}): TableClient {
      const client = TableClient.fromConnectionString(azurite().connectionString, "recorded", { allowInsecureConnection: true });
      client.pipeline.addPolicy({
        name: "recordedAnswer",
        sendRequest: (request) => Promise.resolve({ request, status, headers: createHttpHeaders(headers), bodyAsText: body }),
      });
      return client;
    }
    const batch = (...parts: string[]) =>
      [
        "--batchresponse_5d9a",
        "Content-Type: multipart/mixed; boundary=changesetresponse_e5a1",
        "",
        ...parts.flatMap((part) => [
          "--changesetresponse_e5a1",
          "Content-Type: application/http",
          "Content-Transfer-Encoding: binary",
          "",
          part,
        ]),
        "--changesetresponse_e5a1--",
        "--batchresponse_5d9a--",
        "",
      ].join("\r\n");
    const ACTIONS: TableAction[] = [
      ["create", { partitionKey: "p", rowKey: "a" }],
      ["update", { partitionKey: "p", rowKey: "b", n: 1 }, "Merge", { etag: "W/\"datetime'2024-10-21T10%3A00%3A00Z'\"" }],
    ];

    it("success: each operation's etag, in order", async () => {
      const answer = batch(
        [
          "HTTP/1.1 204 No Content",
          "Content-ID: 1",
          "Preference-Applied: return-no-content",
          "DataServiceVersion: 3.0;",
          "ETag: W/\"datetime'2024-10-21T10%3A00%3A01.1Z'\"",
          "",
          "",
        ].join("\r\n"),
        [
          "HTTP/1.1 204 No Content",
          "Content-ID: 2",
          "DataServiceVersion: 3.0;",
          "ETag: W/\"datetime'2024-10-21T10%3A00%3A01.2Z'\"",
          "",
          "",
        ].join("\r\n"),
      );
      const result = await submitTransaction(answering(202, answer), ACTIONS);
      expect(result.subResponses).toEqual([
        { status: 204, etag: "W/\"datetime'2024-10-21T10%3A00%3A01.1Z'\"" },
        { status: 204, etag: "W/\"datetime'2024-10-21T10%3A00%3A01.2Z'\"" },
      ]);
    });

    it("a refused operation: its status, code and message", async () => {
      const answer = batch(
        [
          "HTTP/1.1 412 Precondition Failed",
          "Content-ID: 2",
          "Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8",
          "",
          '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US","value":"1:The update condition specified in the request was not satisfied."}}}',
        ].join("\r\n"),
      );
      const error = (await submitTransaction(answering(202, answer), ACTIONS).catch((e: unknown) => e)) as RestError;
      expect([error.statusCode, error.code, error.message]).toEqual([
        412,
        "UpdateConditionNotSatisfied",
        "1:The update condition specified in the request was not satisfied.",
      ]);
    });

    it("a whole request refused, with an XML body or in the batch part: the status and the service's code", async () => {
      const xml =
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>RequestBodyTooLarge</Code><Message>The request body is too large.</Message></Error>';
      const tooLarge = (await submitTransaction(answering(413, xml, { "x-ms-error-code": "RequestBodyTooLarge" }), ACTIONS).catch(
        (e: unknown) => e,
      )) as RestError;
      expect([tooLarge.statusCode, tooLarge.code]).toEqual([413, "RequestBodyTooLarge"]);

      const inBatchPart = [
        "--batchresponse_5d9a",
        "Content-Type: application/http",
        "",
        "HTTP/1.1 400 Bad Request",
        "Content-Type: application/json",
        "",
        '{"odata.error":{"code":"InvalidInput","message":{"lang":"en-US","value":"0:One of the request inputs is not valid."}}}',
        "--batchresponse_5d9a--",
      ].join("\r\n");
      const refused = (await submitTransaction(answering(202, inBatchPart), ACTIONS).catch((e: unknown) => e)) as RestError;
      expect([refused.statusCode, refused.code]).toEqual([400, "InvalidInput"]);
    });
  });
});
