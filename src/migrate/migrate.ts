/**
 * Store-to-store migration through the ClientStore contract only, so it works for every pair of
 * backends, plugins included: plan (compare), copy in batches (putMany where the target has
 * it), verify (canonical equality, both directions). The source is only ever read.
 *
 * Cost model (a 100k-client hive is the yardstick, docs/performance.md P7): the source is read
 * once, by the plan, and kept; verification reads only the target and compares it with what the
 * plan read, after checking with `revision()` that the source did not change meanwhile (if it did,
 * the source is read again: the target must equal what the source holds NOW).
 */
import {canonicalJson, type ClientRecord, sameClient} from '../core/client.js'
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
  const plan: MigrationPlan = {sourceCount: 0, targetCount: targetRecords.size, toCopy: [], identical: 0, conflicts: [], conflicting: [], extra: [], sourceRecords: [], sourceRevision}
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
  return plan
}

/** Field names whose canonical values differ. */
export function differingFields(a: ClientRecord, b: ClientRecord): string[] {
  return (Object.keys(a) as Array<keyof ClientRecord>).filter((field) => JSON.stringify(canonicalField(a[field])) !== JSON.stringify(canonicalField(b[field])))
}

function canonicalField(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
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
    if (target.putMany) await target.putMany(batch)
    else for (const record of batch) await target.put(record)
    onProgress(Math.min(records.length, start + batch.length))
  }
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
}

/**
 * Compares every record of both stores in canonical form, and their counts. `kept` are ids the
 * target held before a --merge that are not in the source: they must still be there. With the
 * `plan` of this run, the source is not read again unless its revision moved since the plan.
 */
export async function verifyMigration(source: ClientStore, target: ClientStore, kept: ReadonlySet<number> = new Set(), plan?: MigrationPlan): Promise<Verification> {
  const sourceChanged = plan === undefined || (await source.revision()) !== plan.sourceRevision
  let listed = 0
  const expected = new Map<number, ClientRecord>()
  if (sourceChanged) {
    for await (const record of source.list({includeRevoked: true})) {
      listed++
      expected.set(record.client_id, record)
    }
  } else {
    listed = plan.sourceRecords.length
    for (const record of plan.sourceRecords) expected.set(record.client_id, record)
  }
  const sourceCount = await source.count({includeRevoked: true})
  const result: Verification = {ok: false, sourceCount, targetCount: 0, missing: [], extra: [], different: [], sourceChanged}
  const keptSeen = new Set<number>()
  let targetListed = 0
  for await (const record of target.list({includeRevoked: true})) {
    targetListed++
    const id = record.client_id
    const wanted = expected.get(id)
    if (wanted === undefined) {
      // A kept id listed twice is as wrong as any unexpected record.
      if (kept.has(id) && !keptSeen.has(id)) keptSeen.add(id)
      else result.extra.push(id)
      continue
    }
    // Matched once: a second record with this id is reported as unexpected.
    expected.delete(id)
    if (!sameClient(wanted, record)) result.different.push({client_id: id, fields: differingFields(wanted, record)})
  }
  result.targetCount = await target.count({includeRevoked: true})
  result.missing = [...expected.keys(), ...[...kept].filter((id) => !keptSeen.has(id))]
  result.ok =
    listed === sourceCount &&
    result.targetCount === targetListed &&
    result.targetCount === sourceCount + kept.size &&
    result.missing.length === 0 &&
    result.extra.length === 0 &&
    result.different.length === 0
  return result
}
