import { fileURLToPath } from "node:url";

/** Real sample logs vendored with the tests (origin and licence in test/fixtures/datasets/README.md). */
export const DATASETS = fileURLToPath(new URL("./fixtures/datasets/", import.meta.url));

export const dataset = (relative: string) => DATASETS + relative;
