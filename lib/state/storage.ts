/**
 * Clients for the project's tables and queues. In Azure they use the Function App's managed
 * identity (identity-based `AzureWebJobsStorage__*` settings, no keys); locally a connection
 * string to Azurite.
 */
import { TableClient, TableServiceClient } from "@azure/data-tables";
import type { TokenCredential } from "@azure/identity";
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { tableName } from "./keys.js";

export const TABLES = {
  baselines: "baselines",
  runs: "runs",
  findings: "findings",
  suppression: "suppression",
  digests: "digests",
  staged: "staged",
  incidents: "incidents",
  deliveries: "deliveries",
  exceptions: "exceptions",
} as const;
export const QUEUES = { findings: "findings", poison: "findings-poison" } as const;

/** Azurite's well-known development account (public, documented: not a secret). */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** The connection string of an Azurite on these loopback ports, with its well-known development account. */
export function azuriteConnectionString(ports: { blob: number; queue: number; table: number }): string {
  const endpoint = (port: number) => `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${endpoint(ports.blob)};QueueEndpoint=${endpoint(ports.queue)};TableEndpoint=${endpoint(ports.table)};`;
}

/**
 * Whether a connection string or URL points at this machine (Azurite), the one place plain http is
 * allowed: the SDK clients refuse it elsewhere, and so does the transaction writer.
 */
export function isLocalEndpoint(connectionStringOrUrl: string): boolean {
  return /UseDevelopmentStorage=true|127\.0\.0\.1|localhost|\[::1\]/i.test(connectionStringOrUrl);
}

export type StorageConfig =
  | { kind: "connection-string"; connectionString: string; tablePrefix?: string }
  | { kind: "identity"; tableServiceUri: string; queueServiceUri: string; credential: TokenCredential; tablePrefix?: string };

export class Storage {
  private readonly tables = new Map<string, TableClient>();
  private readonly queues = new Map<string, QueueClient>();
  private readonly tableService: TableServiceClient;
  private readonly queueService: QueueServiceClient;
  private readonly prefix: string;
  /** Azurite speaks plain http; the Tables SDK wants that allowed explicitly. */
  private readonly allowInsecureConnection: boolean;

  constructor(readonly config: StorageConfig) {
    this.prefix = config.tablePrefix ?? "hunt";
    this.allowInsecureConnection = config.kind === "connection-string" && isLocalEndpoint(config.connectionString);
    if (config.kind === "connection-string") {
      this.tableService = TableServiceClient.fromConnectionString(config.connectionString, {
        allowInsecureConnection: this.allowInsecureConnection,
      });
      this.queueService = QueueServiceClient.fromConnectionString(config.connectionString);
    } else {
      this.tableService = new TableServiceClient(config.tableServiceUri, config.credential);
      this.queueService = new QueueServiceClient(config.queueServiceUri, config.credential);
    }
  }

  table(name: keyof typeof TABLES): TableClient {
    let client = this.tables.get(name);
    if (!client) {
      const full = tableName(this.prefix, TABLES[name]);
      client =
        this.config.kind === "connection-string"
          ? TableClient.fromConnectionString(this.config.connectionString, full, { allowInsecureConnection: this.allowInsecureConnection })
          : new TableClient(this.config.tableServiceUri, full, this.config.credential);
      this.tables.set(name, client);
    }
    return client;
  }

  queue(name: keyof typeof QUEUES): QueueClient {
    let client = this.queues.get(name);
    if (!client) {
      client = this.queueService.getQueueClient(QUEUES[name]);
      this.queues.set(name, client);
    }
    return client;
  }

  /** Creates every table and queue that is missing (idempotent). */
  async ensure(): Promise<void> {
    await Promise.all(
      (Object.keys(TABLES) as (keyof typeof TABLES)[]).map((name) => this.tableService.createTable(tableName(this.prefix, TABLES[name]))),
    );
    await Promise.all((Object.keys(QUEUES) as (keyof typeof QUEUES)[]).map((name) => this.queue(name).createIfNotExists()));
  }
}
