/**
 * `doctor`'s look at a Redis hive's own structure. Our scripts keep the record hashes, the
 * access-key index and the two id sets in step (every write is one script), so a disagreement
 * means a hand edit, a partial restore or another program writing under the prefix. Each kind is
 * reported once with a count, a few ids and what it does to the hub — never an access key (the
 * index's field names are secrets). Read only: SCAN, ZRANGE, HGETALL, HGET, MGET.
 */
import type {Redis} from 'ioredis'

import {REVOKED_API_KEY} from '../../core/client.js'
import type {Finding} from '../../core/store.js'
import {shellQuoted} from '../../core/shell-word.js'
import {keysStartingWith, type RedisCliTarget, redisCli, redisCliAuthNote, type RedisKeys} from './keys.js'

/** How many ids a finding names before "…". */
const SHOWN_IDS = 10
/** Record hashes read per pipeline. */
const BATCH = 1000

/** What the hive's keys hold, as far as the checks need. */
interface HiveShape {
  /** Ids in the every-record set (tombstones included). */
  listed: Set<string>
  /** Ids in the live set. */
  live: Set<string>
  /** Access key → id, from the index. */
  index: Map<string, string>
  /** Ids that have a record hash, with its api_key field (undefined: the field is absent). */
  records: Map<string, string | undefined>
}

/**
 * The findings about the hive's keys. Each fix is the repair command itself, for the ids found
 * (the first SHOWN_IDS: run doctor again after), addressed to the hive's own server and database.
 */
export async function checkConsistency(client: Redis, keys: RedisKeys, target: RedisCliTarget): Promise<Finding[]> {
  const hive = await readShape(client, keys)
  const findings: Finding[] = []
  const cli = redisCli(target)
  const auth = redisCliAuthNote(target)
  const report = (id: string, ids: string[], message: string, fix: (shown: string[]) => string, severity: Finding['severity'] = 'problem') => {
    if (ids.length === 0) return
    ids.sort((a, b) => Number(a) - Number(b))
    const shown = ids.slice(0, SHOWN_IDS)
    const more = ids.length > SHOWN_IDS ? `; these are the first ${SHOWN_IDS}: run doctor again after` : ''
    findings.push({id, severity, message: `${message.replace('{count}', String(ids.length))} (id ${shown.join(', ')}${ids.length > SHOWN_IDS ? ', …' : ''})`, fix: `${fix(shown)}${auth}${more}`})
  }
  const recordKeys = (ids: string[]) => ids.map((id) => shellQuoted(`${keys.clientPrefix}${id}`)).join(' ')
  const scored = (ids: string[]) => ids.map((id) => `${id} ${id}`).join(' ')

  report(
    'redis-listed-without-record',
    [...hive.listed].filter((id) => !hive.records.has(id)),
    'Redis: {count} client id(s) are listed in the id set without a record hash: every listing (list-clients, export, migrate-db) fails on them',
    (ids) => `restore the records from a backup (hivemind-core restore-db), or remove the ids: ${cli} ZREM ${shellQuoted(keys.ids)} ${ids.join(' ')}; ${cli} ZREM ${shellQuoted(keys.live)} ${ids.join(' ')}`,
  )
  report(
    'redis-record-not-listed',
    [...hive.records.keys()].filter((id) => !hive.listed.has(id)),
    'Redis: {count} record hash(es) are not in the id set: list-clients, export and migrate-db do not see them, while lookups by id or access key still may',
    (ids) => `revoke them (hivemind-core delete-client ${ids.join(' ')}) or delete the hashes: ${cli} DEL ${recordKeys(ids)}`,
  )
  const liveRecords = [...hive.records].filter(([id, apiKey]) => hive.listed.has(id) && apiKey !== undefined && apiKey !== REVOKED_API_KEY)
  report(
    'redis-live-not-indexed',
    liveRecords.filter(([id, apiKey]) => hive.index.get(apiKey!) !== id).map(([id]) => id),
    'Redis: {count} active client(s) are missing from the access-key index: they cannot connect',
    (ids) => `add the entries back without printing the keys: ${ids.map((id) => `${cli} HSET ${shellQuoted(keys.index)} "$(${cli} HGET ${shellQuoted(`${keys.clientPrefix}${id}`)} api_key)" ${id}`).join('; ')}`,
  )
  const activeIds = new Set(liveRecords.map(([id]) => id))
  const differing = [...symmetricDifference(activeIds, hive.live)]
  report(
    'redis-live-set-differs',
    differing,
    'Redis: {count} client id(s) are in the live set while revoked or missing, or active but not in it: list-clients shows the wrong clients as active',
    (ids) => {
      const add = ids.filter((id) => activeIds.has(id))
      const remove = ids.filter((id) => !activeIds.has(id))
      return [add.length > 0 ? `${cli} ZADD ${shellQuoted(keys.live)} ${scored(add)}` : '', remove.length > 0 ? `${cli} ZREM ${shellQuoted(keys.live)} ${remove.join(' ')}` : ''].filter(Boolean).join('; ')
    },
  )
  // Both counters must hold what INCR accepts: every write script refuses to run otherwise.
  const counters = await client.mget(keys.lastId, keys.revision)
  const highest = Math.max(0, ...[...hive.listed, ...hive.records.keys()].map(Number))
  for (const [name, key, value, repair] of [
    ['last_id', keys.lastId, counters[0], String(highest)],
    ['revision', keys.revision, counters[1], '1'],
  ] as const) {
    if (value === null || value === undefined || isCounter(value)) continue
    findings.push({
      id: 'redis-counter-invalid',
      severity: 'problem',
      message: `Redis: the counter ${key} does not hold a whole number: every write (add-client, delete-client, listen's last_seen…) is refused until it does`,
      fix: `${cli} SET ${shellQuoted(key)} ${repair}${name === 'last_id' ? ' (the highest id in the hive)' : ''}${auth}`,
    })
  }
  report(
    'redis-index-dangling',
    [...hive.index].filter(([apiKey, id]) => hive.records.get(id) !== apiKey).map(([, id]) => id),
    'Redis: {count} entry(ies) of the access-key index point at a client that is missing, revoked or holds another key: those keys no longer connect (lookups check the record), but the entries still block the keys from being given to a new client',
    () => `remove the stale entries with HDEL on ${shellQuoted(keys.index)} (the field is the access key; ${cli} HSCAN ${shellQuoted(keys.index)} 0 lists them)`,
    'warning',
  )
  return findings
}

async function readShape(client: Redis, keys: RedisKeys): Promise<HiveShape> {
  const [listed, live, indexEntries] = await Promise.all([client.zrange(keys.ids, 0, -1), client.zrange(keys.live, 0, -1), client.hgetall(keys.index)])
  const recordIds = new Set<string>()
  const pattern = keysStartingWith(keys.clientPrefix)
  let cursor = '0'
  do {
    // eslint-disable-next-line no-await-in-loop -- SCAN is a cursor walk.
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    for (const key of found) {
      const idText = key.slice(keys.clientPrefix.length)
      // Only our own record keys: a decimal id, as the scripts write it.
      if (/^[1-9]\d*$/.test(idText)) recordIds.add(idText)
    }
  } while (cursor !== '0')
  const ids = [...recordIds]
  const records = new Map<string, string | undefined>()
  for (let start = 0; start < ids.length; start += BATCH) {
    const batch = ids.slice(start, start + BATCH)
    const pipeline = client.pipeline()
    for (const id of batch) pipeline.hget(keys.client(Number(id)), 'api_key')
    // eslint-disable-next-line no-await-in-loop -- a batch at a time bounds the reply's size.
    const replies = (await pipeline.exec()) ?? []
    for (const [index, id] of batch.entries()) {
      const [error, value] = replies[index] ?? [null, null]
      if (error) throw error
      records.set(id, typeof value === 'string' ? value : undefined)
    }
  }
  return {listed: new Set(listed), live: new Set(live), index: new Map(Object.entries(indexEntries)), records}
}

/** What INCR accepts (as the write scripts check it): "0", or an integer without sign + or leading zero, short enough never to overflow. */
function isCounter(value: string): boolean {
  return value === '0' || /^-?[1-9]\d{0,17}$/.test(value)
}

function* symmetricDifference(a: Set<string>, b: Set<string>): Iterable<string> {
  for (const item of a) if (!b.has(item)) yield item
  for (const item of b) if (!a.has(item)) yield item
}
