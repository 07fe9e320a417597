import type { AccessToken, TokenCredential } from "@azure/core-auth";

/**
 * A credential for the local service endpoint, which accepts any bearer token: it lets the real
 * Azure SDK clients (and their bearer-token policy) run unchanged against it.
 */
export class LocalDevelopmentCredential implements TokenCredential {
  getToken(): Promise<AccessToken> {
    return Promise.resolve({ token: "local-development-token", expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}
