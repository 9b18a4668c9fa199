/**
 * Store-to-store migration through the ClientStore contract only, so it works for every pair of
 * backends, plugins included: plan (compare), copy in batches (putMany where the target has
 * it), verify (canonical equality, both directions). The source is only ever read.
 *
 * Cost model (a 100k-client hive is the yardstick, docs/performance.md P7): the source is read
 * once, by the plan, and kept; verification reads only the target and compares it with what the
 * plan read, after checking with `revision()` that the source did not change meanwhile (if it did,
 * the source is read again: the target must equal what the source holds NOW). Both listings come
 * in id order, so the comparison walks them side by side instead of indexing either.
 */
import {createHash, type Hash} from 'node:crypto'

import {canonicalValueJson, type ClientRecord, isRevoked, sameClient} from '../core/client.js'
import {LastListText} from '../core/list-text.js'
import type {ClientStore} from '../core/store.js'

/** What to do with a target that already holds clients. */
export type TargetPolicy =
  /** Refuse unless the target holds exactly (a subset of) the source from an interrupted run of the same migration. */
  | 'refuse'
  /** Add records whose id is absent, accept identical ones; differing ones are conflicts. */
  | 'merge'
  /** Replace the target's contents with the source's. */
  | 'force'

/** A record that differs between source and target. */
export interface Conflict {
  client_id: number
  /** Names the fields that differ (never their values: they may be secrets). */
  fields: string[]
}

/** What a migration would do, computed without writing. */
export interface MigrationPlan {
  /** Records of the source, tombstones included. */
  sourceCount: number
  /** Records already in the target before the run. */
  targetCount: number
  /** Source records absent from the target: to copy. */
  toCopy: ClientRecord[]
  /** Source records present and identical in the target. */
  identical: number
  /** Present in both, different. */
  conflicts: Conflict[]
  /** Conflicting source records (what --force writes over them). */
  conflicting: ClientRecord[]
  /** Ids present only in the target. */
  extra: number[]
  /**
   * Source records to copy whose (live) access key a record present only in the target holds
   * under another id: --merge keeps that record, so the copy would be refused by the target.
   */
  keyClashes: Array<{client_id: number; heldBy: number}>
  /** Every source record, in the order the source listed them (what --force after a clear writes, and what verification compares with). */
  sourceRecords: ClientRecord[]
  /** The source's `revision()` taken before it was read: verification re-reads the source only when it moved. */
  sourceRevision: string
}

/** Reads both stores (each once) and compares them record by record. */
export async function planMigration(source: ClientStore, target: ClientStore): Promise<MigrationPlan> {
  const targetRecords = new Map<number, ClientRecord>()
  for await (const record of target.list({includeRevoked: true})) targetRecords.set(record.client_id, record)
  // Before the read: a write that lands during the read must still move it.
  const sourceRevision = await source.revision()
  const plan: MigrationPlan = {sourceCount: 0, targetCount: targetRecords.size, toCopy: [], identical: 0, conflicts: [], conflicting: [], extra: [], keyClashes: [], sourceRecords: [], sourceRevision}
  const seen = new Set<number>()
  for await (const record of source.list({includeRevoked: true})) {
    plan.sourceCount++
    plan.sourceRecords.push(record)
    if (targetRecords.size === 0) {
      // The usual case (a fresh target): nothing to look up.
      plan.toCopy.push(record)
      continue
    }
    seen.add(record.client_id)
    const existing = targetRecords.get(record.client_id)
    if (!existing) plan.toCopy.push(record)
    else if (sameClient(existing, record)) plan.identical++
    else {
      plan.conflicts.push({client_id: record.client_id, fields: differingFields(record, existing)})
      plan.conflicting.push(record)
    }
  }
  for (const id of targetRecords.keys()) if (!seen.has(id)) plan.extra.push(id)
  if (plan.extra.length > 0 && plan.toCopy.length > 0) {
    const keysOfExtra = new Map<string, number>()
    for (const id of plan.extra) {
      const record = targetRecords.get(id)!
      if (!isRevoked(record)) keysOfExtra.set(record.api_key, id)
    }
    for (const record of plan.toCopy) {
      const heldBy = isRevoked(record) ? undefined : keysOfExtra.get(record.api_key)
      if (heldBy !== undefined) plan.keyClashes.push({client_id: record.client_id, heldBy})
    }
  }
  return plan
}

/** Field names whose canonical values differ. */
export function differingFields(a: ClientRecord, b: ClientRecord): string[] {
  return (Object.keys(a) as Array<keyof ClientRecord>).filter((field) => canonicalValueJson(a[field]) !== canonicalValueJson(b[field]))
}

/**
 * Writes records in batches; atomic per batch where the target has putMany. The plan's records
 * are handed as they are, and are also what verification compares the target with: this relies on
 * the store contract, which forbids a write to edit what it is handed (the conformance suite
 * checks it with frozen records). Copying 100k records first cost a fifth of the copy phase, and
 * freezing them instead made the whole 100k migration ~1.5× slower (measured: V8 leaves its fast
 * paths for frozen objects).
 */
export async function copyRecords(target: ClientStore, records: readonly ClientRecord[], batchSize: number, onProgress: (done: number) => void): Promise<void> {
  for (let start = 0; start < records.length; start += batchSize) {
    const batch = records.slice(start, start + batchSize)
    if (target.putMany) {
      await target.putMany(batch)
      onProgress(start + batch.length)
    } else {
      for (const [index, record] of batch.entries()) {
        await target.put(record)
        // Per record: a caller counting what reached the target must not miss a stored one.
        onProgress(start + index + 1)
      }
    }
  }
}

/**
 * Raises the target's id counter, where it has one, past every id the migration will write and
 * past the source's own counter: ids of clients removed from the source (past its highest record)
 * must not be handed out again by the target either. Called BEFORE the copy: a client added to
 * the target meanwhile (add-client did not know it was being migrated into) got an id of the
 * source's range and was then overwritten by the source's record of that id (QA: add-client said
 * "client 5238" and the migration reported success).
 */
export async function carryIdCounter(source: ClientStore, target: ClientStore, records: readonly ClientRecord[]): Promise<void> {
  if (!target.reserveIds) return
  let last = source.lastId ? await source.lastId() : 0
  for (const record of records) if (record.client_id > last) last = record.client_id
  if (last > 0) await target.reserveIds(last)
}

/** The outcome of verifying a target against its source. */
export interface Verification {
  ok: boolean
  sourceCount: number
  targetCount: number
  /** Ids missing from the target, present only in the target, or different. */
  missing: number[]
  extra: number[]
  different: Conflict[]
  /** True when the source changed after the plan read it (it was then read again). */
  sourceChanged: boolean
  /** The source's records the target was compared with (read again when the source changed). */
  expected: readonly ClientRecord[]
}

/** What comparing the target's listing with the expected records found. */
interface Comparison {
  targetListed: number
  missing: number[]
  extra: number[]
  different: Conflict[]
}

/**
 * Compares every record of both stores in canonical form, and their counts. `kept` are ids the
 * target held before a --merge that are not in the source: they must still be there. With the
 * `plan` of this run, the source is not read again unless its revision moved since the plan.
 */
export async function verifyMigration(source: ClientStore, target: ClientStore, kept: ReadonlySet<number> = new Set(), plan?: MigrationPlan): Promise<Verification> {
  const sourceChanged = plan === undefined || (await source.revision()) !== plan.sourceRevision
  let expected: readonly ClientRecord[]
  if (sourceChanged) {
    const listed: ClientRecord[] = []
    for await (const record of source.list({includeRevoked: true})) listed.push(record)
    expected = listed
  } else {
    expected = plan.sourceRecords
  }
  const sourceCount = await source.count({includeRevoked: true})
  // Stores list in id order (the contract), so both listings are walked side by side; a listing
  // out of order (a store breaking the contract) is still compared, by id.
  const comparison = (strictlyIncreasing(expected) && (await compareInOrder(expected, target, kept))) || (await compareById(expected, target, kept))
  const targetCount = await target.count({includeRevoked: true})
  const result: Verification = {ok: false, sourceCount, targetCount, missing: comparison.missing, extra: comparison.extra, different: comparison.different, sourceChanged, expected}
  result.ok =
    expected.length === sourceCount &&
    targetCount === comparison.targetListed &&
    targetCount === sourceCount + kept.size &&
    result.missing.length === 0 &&
    result.extra.length === 0 &&
    result.different.length === 0
  return result
}

function strictlyIncreasing(records: readonly ClientRecord[]): boolean {
  for (let index = 1; index < records.length; index++) if (records[index]!.client_id <= records[index - 1]!.client_id) return false
  return true
}

/**
 * Walks the target's listing alongside `expected` (both in id order): no index of 100k records
 * to build, which was a fifth of verifying a migration into SQLite. Undefined when the target
 * lists out of order.
 */
async function compareInOrder(expected: readonly ClientRecord[], target: ClientStore, kept: ReadonlySet<number>): Promise<Comparison | undefined> {
  const comparison: Comparison = {targetListed: 0, missing: [], extra: [], different: []}
  const keptSeen = new Set<number>()
  let next = 0
  let previous = 0
  for await (const record of target.list({includeRevoked: true})) {
    comparison.targetListed++
    const id = record.client_id
    if (id < previous) return undefined
    if (id === previous) {
      // A second record with an id already listed is unexpected, whether the source has the id or not.
      comparison.extra.push(id)
      continue
    }
    previous = id
    while (next < expected.length && expected[next]!.client_id < id) comparison.missing.push(expected[next++]!.client_id)
    const wanted = expected[next]
    if (wanted?.client_id === id) {
      next++
      if (!sameClient(wanted, record)) comparison.different.push({client_id: id, fields: differingFields(wanted, record)})
    } else if (kept.has(id)) keptSeen.add(id)
    else comparison.extra.push(id)
  }
  while (next < expected.length) comparison.missing.push(expected[next++]!.client_id)
  for (const id of kept) if (!keptSeen.has(id)) comparison.missing.push(id)
  return comparison
}

/** The same comparison through an index by id, for listings in any order. */
async function compareById(expected: readonly ClientRecord[], target: ClientStore, kept: ReadonlySet<number>): Promise<Comparison> {
  const comparison: Comparison = {targetListed: 0, missing: [], extra: [], different: []}
  const byId = new Map<number, ClientRecord>()
  for (const record of expected) byId.set(record.client_id, record)
  const keptSeen = new Set<number>()
  for await (const record of target.list({includeRevoked: true})) {
    comparison.targetListed++
    const id = record.client_id
    const wanted = byId.get(id)
    if (wanted === undefined) {
      // A kept id listed twice is as wrong as any unexpected record.
      if (kept.has(id) && !keptSeen.has(id)) keptSeen.add(id)
      else comparison.extra.push(id)
      continue
    }
    // Matched once: a second record with this id is reported as unexpected.
    byId.delete(id)
    if (!sameClient(wanted, record)) comparison.different.push({client_id: id, fields: differingFields(wanted, record)})
  }
  comparison.missing = [...byId.keys(), ...[...kept].filter((id) => !keptSeen.has(id))]
  return comparison
}

/**
 * A fingerprint of a source's records, kept with a completed migration's mark so a later run can
 * tell whether the source changed since (a store's revision() is not comparable across processes:
 * sqlite's data_version is per connection) and whether the TARGET did. It runs on every completed
 * migration, so it is built from the fields directly rather than from JSON.stringify (half the
 * cost at 100k clients): strings carry their length, so no two different records give the same
 * text. Metadata is canonical JSON (keys sorted), so records that verification found equal give
 * the same fingerprint on every backend: the source's fingerprint at completion is also the
 * target's. Prefixed with its format: see isCurrentDigest.
 */
export function recordsDigest(records: readonly ClientRecord[]): string {
  const hash = new ChunkedHash()
  for (const record of records) hash.add(fingerprintText(record))
  return hash.digestText()
}

/** {@link recordsDigest} of everything a store lists, tombstones included (a page at a time). */
export async function storeDigest(store: ClientStore): Promise<string> {
  const hash = new ChunkedHash()
  for await (const record of store.list({includeRevoked: true})) hash.add(fingerprintText(record))
  return hash.digestText()
}

/**
 * SHA-256 fed ~64 KB at a time: one `update` per record (a native call each) was a quarter of the
 * fingerprint's cost at 100k clients (measured: 151–214 ms against 114–167 ms batched). The digest
 * is the same either way: a hash only sees the concatenation.
 */
class ChunkedHash {
  private readonly hash: Hash = createHash('sha256')
  private pending = ''

  add(text: string): void {
    this.pending += text
    if (this.pending.length >= 65_536) {
      this.hash.update(this.pending)
      this.pending = ''
    }
  }

  /** The finished hash, prefixed with its format. */
  digestText(): string {
    this.hash.update(this.pending)
    return `${DIGEST_FORMAT}${this.hash.digest('hex')}`
  }
}

/** Marks of the previous format (`fields-sha256:`, metadata in listing order) are not compared. */
const DIGEST_FORMAT = 'canonical-sha256:'

/** Whether `digest` was made the way recordsDigest makes it now (marks of older versions were not, or have none: they cannot be compared). */
export function isCurrentDigest(digest: string | undefined): boolean {
  return digest?.startsWith(DIGEST_FORMAT) ?? false
}

function fingerprintText(record: ClientRecord): string {
  return `${record.client_id}|${text(record.api_key)}${text(record.name)}${text(record.description)}${flag(record.is_admin)}${record.last_seen}|${list(record.intent_blacklist)}${list(record.skill_blacklist)}${list(record.message_blacklist)}${list(record.allowed_types)}${text(record.crypto_key)}${text(record.password)}${flag(record.can_broadcast)}${flag(record.can_escalate)}${flag(record.can_propagate)}${metadataText(record.metadata)}\n`
}

/** Canonical JSON (the JSON text itself shows where it ends); most clients have none, which costs no sort. */
function metadataText(metadata: ClientRecord['metadata']): string {
  for (const _key in metadata) return canonicalValueJson(metadata)
  return '{}'
}

/** "5:hello", or "-" for null: the length tells where the next field starts. */
function text(value: string | null): string {
  return value === null ? '-' : `${value.length}:${value}`
}

function flag(value: boolean): string {
  return value ? 'T' : 'F'
}

const lastListed = new LastListText((items) => {
  let out = `${items.length}[`
  for (const item of items as readonly string[]) out += `${item.length}:${item}`
  return out
})

function list(items: readonly string[]): string {
  return items.length === 0 ? '0[' : lastListed.text(items)
}
