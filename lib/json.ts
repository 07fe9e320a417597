/** JSON text, for what writes it by hand (Table Storage entity sizes, NDJSON rows). */

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters and surrogates (a lone one is escaped). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
export const ESCAPED_IN_JSON = /["\\\u0000-\u001f\ud800-\udfff]/;
