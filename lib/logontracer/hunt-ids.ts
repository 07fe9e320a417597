/**
 * The ids of the two LogonTracer hunts (defined in lib/hunts/catalog), named here so the logon
 * graph can read their findings and baselines without importing the hunt catalog.
 */
export const LOGON_GRAPH_RANK_HUNT = "logon-graph-rank";
export const LOGON_CHANGEPOINT_HUNT = "logon-changepoint";
