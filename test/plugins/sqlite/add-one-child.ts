/**
 * Child process of the R2 test: adds ONE client to a sqlite file, starting its critical section
 * at the same wall-clock instant as its siblings.
 *
 * argv: <file> <api_key> <open-first | open-at-barrier>
 *   open-first       open (and migrate) before the barrier; only `add` races
 *   open-at-barrier  open after the barrier too, so file creation and migrations race as well
 *
 * Protocol: prints "ready" once loaded, then reads one line from stdin holding the start instant
 * (ms since the epoch), waits for it, does its work and prints {"id": n}. Exit 0 on success; on
 * failure the error code and message go to stderr and the exit code is 1.
 */
import {createInterface} from 'node:readline'
import {setTimeout as sleep} from 'node:timers/promises'

import {createSqliteStore} from './helpers.js'

const [file, apiKey, phase] = process.argv.slice(2)
if (!file || !apiKey || (phase !== 'open-first' && phase !== 'open-at-barrier')) {
  process.stderr.write('usage: add-one-child.ts <file> <api_key> <open-first|open-at-barrier>\n')
  process.exit(2)
}

async function readStartInstant(): Promise<number> {
  const lines = createInterface({input: process.stdin})
  for await (const line of lines) {
    lines.close()
    return Number(line)
  }
  throw new Error('stdin closed before the start instant arrived')
}

/** Sleeps most of the way, then spins: the siblings leave the barrier within a millisecond or so. */
async function waitUntil(instant: number): Promise<void> {
  const coarse = instant - Date.now() - 15
  if (coarse > 0) await sleep(coarse)
  while (Date.now() < instant) {
    // busy-wait the last milliseconds on purpose
  }
}

try {
  const store = await createSqliteStore(file, 'write', (message) => process.stderr.write(`warn: ${message}\n`))
  if (phase === 'open-first') await store.open()
  process.stdout.write('ready\n')
  await waitUntil(await readStartInstant())
  if (phase === 'open-at-barrier') await store.open()
  const record = await store.add({api_key: apiKey, name: `child ${process.pid}`})
  await store.close()
  process.stdout.write(`${JSON.stringify({id: record.client_id})}\n`)
} catch (error) {
  const code = (error as {code?: unknown}).code
  const cause = (error as {cause?: unknown}).cause
  process.stderr.write(`${String(code)}: ${error instanceof Error ? error.message : String(error)}${cause instanceof Error ? ` (cause: ${cause.message})` : ''}\n`)
  process.exitCode = 1
}
