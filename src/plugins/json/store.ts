/**
 * The json ClientStore: the upstream clients.json file, made safe for several processes.
 *
 * - Every read-modify-write holds a cross-process lock (proper-lockfile, `<file>.lock`), re-reads
 *   the file under it, and replaces the file atomically (write-file-atomic: temp file, fsync,
 *   rename, mode 0600; the text written into the temp file in chunks, see atomic-text-file.ts). A lock left by a killed process goes stale and is taken over; temp files a
 *   killed writer left behind are swept by the next writer (under the lock, so never a live one).
 * - Lookups never re-read the file: an in-memory index (by id, by access key) is revalidated by
 *   one `stat` (inode, size, mtime, ctime), so a change by another process is seen at once.
 */
import {appendFileSync, type BigIntStats, chmodSync, closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type lockfileModule from 'proper-lockfile'

import {applyPatch, buildClient, type ClientPatch, type ClientRecord, cloneClient, isRevoked, type NewClient, REVOKED_API_KEY, tombstoneOf} from '../../core/client.js'
import {ClientNotFoundError, DuplicateApiKeyError, HivemindError, InvalidInputError, StoreUnavailableError} from '../../core/errors.js'
import {replaceWithText} from '../../core/atomic-text-file.js'
import {fileInTheWay, notARegularFile, writeTarget} from '../../core/file-access.js'
import {ensurePrivateDir} from '../../core/private-dir.js'
import {shellQuoted} from '../../core/shell-word.js'
import {plainRecordsToUpstreamJson} from '../../core/upstream-json.js'
import type {BackendContext, ClientStore, ListOptions} from '../../core/store.js'
import {assertStorableRecord} from '../../core/validate.js'
import {parseClientsJson} from './file.js'
import type {JsonOptions} from './options.js'

/**
 * proper-lockfile, imported by open() in 'write' mode only: readers (list-clients, show-client)
 * never lock, and the import is a noticeable part of a read-only command's start.
 */
let lockfilePromise: Promise<typeof lockfileModule> | undefined
async function loadLockfile(): Promise<typeof lockfileModule> {
  lockfilePromise ??= import('proper-lockfile').then((module) => module.default)
  return lockfilePromise
}

/**
 * What identifies one version of the file on disk: a new inode on every atomic replace, plus size
 * and times (undefined: no file). Compared field by field: on the lookup path, which is one stat
 * and little else, building a string of it every time cost a tenth of a lookup.
 */
type FileIdentity = BigIntStats | undefined

/** The parsed file and its indexes. */
interface Snapshot {
  identity: FileIdentity
  records: Map<number, ClientRecord>
  /** Live records by access key: the record itself, not its id (one map lookup less per getByApiKey, the listener's hot path). */
  byKey: Map<string, ClientRecord>
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs
}

/** True when there is a snapshot and it was read from the file version `identity` names. */
function isSnapshotOf(snapshot: Snapshot | undefined, identity: FileIdentity): snapshot is Snapshot {
  return snapshot !== undefined && sameIdentity(snapshot.identity, identity)
}

export class JsonClientStore implements ClientStore {
  readonly name = 'json'
  readonly location: string
  /**
   * Every putMany rewrites the whole file, so a bulk copy (migrate-db) is best done as ONE call:
   * in batches, 100k clients would rewrite a growing file again and again. One write is also one
   * atomic step: an interrupted copy leaves the file as it was.
   */
  readonly preferredBatchSize = Number.MAX_SAFE_INTEGER
  private snapshot?: Snapshot
  private opened = false
  /** In-process queue: proper-lockfile locks are per process, so writes of one process go one by one. */
  private writeQueue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly options: JsonOptions,
    private readonly context: BackendContext,
  ) {
    this.location = options.path
  }

  async open(): Promise<void> {
    // A new clients.json under the name of an SQLite file (the default backend resolved to json
    // because a clients.json exists, and --db-path new.db): SQLite's tools and the Python
    // hivemind-core would take it for a database (QA). Existing files are judged by their bytes.
    if (this.context.mode === 'write' && /\.(db|sqlite3?)$/i.test(this.location) && !existsSync(this.location)) {
      throw new HivemindError('INVALID_INPUT', `${this.location} does not exist, and a clients.json is not created under a name ending in ${path.extname(this.location)} (an SQLite database's)`, {
        suggestion: `for an SQLite database there, add --db-backend sqlite; for a clients.json, give a path ending in .json; nothing was written`,
      })
    }
    try {
      ensurePrivateDir(path.dirname(this.location))
    } catch (error) {
      throw this.ioError(error, 'create the directory of')
    }
    // Not at the first write: proper-lockfile installs signal-exit's SIGINT/SIGTERM handlers when
    // it loads, and one installed after the listener's own handler re-raises the signal once that
    // handler has removed itself (the listener would die by SIGTERM instead of shutting down).
    if (this.context.mode === 'write') await loadLockfile()
    // Validates the file now: a corrupt file fails open (and `listen` refuses to start).
    this.snapshot = this.load(this.identity())
    if (this.context.mode === 'write' && existsSync(this.location)) {
      try {
        // Group and other lose their access; the owner's bits stay (a file made read-only stays so).
        const mode = statSync(this.location).mode & 0o777
        if ((mode & 0o077) !== 0) chmodSync(this.location, mode & 0o700)
      } catch {
        // Not ours to tighten.
      }
    }
    this.opened = true
  }

  async close(): Promise<void> {
    await this.writeQueue.catch(() => {})
    this.opened = false
    this.snapshot = undefined
  }

  async add(client: NewClient): Promise<ClientRecord> {
    return this.mutate((records, byKey) => {
      // Ids never come back: the next id is past every id in the file, tombstones included.
      // (A loop, not Math.max(...ids): spreading a big hive's ids overflows the call stack.)
      let top = 0
      for (const id of records.keys()) if (id > top) top = id
      return putInto(records, byKey, buildClient(top + 1, client))
    })
  }

  async put(client: ClientRecord): Promise<ClientRecord> {
    return this.mutate((records, byKey) => putInto(records, byKey, client))
  }

  async putMany(clients: readonly ClientRecord[]): Promise<void> {
    await this.mutate((records, byKey) => {
      for (const client of clients) putInto(records, byKey, client)
    })
  }

  async clear(): Promise<void> {
    // The upstream format has no counter besides its records: ids restart past whatever is
    // written next (documented for migrate-db --force).
    await this.mutate((records, byKey) => {
      records.clear()
      byKey.clear()
    })
  }

  async get(id: number): Promise<ClientRecord | undefined> {
    const record = this.current().records.get(id)
    return record ? cloneClient(record) : undefined
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    if (apiKey === REVOKED_API_KEY) return undefined
    const record = this.current().byKey.get(apiKey)
    return record === undefined ? undefined : cloneClient(record)
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    return this.modify(id, () => patch)
  }

  async modify(id: number, change: (current: ClientRecord) => ClientPatch | undefined): Promise<ClientRecord> {
    return this.mutate((records, byKey, leaveFileAsItIs) => {
      const current = records.get(id)
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      const patch = change(cloneClient(current))
      if (patch !== undefined) return putInto(records, byKey, applyPatch(current, patch))
      leaveFileAsItIs()
      return current
    })
  }

  async revoke(id: number): Promise<ClientRecord> {
    return this.mutate((records, byKey) => {
      const current = records.get(id)
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      return putInto(records, byKey, tombstoneOf(current))
    })
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    const {records} = this.current()
    for (const id of [...records.keys()].sort((a, b) => a - b)) {
      const record = records.get(id)!
      if (options.includeRevoked || !isRevoked(record)) yield cloneClient(record)
    }
  }

  async count(options: ListOptions = {}): Promise<number> {
    let total = 0
    for (const record of this.current().records.values()) if (options.includeRevoked || !isRevoked(record)) total++
    return total
  }

  async revision(): Promise<string> {
    this.assertOpen()
    const identity = this.identity()
    return identity === undefined ? 'missing' : `${identity.ino}:${identity.size}:${identity.mtimeNs}:${identity.ctimeNs}`
  }

  // --- internals -------------------------------------------------------------------------

  /** The file's identity: a new inode on every atomic replace, plus size and times. */
  private identity(): FileIdentity {
    try {
      return statSync(this.location, {bigint: true})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw this.ioError(error, 'stat')
    }
  }

  /** The snapshot, re-read only when the file changed since it was taken. */
  private current(): Snapshot {
    this.assertOpen()
    const identity = this.identity()
    if (isSnapshotOf(this.snapshot, identity)) return this.snapshot
    this.snapshot = this.load(identity)
    return this.snapshot
  }

  private load(identity: FileIdentity): Snapshot {
    const records = new Map<number, ClientRecord>()
    const byKey = new Map<string, ClientRecord>()
    if (identity !== undefined) {
      // Checked before reading (a FIFO would block the read), only when the file is (re)read.
      const kind = notARegularFile(identity)
      if (kind) throw new InvalidInputError(`${this.location} is ${kind}, not a clients file`, {suggestion: 'check the database path (--db-path, database.json.path)'})
      let bytes: Buffer
      try {
        bytes = readFileSync(this.location)
      } catch (error) {
        throw this.ioError(error, 'read')
      }
      for (const record of parseClientsJson(bytes, this.location)) {
        records.set(record.client_id, record)
        if (!isRevoked(record)) {
          const other = byKey.get(record.api_key)
          if (other !== undefined) {
            throw new HivemindError('STORE_CORRUPT', `${this.location}: clients ${other.client_id} and ${record.client_id} share an access key`, {
              suggestion: 'revoke one of them by editing the file, then retry',
            })
          }
          byKey.set(record.api_key, record)
        }
      }
    }
    return {identity, records, byKey}
  }

  /**
   * One read-modify-write under the cross-process lock. `change` edits a private copy of the
   * records; it is written only when `change` returns without throwing.
   */
  /**
   * Runs `change` on the records as the file holds them now, under the cross-process lock, then
   * writes them back unless `change` called `leaveFileAsItIs` (it found nothing to change).
   */
  private mutate<T>(change: (records: Map<number, ClientRecord>, byKey: Map<string, ClientRecord>, leaveFileAsItIs: () => void) => T): Promise<T> {
    const run = async (): Promise<T> => {
      this.assertOpen()
      const file = writeTarget(this.location)
      const release = await this.lock(file)
      try {
        // Under the lock, the file is what it is now: another process may have written since our
        // last look. Unchanged since our own snapshot, that snapshot is reused (not re-parsed).
        const fresh = this.workingCopy(this.identity())
        let unchanged = false
        const result = change(fresh.records, fresh.byKey, () => {
          unchanged = true
        })
        if (unchanged) return structuredClone(result)
        this.refuseReadOnlyFile(fresh.identity)
        await this.write(file, fresh.records)
        // What we just wrote is the file's content: keep it rather than parse it back on the next
        // read. Its identity is taken while we still hold the lock, so it is our write's.
        this.snapshot = {identity: this.identity(), records: fresh.records, byKey: fresh.byKey}
        return structuredClone(result)
      } finally {
        await release().catch(() => {})
      }
    }
    const result = this.writeQueue.then(run, run)
    this.writeQueue = result.catch(() => {})
    return result
  }

  /**
   * Maps `change` may edit: copies of the snapshot's maps when the file is the one it was taken
   * from (a failed change must not leave the snapshot half-edited; stored records are never edited
   * in place, only replaced, so shallow copies suffice), else a fresh parse.
   */
  private workingCopy(identity: FileIdentity): Snapshot {
    const snapshot = this.snapshot
    if (!isSnapshotOf(snapshot, identity)) return this.load(identity)
    return {identity, records: new Map(snapshot.records), byKey: new Map(snapshot.byKey)}
  }

  /** Locks `file` (the store's file with links resolved: see writeTarget) against other writers. */
  private async lock(file: string): Promise<() => Promise<void>> {
    const lockfile = await loadLockfile()
    const stale = Math.max(2000, this.options.lockStaleMs)
    const deadline = Date.now() + this.options.lockWaitMs
    // Our own retry loop: only a held lock is worth waiting for; EROFS, EACCES… fail at once.
    for (let delay = 5; ; delay = Math.min(100, delay * 1.5)) {
      try {
        return await lockfile.lock(file, {realpath: false, stale, retries: 0, onCompromised: () => {}})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw this.ioError(error, 'lock')
        if (Date.now() >= deadline) {
          throw new StoreUnavailableError(`${this.location} is locked by another process (waited ${this.options.lockWaitMs} ms)`, {
            cause: error,
            suggestion: `retry; a lock left by a killed process (${file}.lock) is taken over after ${stale} ms`,
          })
        }
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())))
      }
    }
  }

  /**
   * A clients file its owner made read-only (chmod 400) is left as it is: the atomic rename would
   * replace it regardless of its mode (and root ignores the mode anyway).
   */
  private refuseReadOnlyFile(identity: FileIdentity): void {
    // Absent: this write creates the file. (The identity is the file's stat, links followed.)
    if (identity === undefined) return
    const mode = Number(identity.mode)
    if ((mode & 0o200) !== 0) return
    throw new HivemindError('STORE_READ_ONLY', `${this.location} is read-only (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); nothing was changed`, {
      suggestion: `make it writable to allow changes: chmod 600 ${shellQuoted(this.location)}`,
    })
  }

  /**
   * Replaces `file` (the resolved store file) with `records`. Runs under the lock. While it runs,
   * a marker file beside it names the temp file being written, so that the next writer can remove
   * it if this process is killed: write-file-atomic names its temp files `clients.json.<digits>`,
   * which is also how people name their own copies (`clients.json.20250101`, logrotate's `.1`),
   * and removing every file named so deleted those.
   */
  private async write(file: string, records: Map<number, ClientRecord>): Promise<void> {
    const ordered = [...records.keys()].sort((a, b) => a - b).map((id) => records.get(id)!)
    const marker = writingMarker(file)
    sweepTempFile(file, marker)
    try {
      writeFileSync(marker, '', {mode: 0o600})
      // Every record here came from parseClientRecord or cloneClient: plain, in canonical order.
      await replaceWithText(file, plainRecordsToUpstreamJson(ordered), {mode: 0o600, onTempFile: (tmpfile) => appendFileSync(marker, path.basename(tmpfile))})
      syncDirectory(path.dirname(file))
    } catch (error) {
      throw this.ioError(error, 'write')
    } finally {
      // Written or failed, the temp file is gone (write-file-atomic removes it on failure).
      rmSync(marker, {force: true})
    }
  }

  private assertOpen(): void {
    if (!this.opened) throw new HivemindError('STORE_CLOSED', `the json store ${this.location} is not open`)
  }

  private ioError(error: unknown, what: string): HivemindError {
    if (error instanceof HivemindError) return error
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new HivemindError('STORE_READ_ONLY', `cannot ${what} ${this.location} (${code}); nothing was changed`, {
        cause: error,
        suggestion: 'check the permissions of the file and its directory',
      })
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new StoreUnavailableError(`cannot ${what} ${this.location}: the disk is full; the file was left as it was`, {cause: error})
    }
    const inTheWay = code === 'ENOTDIR' ? fileInTheWay(this.location) : undefined
    if (inTheWay) return new InvalidInputError(`cannot ${what} ${this.location}: ${inTheWay} is a file, not a directory`, {cause: error, suggestion: 'check the database path (--db-path, database.json.path)'})
    return new StoreUnavailableError(`cannot ${what} ${this.location} (${code})`, {cause: error})
  }
}

/** The marker a write leaves beside `file` while it runs: `.clients.json.writing`. */
function writingMarker(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.writing`)
}

/**
 * Removes the temp file a killed writer left, and its marker: the file the marker names or, when
 * it was killed before naming it, an EMPTY `clients.json.<digits>` created after the marker (a
 * temp file is empty until the name is recorded; nobody's copy of a clients file is). Nothing else
 * is touched. Runs under the lock.
 */
function sweepTempFile(file: string, marker: string): void {
  try {
    if (!existsSync(marker)) return
    const named = readFileSync(marker, 'utf8')
    const dir = path.dirname(file)
    const base = path.basename(file)
    const isTempName = (entry: string) => entry.startsWith(`${base}.`) && /^\d+$/.test(entry.slice(base.length + 1))
    if (isTempName(named)) {
      rmSync(path.join(dir, named), {force: true})
    } else {
      const markedAt = statSync(marker).mtimeMs
      for (const entry of readdirSync(dir)) {
        if (!isTempName(entry)) continue
        const stats = statSync(path.join(dir, entry))
        if (stats.size === 0 && stats.ctimeMs >= markedAt) rmSync(path.join(dir, entry), {force: true})
      }
    }
    rmSync(marker, {force: true})
  } catch {
    // Sweeping is housekeeping: never a reason to fail a write.
  }
}

function assertKeyFree(record: ClientRecord, byKey: Map<string, ClientRecord>): void {
  if (isRevoked(record)) return
  const holder = byKey.get(record.api_key)?.client_id
  if (holder !== undefined && holder !== record.client_id) throw new DuplicateApiKeyError(holder)
}

/**
 * Stores a record with its id into the working copy, keeping the key index right. Every change
 * goes through here: the working copy becomes the snapshot later reads are served from.
 */
function putInto(records: Map<number, ClientRecord>, byKey: Map<string, ClientRecord>, client: ClientRecord): ClientRecord {
  const record = cloneClient(client)
  assertStorableRecord(record)
  assertKeyFree(record, byKey)
  const previous = records.get(record.client_id)
  if (previous && !isRevoked(previous)) byKey.delete(previous.api_key)
  // Set even when the key is unchanged: the index holds the record, and this is its new version.
  if (!isRevoked(record)) byKey.set(record.api_key, record)
  records.set(record.client_id, record)
  return record
}

/** Makes a rename in `dir` durable (a power cut must not bring the old file back). */
function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
