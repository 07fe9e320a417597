/**
 * The EVTX format's fixed layout (per the published libevtx format notes), shared by the reader,
 * format detection and the writer (lib/synth/evtx-writer.ts).
 */
export const FILE_SIGNATURE = "ElfFile\u0000";
export const CHUNK_SIGNATURE = "ElfChnk\u0000";
export const FILE_HEADER_SIZE = 4096;
/** Where the file header holds its chunk count (16 bits, little-endian). */
export const FILE_HEADER_CHUNK_COUNT_OFFSET = 42;
/** Where the file header holds the number of its oldest chunk (64 bits): where the log starts once it has wrapped. */
export const FILE_HEADER_FIRST_CHUNK_OFFSET = 8;
/** Where the file header holds the id the next record written gets (64 bits). */
export const FILE_HEADER_NEXT_RECORD_OFFSET = 24;
export const CHUNK_SIZE = 65536;
/** A chunk's header; its first event record starts right after. */
export const CHUNK_HEADER_SIZE = 512;
/** FILETIME (100 ns ticks since 1601) of the Unix epoch. */
export const FILETIME_UNIX_EPOCH = 116444736000000000n;
/** Chunk header flag: the chunk's records carry no checksum. */
export const CHUNK_FLAG_NO_CRC32 = 0x4;
