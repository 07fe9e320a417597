/** Remote sources by setting: Log Analytics and Defender XDR. */
import type { Settings } from "../settings.js";
import type { QuerySource } from "./types.js";

export async function remoteSource(settings: Settings): Promise<QuerySource> {
  throw new Error(`HUNT_SOURCE=${settings.HUNT_SOURCE} is not available in this build yet; use HUNT_SOURCE=local with LOCAL_DATA_PATHS`);
}
