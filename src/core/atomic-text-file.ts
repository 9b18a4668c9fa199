/**
 * Atomic replacement of a file by text that may be large (a clients.json, an export, a backup).
 *
 * write-file-atomic does the atomic part (temp file next to the target, fsync, rename, the temp
 * file removed on failure or exit), but given a string it encodes the whole of it into one fresh
 * buffer before writing. For a 100k-client clients.json (87 MB) that buffer cost 450–620 ms on
 * its own, mostly page faults on memory touched for the first time, while encoding and writing a
 * mebibyte at a time through one reused buffer took 66–230 ms in all.
 * So the text goes into the temp file here, from the library's `tmpfileCreated` hook, which runs
 * after the temp file is opened and before the library writes its (empty) data, fsyncs the file
 * (fsync flushes the file, whichever descriptor wrote it), closes and renames it.
 */
import {open} from 'node:fs/promises'

/** Bytes of the reused encoding buffer. */
const BUFFER_BYTES = 1 << 20
/** UTF-16 code units encoded per write: even at 3 UTF-8 bytes each they fit the buffer. */
const UNITS_PER_WRITE = Math.floor(BUFFER_BYTES / 3)

/** Options of {@link replaceWithText}. */
export interface ReplaceOptions {
  /** Mode of the new file (e.g. 0o600). */
  mode: number
  /** fsync the file before the rename; default true. */
  fsync?: boolean
}

/**
 * Replaces `file` with `pieces` joined (UTF-8), atomically: readers see the old content or the
 * new, never a mix, and a crash leaves the old file. Pieces are separate so that a caller adding
 * a trailing newline to a huge text does not make V8 copy the text to join them.
 */
export async function replaceWithText(file: string, pieces: readonly string[], options: ReplaceOptions): Promise<void> {
  // Loaded at the first write: commands that only read never pay for the library (and its signal-exit).
  const {default: writeFileAtomic} = await import('write-file-atomic')
  await writeFileAtomic(file, '', {
    mode: options.mode,
    fsync: options.fsync ?? true,
    tmpfileCreated: (tmpfile: string) => writeText(tmpfile, pieces),
  })
}

/** Writes `pieces` from the start of the (new, empty) file `tmpfile`, a buffer's worth at a time. */
async function writeText(tmpfile: string, pieces: readonly string[]): Promise<void> {
  const handle = await open(tmpfile, 'r+')
  try {
    const buffer = Buffer.allocUnsafe(BUFFER_BYTES)
    let position = 0
    for (const text of pieces) {
      for (let start = 0; start < text.length; ) {
        let end = Math.min(text.length, start + UNITS_PER_WRITE)
        // Never between the two halves of a surrogate pair: each half alone would be encoded as U+FFFD.
        if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--
        const bytes = buffer.write(text.slice(start, end), 0, 'utf8')
        await writeFully(handle, buffer, bytes, position)
        position += bytes
        start = end
      }
    }
  } finally {
    await handle.close()
  }
}

/** One chunk, however many writes the system takes for it. */
async function writeFully(handle: Awaited<ReturnType<typeof open>>, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const {bytesWritten} = await handle.write(buffer, done, length - done, position + done)
    done += bytesWritten
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd8_00 && code <= 0xdb_ff
}
