/**
 * Atomic replacement of a file by text that may be large (a clients.json, an export, a backup).
 *
 * write-file-atomic does the atomic part (temp file next to the target, fsync, rename, the temp
 * file removed on failure or exit), but given a string it encodes the whole of it into one fresh
 * buffer before writing. For a 100k-client clients.json (87 MB) that buffer cost 450–620 ms on
 * its own, mostly page faults on memory touched for the first time, while encoding and writing a
 * mebibyte at a time through one reused buffer took 66–230 ms in all (measured on this project's
 * bench VM). So the text goes into the temp file here, from the library's `tmpfileCreated` hook,
 * which runs after the temp file is opened and before the library writes its (empty) data, fsyncs
 * the file (fsync flushes the file, whichever descriptor wrote it), closes and renames it. The
 * text comes as pieces, consumed as they are written: see plainRecordsToUpstreamJson for why.
 */
import {type FileHandle, open} from 'node:fs/promises'

/** Bytes of the reused encoding buffer: written out whenever it is (nearly) full. */
const BUFFER_BYTES = 1 << 20
/** Below this much room (in UTF-16 code units at 3 bytes each) the buffer is written out first. */
const MIN_ROOM_UNITS = 16_384

/** Options of {@link replaceWithText}. */
export interface ReplaceOptions {
  /** Mode of the new file (e.g. 0o600). */
  mode: number
  /** fsync the file before the rename; default true. */
  fsync?: boolean
  /** Told the temp file's name as soon as it exists, before anything is written into it. */
  onTempFile?: (tmpfile: string) => void
}

/**
 * Replaces `file` with the concatenation of `pieces` (UTF-8), atomically: readers see the old
 * content or the new, never a mix, and a crash leaves the old file. The pieces are consumed as
 * they are written, so a generator never has the whole text in memory at once.
 */
export async function replaceWithText(file: string, pieces: Iterable<string>, options: ReplaceOptions): Promise<void> {
  // Loaded at the first write: commands that only read never pay for the library (and its signal-exit).
  const {default: writeFileAtomic} = await import('write-file-atomic')
  await writeFileAtomic(file, '', {
    mode: options.mode,
    fsync: options.fsync ?? true,
    tmpfileCreated(tmpfile: string) {
      options.onTempFile?.(tmpfile)
      return writeText(tmpfile, pieces)
    },
  })
}

/** Writes `pieces` from the start of the (new, empty) file `tmpfile`, a buffer's worth at a time. */
async function writeText(tmpfile: string, pieces: Iterable<string>): Promise<void> {
  const handle = await open(tmpfile, 'r+')
  try {
    const buffer = Buffer.allocUnsafe(BUFFER_BYTES)
    let filled = 0
    let position = 0
    const flush = async () => {
      await writeFully(handle, buffer, filled, position)
      position += filled
      filled = 0
    }
    for (const text of pieces) {
      for (let start = 0; start < text.length; ) {
        const room = Math.floor((BUFFER_BYTES - filled) / 3)
        if (room < MIN_ROOM_UNITS) {
          await flush()
          continue
        }
        let end = Math.min(text.length, start + room)
        // Never between the two halves of a surrogate pair: each half alone would be encoded as U+FFFD.
        if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--
        // At most 3 bytes per code unit: the slice always fits in the room left.
        filled += buffer.write(text.slice(start, end), filled, 'utf8')
        start = end
      }
    }
    await flush()
  } finally {
    await handle.close()
  }
}

/** Bytes 0..length of `buffer` at `position`, however many writes the system takes for them. */
async function writeFully(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const {bytesWritten} = await handle.write(buffer, done, length - done, position + done)
    done += bytesWritten
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd8_00 && code <= 0xdb_ff
}
