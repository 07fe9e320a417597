import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The shared real-log datasets beside the repository (read-only ground truth). */
export const SHARED_DATASETS = fileURLToPath(new URL("../../shared/datasets/", import.meta.url));

if (!existsSync(SHARED_DATASETS)) {
  throw new Error(`The shared datasets are expected at ${SHARED_DATASETS} (../shared beside the repository)`);
}

export const dataset = (relative: string) => SHARED_DATASETS + relative;
