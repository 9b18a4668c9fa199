/**
 * Store-to-store migration through the ClientStore contract only, so it works for every pair of
 * backends, plugins included: plan (compare), copy in batches (putMany where the target has
 * it), verify (canonical equality, both directions). The source is only ever read.
 */
import {canonicalJson, type ClientRecord} from '../core/client.js'
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
}

/** Reads both stores and compares them record by record. */
export async function planMigration(source: ClientStore, target: ClientStore): Promise<MigrationPlan> {
  const targetRecords = new Map<number, ClientRecord>()
  for await (const record of target.list({includeRevoked: true})) targetRecords.set(record.client_id, record)
  const plan: MigrationPlan = {sourceCount: 0, targetCount: targetRecords.size, toCopy: [], identical: 0, conflicts: [], conflicting: [], extra: []}
  const seen = new Set<number>()
  for await (const record of source.list({includeRevoked: true})) {
    plan.sourceCount++
    seen.add(record.client_id)
    const existing = targetRecords.get(record.client_id)
    if (!existing) plan.toCopy.push(record)
    else if (canonicalJson(existing) === canonicalJson(record)) plan.identical++
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

/** Writes records in batches; atomic per batch where the target has putMany. */
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
}

/**
 * Compares every record of both stores in canonical form, and their counts. `kept` are ids the
 * target held before a --merge that are not in the source: they must still be there.
 */
export async function verifyMigration(source: ClientStore, target: ClientStore, kept: ReadonlySet<number> = new Set()): Promise<Verification> {
  const plan = await planMigration(source, target)
  const sourceCount = await source.count({includeRevoked: true})
  const targetCount = await target.count({includeRevoked: true})
  const result: Verification = {
    ok: false,
    sourceCount,
    targetCount,
    missing: [...plan.toCopy.map((record) => record.client_id), ...[...kept].filter((id) => !plan.extra.includes(id))],
    extra: plan.extra.filter((id) => !kept.has(id)),
    different: plan.conflicts,
  }
  result.ok = targetCount === sourceCount + kept.size && plan.sourceCount === sourceCount && result.missing.length === 0 && result.extra.length === 0 && result.different.length === 0
  return result
}
