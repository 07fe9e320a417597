/** EVTX files as rows: each record flattened, reduced to `WindowsEvent` and mapped to its Sentinel table. */
import type { FlatEvent } from "./evtx-event.js";
import type { BinXmlChunk } from "./evtx-binxml.js";
import { readEvtxEventChunks, type EvtxWarning, type RecordDecoder } from "./evtx.js";
import type { SourceItem } from "./formats.js";
import type { ReadIssue } from "./table-builder.js";
import { windowsEventRow, type WindowsEvent } from "./windows-events.js";

/** A flattened EVTX event as the shared Windows event shape; UserData's fields join the named values they lack. */
export function evtxWindowsEvent(flat: FlatEvent): WindowsEvent {
  let data: WindowsEvent["data"] = flat.data;
  for (const name in flat.userData) {
    if (name in data) continue;
    if (data === flat.data) data = { ...flat.data };
    data[name] = flat.userData[name];
  }
  return {
    eventId: flat.EventID,
    time: flat.TimeCreated,
    computer: flat.Computer,
    channel: flat.Channel,
    provider: flat.Provider,
    task: flat.Task,
    level: flat.Level,
    data,
    unnamed: flat.unnamed,
    binary: flat.binary,
    payload: flat.payload,
    message: flat.message,
  };
}

function warningIssue(path: string, w: EvtxWarning): ReadIssue {
  const where = w.chunk < 0 ? "file header" : `chunk ${w.chunk} (byte ${w.offset})`;
  return { source: path, at: Math.max(w.chunk, 0), message: `${where}: ${w.message}` };
}

/**
 * The rows of an EVTX file, a chunk's worth at a time, with its problems as issues in between.
 * `decoder` is for comparing decodings (the bench); rows are the same whichever it is.
 */
export async function* evtxFileBatches(path: string, decoder?: RecordDecoder<FlatEvent, BinXmlChunk>): AsyncGenerator<SourceItem[]> {
  let pending: SourceItem[] = [];
  let at = 0;
  try {
    const onWarning = (w: EvtxWarning) => pending.push({ issue: warningIssue(path, w) });
    for await (const events of readEvtxEventChunks(path, { onWarning }, decoder)) {
      const batch = pending;
      pending = [];
      for (const event of events) {
        const { table, record: row } = windowsEventRow(evtxWindowsEvent(event));
        batch.push({ table, record: row, at: ++at });
      }
      yield batch;
    }
  } catch (error) {
    pending.push({ issue: { source: path, at: 0, message: (error as Error).message } });
  }
  if (pending.length) yield pending;
}
