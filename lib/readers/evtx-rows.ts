/** EVTX files as rows: each record flattened, reduced to `WindowsEvent` and mapped to its Sentinel table. */
import type { FlatEvent } from "./evtx-event.js";
import type { BinXmlChunk } from "./evtx-binxml.js";
import { FLAT_EVENTS, readChunks, type EvtxWarning, type RecordDecoder } from "./evtx.js";
import type { SourceItem } from "./formats.js";
import type { ReadIssue } from "./table-builder.js";
import { decodeEvent, type PlannedChunk } from "./evtx-direct.js";
import { isSecurityChannel, windowsEventRow, type WindowsEvent } from "./windows-events.js";

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
    system: {
      recordId: flat.EventRecordID,
      keywords: flat.Keywords,
      processId: flat.ProcessID,
      threadId: flat.ThreadID,
      userId: flat.UserID,
    },
  };
}

function warningIssue(path: string, w: EvtxWarning): ReadIssue {
  const where = w.chunk < 0 ? "file header" : `chunk ${w.chunk} (byte ${w.offset})`;
  return { source: path, at: Math.max(w.chunk, 0), message: `${where}: ${w.message}` };
}

/** An event's row, with the id and channel its record's decoding is checked by. */
interface EventRow extends Pick<FlatEvent, "EventRecordID" | "Channel"> {
  table: string;
  record: Record<string, unknown>;
}

/**
 * Records decoded by `decoder` and made rows at once: a block of chunks is decoded before its rows
 * are handed on, and a row holds far less than the event it is made from (the payload's element
 * tree), which the garbage collector would otherwise move for every event of the block.
 */
function rowDecoder<C extends BinXmlChunk>(decoder: RecordDecoder<FlatEvent, C>): RecordDecoder<EventRow, C> {
  return {
    chunk: (buf) => decoder.chunk(buf),
    decode: (chunk, pos, size, recordId) => {
      const event = decoder.decode(chunk, pos, size, recordId);
      const { table, record } = windowsEventRow(evtxWindowsEvent(event));
      return { table, record, EventRecordID: event.EventRecordID, Channel: event.Channel };
    },
    flat: (row) => row,
  };
}

/**
 * What a row needs of an event: only SecurityEvent rows have a column per named value; the others
 * carry the payload as XML, so their events leave the named values out when read directly.
 */
const FLAT_EVENT_ROWS = rowDecoder<PlannedChunk>({
  ...FLAT_EVENTS,
  decode: (chunk, pos, size, recordId) =>
    decodeEvent(chunk, pos, size, recordId, (channel) => channel === undefined || isSecurityChannel(channel)),
});

/**
 * The rows of an EVTX file, a chunk's worth at a time, with its problems as issues in between.
 * `decoder` is for comparing decodings (the bench); rows are the same whichever it is.
 */
export async function* evtxFileBatches(path: string, decoder?: RecordDecoder<FlatEvent, BinXmlChunk>): AsyncGenerator<SourceItem[]> {
  let pending: SourceItem[] = [];
  let at = 0;
  try {
    const onWarning = (w: EvtxWarning) => pending.push({ issue: warningIssue(path, w) });
    const rows: RecordDecoder<EventRow, BinXmlChunk> = decoder ? rowDecoder(decoder) : FLAT_EVENT_ROWS;
    for await (const events of readChunks(path, { onWarning }, rows)) {
      const batch = pending;
      pending = [];
      for (const { table, record } of events) batch.push({ table, record, at: ++at });
      yield batch;
    }
  } catch (error) {
    pending.push({ issue: { source: path, at: 0, message: (error as Error).message } });
  }
  if (pending.length) yield pending;
}
