/**
 * Entity group transactions ($batch), written here from Table Storage's documented wire format
 * and sent through the TableClient's own pipeline (its credential, retry, tracing and logging
 * policies), instead of by the SDK's submitTransaction.
 *
 * Why: the SDK assembles a transaction by building a throwaway TableClient and running every
 * operation through a whole request pipeline of its own (mapper-based serialization, URL
 * templating, a tracing span per operation) just to capture its text. That costs about twice what
 * the rest of an operation costs this process, and a replay writes over 100,000 operations (see
 * `npm run bench baselines`, which measures both side by side). It also sends every delete
 * unconditionally (`If-Match: *`); here a delete may carry the etag it was listed with.
 *
 * What is sent is what the SDK sends (same sub-request lines and headers, same property typing:
 * numbers, strings and booleans as they are, Date as Edm.DateTime, bigint as Edm.Int64,
 * Uint8Array as Edm.Binary, `{ value, type }` as typed), and errors are RestErrors with the
 * status and code of the operation that failed, as the SDK throws them. For Table Storage only:
 * the SDK rewrites merges for Cosmos DB's table endpoints, which this project does not use.
 */
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { randomUUID } from "node:crypto";
import { isLocalEndpoint } from "./storage.js";

/** The SDK's actions, and a delete that holds only if the row still has `etag`. */
export type TableAction = TransactionAction | ["delete", { partitionKey: string; rowKey: string }, { etag: string }];

export interface TransactionResult {
  status: number;
  /** One per action, in the actions' order (the service answers in the order it was asked). */
  subResponses: { status: number; etag?: string }[];
}

const CRLF = "\r\n";
const EDM_TYPES = new Set(["Binary", "Boolean", "DateTime", "Double", "Guid", "Int32", "Int64", "String"]);

/** One connection pool for every transaction of the process (the clients' own is not reachable). */
let httpClient: HttpClient | undefined;

/** An OData key literal as it appears in an entity's URL: quotes doubled, then percent-encoded. */
const keyLiteral = (key: string) => encodeURIComponent(key.replace(/'/g, "''"));

/**
 * The SDK's names for the system properties, as the service spells them: an entity read back
 * carries `etag` and `timestamp`, which the service then ignores instead of storing as properties.
 */
const WIRE_NAMES = new Map([
  ["partitionKey", "PartitionKey"],
  ["rowKey", "RowKey"],
  ["etag", "odata.etag"],
  ["timestamp", "Timestamp"],
]);

/** An entity's properties as the service's JSON: the keys' wire names, and an `@odata.type` beside each value JSON cannot type. */
function entityJson(entity: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  const refuse = (name: string, why: string) =>
    new Error(`property '${name}' of entity ${String(entity.partitionKey)}/${String(entity.rowKey)}: ${why}`);
  for (const [name, value] of Object.entries(entity)) {
    const wire = WIRE_NAMES.get(name) ?? name;
    if (value === undefined || value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      out[wire] = value;
    } else if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw refuse(name, "an invalid date");
      out[wire] = value.toISOString();
      out[`${wire}@odata.type`] = "Edm.DateTime";
    } else if (typeof value === "bigint") {
      out[wire] = value.toString();
      out[`${wire}@odata.type`] = "Edm.Int64";
    } else if (value instanceof Uint8Array) {
      out[wire] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
      out[`${wire}@odata.type`] = "Edm.Binary";
    } else if (typeof value === "object" && "value" in value && "type" in value && EDM_TYPES.has(String(value.type))) {
      if (value.value === undefined || value.value === null) throw refuse(name, `a ${String(value.type)} without a value`);
      out[wire] = value.value instanceof Date ? value.value.toISOString() : value.value;
      out[`${wire}@odata.type`] = `Edm.${String(value.type)}`;
    } else {
      throw refuse(name, "no Table Storage type for it");
    }
  }
  return JSON.stringify(out);
}

/** One operation of the change set: request line, headers, blank line, body. */
function subRequest(tableUrl: string, action: TableAction): string {
  const [kind, entity] = action;
  const entityUrl = `${tableUrl}(PartitionKey='${keyLiteral(String(entity.partitionKey))}',RowKey='${keyLiteral(String(entity.rowKey))}')`;
  const json = "application/json";
  switch (kind) {
    case "create":
      return request(
        `POST ${tableUrl}`,
        [`Content-Type: ${json};odata=nometadata`, `Accept: ${json};odata=minimalmetadata`, "Prefer: return-no-content"],
        entity,
      );
    case "update": {
      const etag = action[3]?.etag ?? "*";
      return request(
        `${action[2] === "Replace" ? "PUT" : "PATCH"} ${entityUrl}`,
        [`Content-Type: ${json}`, `Accept: ${json}`, `If-Match: ${etag}`],
        entity,
      );
    }
    case "upsert":
      // Without If-Match, PUT inserts or replaces and PATCH inserts or merges.
      return request(`${action[2] === "Replace" ? "PUT" : "PATCH"} ${entityUrl}`, [`Content-Type: ${json}`, `Accept: ${json}`], entity);
    case "delete": {
      const etag = (action[2] as { etag?: string } | undefined)?.etag ?? "*";
      return request(`DELETE ${entityUrl}`, [`Accept: ${json};odata=minimalmetadata`, `If-Match: ${etag}`]);
    }
  }
}

/** A sub-request: its line, headers, a blank line and the entity's JSON, if it has one (a delete's part ends at the blank line). */
function request(line: string, headers: string[], entity?: Record<string, unknown>): string {
  return [`${line} HTTP/1.1`, ...headers, "DataServiceVersion: 3.0", "", ...(entity ? ["", entityJson(entity)] : [])].join(CRLF);
}

/** The account URL without its query (a SAS), and the query to put after `$batch`. */
function splitAccountUrl(url: string): { base: string; query: string } {
  const at = url.indexOf("?");
  const base = at < 0 ? url : url.slice(0, at);
  return { base: base.endsWith("/") ? base : `${base}/`, query: at < 0 ? "" : url.slice(at) };
}

/** The `odata.error` of a failed answer (or of a failed operation in it) as the SDK throws it. */
function transactionError(text: string, status: number, fallback: string, headerCode?: string): RestError {
  let message = fallback;
  let code = headerCode;
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  if (json) {
    try {
      const error = (JSON.parse(json) as { "odata.error"?: { code?: string; message?: { value?: string } } })["odata.error"];
      message = error?.message?.value ?? message;
      code = error?.code ?? code;
    } catch {
      // Not JSON: the status says enough.
    }
  }
  return new RestError(message, { code, statusCode: status });
}

/**
 * Attempts at a transaction whose connection broke while it was being sent. After a pause every
 * kept-alive connection of the pool may have been closed by the server, and each fails once (up to
 * the 8 transactions the stores send at once), so a few attempts are not enough.
 */
const SEND_ATTEMPTS = 12;

/**
 * Sends through the client's pipeline, whose retry policy covers throttling, server errors and a
 * reset connection, but not EPIPE: a kept-alive connection the server closed (idle too long) while
 * a large body was being written to it. Nothing was applied then, and every action here is safe to
 * repeat anyway (a conditional one fails as a lost race, which its caller handles).
 */
async function send(client: TableClient, request: PipelineRequest): Promise<PipelineResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.pipeline.sendRequest((httpClient ??= createDefaultHttpClient()), request);
    } catch (error) {
      if (attempt >= SEND_ATTEMPTS || (error as RestError).code !== "EPIPE") throw error;
    }
  }
}

/**
 * Runs `actions` (at most 100, all of one partition) as one transaction: all are applied or none.
 * Throws a RestError with the failing operation's status (409 exists, 412 etag changed, 404
 * missing) when the service refuses it.
 */
export async function submitTransaction(client: TableClient, actions: readonly TableAction[]): Promise<TransactionResult> {
  if (!actions.length) return { status: 202, subResponses: [] };
  const { base, query } = splitAccountUrl(client.url);
  const tableUrl = `${base}${client.tableName}`;
  const batch = `batch_${randomUUID()}`;
  const changeset = `changeset_${randomUUID()}`;
  const parts = [`--${batch}`, `content-type: multipart/mixed; boundary=${changeset}`, "", ""];
  for (const action of actions)
    parts.push(`--${changeset}`, "content-type: application/http", "content-transfer-encoding: binary", "", subRequest(tableUrl, action));
  parts.push(`--${changeset}--`, `--${batch}--`, "");
  const pipelineRequest = createPipelineRequest({
    url: `${base}$batch${query}`,
    method: "POST",
    body: parts.join(CRLF),
    headers: createHttpHeaders({
      accept: "application/json",
      "x-ms-version": "2019-02-02",
      DataServiceVersion: "3.0;",
      MaxDataServiceVersion: "3.0;NetFx",
      "Content-Type": `multipart/mixed; boundary=${batch}`,
    }),
    // As the stores' clients allow it: plain http only to this machine (Azurite).
    allowInsecureConnection: isLocalEndpoint(base),
  });
  const response = await send(client, pipelineRequest);
  const text = response.bodyAsText ?? "";
  if (response.status < 200 || response.status >= 300)
    throw transactionError(text, response.status, `transaction failed (HTTP ${response.status})`, response.headers.get("x-ms-error-code"));
  // Sub-responses sit between the change set's boundaries (`--changesetresponse_<id>`).
  const pieces = text.split(/--changesetresponse_[^\r\n]*/).slice(1, -1);
  // A request refused before its change set ran answers in the batch part, with no change set.
  const refused = pieces.length ? undefined : /HTTP\/1\.1 (\d{3})/.exec(text);
  if (refused && Number(refused[1]) >= 300) throw transactionError(text, Number(refused[1]), `transaction failed (answered ${refused[1]})`);
  const subResponses = pieces.map((piece) => {
    const status = Number(/HTTP\/1\.1 (\d{3})/.exec(piece)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`transaction: a sub-response without a status: ${piece.slice(0, 200)}`);
    if (status >= 300) throw transactionError(piece, status, `transaction failed (operation answered ${status})`);
    return { status, etag: /^ETag: (.*?)\r?$/im.exec(piece)?.[1] };
  });
  if (subResponses.length !== actions.length)
    throw new Error(`transaction: ${subResponses.length} answers for ${actions.length} operations (HTTP ${response.status})`);
  return { status: response.status, subResponses };
}
