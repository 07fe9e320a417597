/** Keeps a row small enough for a queue message (64 KiB) and a Teams card. */
export function trimDetails(row: Record<string, unknown>, maxChars = 4000): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let used = 0;
  for (const [key, value] of Object.entries(row)) {
    let v = value;
    if (Array.isArray(v) && v.length > 20) v = [...(v as unknown[]).slice(0, 20), `... ${v.length - 20} more`];
    let text = JSON.stringify(v) ?? "null";
    if (text.length > 500) {
      v = `${text.slice(0, 480)}...`;
      text = JSON.stringify(v);
    }
    if (used + text.length > maxChars) break;
    out[key] = v;
    used += text.length + key.length;
  }
  return out;
}
