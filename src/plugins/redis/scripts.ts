/**
 * The Lua scripts of the redis backend. A script runs atomically on the server, so every write
 * (record hash + access-key index + id sets + counters) happens as one step, whatever other
 * processes do; and a credential lookup is one round trip.
 *
 * Conventions:
 * - Write scripts get KEYS = index, ids, live, last_id, revision, meta (see keys.ts) and
 *   ARGV[1] = the record key prefix (`<keyPrefix>{hive}client:`), ARGV[2] = the layout version.
 *   Record keys are built inside the scripts from that prefix; they carry the same hash tag as the
 *   declared keys, so on Redis Cluster they live in the same slot.
 * - Ids travel as decimal text (`string.format('%d')`), never as Lua numbers turned into text
 *   (which could come out as "1e+15").
 * - Replies: `{'ok', …}` on success; `{'dup', holderId}` when a live client already holds the
 *   access key; `{'missing'}` for an unknown id; `{'corrupt', what}` for a record without api_key.
 *   A script that refuses writes nothing.
 * - Every write script first checks every key it may touch (CHECK_KEYS): Redis does not undo a
 *   script's earlier writes when a later command fails, so a key of the wrong type or a counter
 *   another tool overwrote must stop the script before its first write, not halfway (a client
 *   added while `add-client` reports a failure).
 */
import {CLIENT_FIELDS} from '../../core/client.js'

/** The literal of a revoked record's access key; never indexed. */
const REVOKED = "'revoked'"

/** Shared Lua: the api_key among `field, value` pairs of ARGV[first..last]. */
const FIND_API_KEY = `
local function findApiKey(first, last)
  for i = first, last, 2 do
    if ARGV[i] == 'api_key' then return ARGV[i + 1] end
  end
  return nil
end
`

/** Shared Lua: stores one whole record (pairs ARGV[first..last]) under idText. Checks done before. */
const PUT_ONE = `
local function putOne(idText, first, last, apiKey)
  local key = ARGV[1] .. idText
  local id = tonumber(idText)
  local old = redis.call('HGET', key, 'api_key')
  if old and old ~= apiKey and old ~= ${REVOKED} and redis.call('HGET', KEYS[1], old) == idText then
    redis.call('HDEL', KEYS[1], old)
  end
  -- Replace the whole hash: a field absent from the record (a null secret) must not survive.
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(ARGV, first, last))
  redis.call('ZADD', KEYS[2], id, idText)
  if apiKey ~= ${REVOKED} then
    redis.call('HSET', KEYS[1], apiKey, idText)
    redis.call('ZADD', KEYS[3], id, idText)
  else
    redis.call('ZREM', KEYS[3], idText)
  end
  -- The counter only moves forward: add() never hands out an id put() used.
  local last = tonumber(redis.call('GET', KEYS[4]) or '0')
  if last < id then redis.call('SET', KEYS[4], idText) end
end
`

/**
 * Shared Lua: the checks every write script runs before its first write. `hiveDamage()` checks
 * the six declared keys (types, and that both counters hold what INCR accepts), `recordDamage(key)`
 * a record key; each returns the error reply to return, or nil. The replies start as the server's
 * own (WRONGTYPE, "ERR value is not an integer or out of range") and name the key: never a secret.
 */
const CHECK_KEYS = `
local HIVE_TYPES = {'hash', 'zset', 'zset', 'string', 'string', 'hash'}
local function wrongType(key, kind, expected)
  return redis.error_reply('WRONGTYPE ' .. key .. ' is a ' .. kind .. ', not a ' .. expected)
end
local function recordDamage(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' and kind ~= 'hash' then return wrongType(key, kind, 'hash') end
  return nil
end
local function hiveDamage()
  for i = 1, 6 do
    local kind = redis.call('TYPE', KEYS[i])['ok']
    if kind ~= 'none' and kind ~= HIVE_TYPES[i] then return wrongType(KEYS[i], kind, HIVE_TYPES[i]) end
  end
  for i = 4, 5 do
    local value = redis.call('GET', KEYS[i])
    -- What INCR accepts (no sign +, no leading zero), short enough never to overflow.
    if value and value ~= '0' and not (#value <= 18 and string.match(value, '^%-?[1-9]%d*$')) then
      return redis.error_reply('ERR value is not an integer or out of range: ' .. KEYS[i])
    end
  end
  return nil
end
`

/** Shared Lua: the first lines of a write script: its checks (see CHECK_KEYS). */
const CHECK_HIVE = `
local damage = hiveDamage()
if damage then return damage end
`

/** Shared Lua: marks the hive's layout and counts the write. */
const FINISH_WRITE = `
redis.call('HSETNX', KEYS[6], 'layout', ARGV[2])
redis.call('INCR', KEYS[5])
`

/** A script and its number of KEYS, for ioredis `defineCommand`. */
export interface ScriptDefinition {
  numberOfKeys: number
  lua: string
}

/**
 * add: ARGV[3..] = the record's `field, value` pairs without client_id.
 * Reply `{'ok', idText}` or `{'dup', holderId}`.
 */
const add: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${FIND_API_KEY}${CHECK_KEYS}${CHECK_HIVE}
local apiKey = findApiKey(3, #ARGV)
if not apiKey then return {'corrupt', 'api_key'} end
if apiKey ~= ${REVOKED} then
  local holder = redis.call('HGET', KEYS[1], apiKey)
  if holder then return {'dup', holder} end
end
local id = redis.call('INCR', KEYS[4])
-- Never overwrite a client, even if the counter was reset by hand.
local top = redis.call('ZREVRANGE', KEYS[2], 0, 0)
if top[1] and tonumber(top[1]) >= id then
  id = tonumber(top[1]) + 1
  redis.call('SET', KEYS[4], string.format('%d', id))
end
local idText = string.format('%d', id)
while redis.call('EXISTS', ARGV[1] .. idText) == 1 do
  idText = string.format('%d', redis.call('INCR', KEYS[4]))
end
local key = ARGV[1] .. idText
redis.call('HSET', key, 'client_id', idText, unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], tonumber(idText), idText)
if apiKey ~= ${REVOKED} then
  redis.call('HSET', KEYS[1], apiKey, idText)
  redis.call('ZADD', KEYS[3], tonumber(idText), idText)
end
${FINISH_WRITE}
return {'ok', idText}
`,
}

/**
 * put (one or many records, all or nothing): ARGV[3] = number of records, then per record:
 * idText, number of pair strings, the pairs (client_id included). Every access key is checked
 * first, in order, as if the records were stored one after the other; only then is anything
 * written. Reply `{'ok'}` or `{'dup', holderId, idText}`.
 */
const put: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${FIND_API_KEY}${PUT_ONE}${CHECK_KEYS}${CHECK_HIVE}
local records = {}
local pos = 4
for r = 1, tonumber(ARGV[3]) do
  local count = tonumber(ARGV[pos + 1])
  local first = pos + 2
  local last = first + count - 1
  local apiKey = findApiKey(first, last)
  if not apiKey then return {'corrupt', 'api_key'} end
  records[r] = {idText = ARGV[pos], first = first, last = last, apiKey = apiKey}
  pos = last + 1
end
-- Check pass. staged: id -> key as the batch leaves it; holderOf: key -> id for keys the batch gave.
local staged = {}
local holderOf = {}
for _, rec in ipairs(records) do
  damage = recordDamage(ARGV[1] .. rec.idText)
  if damage then return damage end
  if rec.apiKey ~= ${REVOKED} then
    local holder = holderOf[rec.apiKey]
    if holder == nil then
      local stored = redis.call('HGET', KEYS[1], rec.apiKey)
      -- A stored holder the batch already re-stored no longer holds its old key.
      if stored and staged[stored] == nil then holder = stored end
    end
    if holder and holder ~= rec.idText then return {'dup', holder, rec.idText} end
  end
  local previous = staged[rec.idText]
  if previous and holderOf[previous] == rec.idText then holderOf[previous] = nil end
  staged[rec.idText] = rec.apiKey
  if rec.apiKey ~= ${REVOKED} then holderOf[rec.apiKey] = rec.idText end
end
for _, rec in ipairs(records) do
  putOne(rec.idText, rec.first, rec.last, rec.apiKey)
end
${FINISH_WRITE}
return {'ok'}
`,
}

/**
 * update: ARGV[3] = idText, ARGV[4] = number of expectation strings, then the expectations as
 * pairs (field, 'v' .. the text it must hold, or 'n' for absent), then the number of pair strings
 * to set, the pairs, and the names of fields to clear (null). An expectation not met changes
 * nothing (modify's compare-and-set). Reply `{'ok', hgetall}`, `{'missing'}`, `{'changed'}` or
 * `{'dup', holderId}`.
 */
const update: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${FIND_API_KEY}${CHECK_KEYS}${CHECK_HIVE}
local idText = ARGV[3]
local key = ARGV[1] .. idText
if redis.call('EXISTS', key) == 0 then return {'missing'} end
damage = recordDamage(key)
if damage then return damage end
local expectations = tonumber(ARGV[4])
for i = 5, 4 + expectations, 2 do
  local stored = redis.call('HGET', key, ARGV[i])
  local wanted = ARGV[i + 1]
  if wanted == 'n' then
    if stored then return {'changed'} end
  elseif stored ~= string.sub(wanted, 2) then
    return {'changed'}
  end
end
local countAt = 5 + expectations
local count = tonumber(ARGV[countAt])
local first = countAt + 1
local last = countAt + count
local old = redis.call('HGET', key, 'api_key')
local new = findApiKey(first, last) or old
if not new then return {'corrupt', 'api_key'} end
if new ~= ${REVOKED} then
  local holder = redis.call('HGET', KEYS[1], new)
  if holder and holder ~= idText then return {'dup', holder} end
end
if old and old ~= new and old ~= ${REVOKED} and redis.call('HGET', KEYS[1], old) == idText then
  redis.call('HDEL', KEYS[1], old)
end
if new ~= ${REVOKED} then
  redis.call('HSET', KEYS[1], new, idText)
  redis.call('ZADD', KEYS[3], tonumber(idText), idText)
else
  redis.call('ZREM', KEYS[3], idText)
end
if count > 0 then redis.call('HSET', key, unpack(ARGV, first, last)) end
if #ARGV > last then redis.call('HDEL', key, unpack(ARGV, last + 1)) end
${FINISH_WRITE}
return {'ok', redis.call('HGETALL', key)}
`,
}

/**
 * revoke: ARGV[3] = idText. Leaves the tombstone (api_key "revoked", password and crypto_key
 * removed = null), drops the index entry and the live-set entry. Reply `{'ok', hgetall}` or `{'missing'}`.
 */
const revoke: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${CHECK_KEYS}${CHECK_HIVE}
local idText = ARGV[3]
local key = ARGV[1] .. idText
if redis.call('EXISTS', key) == 0 then return {'missing'} end
damage = recordDamage(key)
if damage then return damage end
local old = redis.call('HGET', key, 'api_key')
if old and old ~= ${REVOKED} and redis.call('HGET', KEYS[1], old) == idText then
  redis.call('HDEL', KEYS[1], old)
end
redis.call('HSET', key, 'api_key', ${REVOKED})
redis.call('HDEL', key, 'password', 'crypto_key')
redis.call('ZREM', KEYS[3], idText)
redis.call('ZADD', KEYS[2], tonumber(idText), idText)
${FINISH_WRITE}
return {'ok', redis.call('HGETALL', key)}
`,
}

/**
 * clear: removes every record hash, the index and both id sets; keeps the id counter (ids are
 * never reused) and bumps the revision. Used by migrate-db --force.
 */
const clear: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${CHECK_KEYS}${CHECK_HIVE}
for _, idText in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. idText)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
${FINISH_WRITE}
return {'ok'}
`,
}

/**
 * byKey (read only): KEYS[1] = index; ARGV[1] = record key prefix, ARGV[2] = access key.
 * HGET index + HMGET record in ONE round trip. Replies the record's values in CLIENT_FIELDS order
 * (nil for an absent field), or nil when the key is unknown, "revoked", or (should the index ever
 * disagree) the record holds another key. Values only, not `field, value` pairs: the reply is
 * half as long to encode, send and parse, which is most of a lookup's cost. A hash edited by hand
 * (holding fields the record does not know, or missing its client_id) is replied whole as
 * `{'all', {field, value, …}, idText}`, so it decodes exactly as `get` reads it: unknown fields
 * fold into metadata, and the id is the one the key names.
 */
const byKey: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
if ARGV[2] == ${REVOKED} then return false end
local idText = redis.call('HGET', KEYS[1], ARGV[2])
if not idText then return false end
local key = ARGV[1] .. idText
local values = redis.call('HMGET', key, ${CLIENT_FIELDS.map((field) => `'${field}'`).join(', ')})
if values[${CLIENT_FIELDS.indexOf('api_key') + 1}] ~= ARGV[2] then return false end
local present = 0
for i = 1, #values do
  if values[i] then present = present + 1 end
end
-- Whole, too, when its client_id is not the id its key names: decoding it then says so.
if not values[1] or values[1] ~= idText or redis.call('HLEN', key) ~= present then return {'all', redis.call('HGETALL', key), idText} end
return values
`,
}

/**
 * page (read only): KEYS[1] = the ids or live set; ARGV[1] = record key prefix, ARGV[2] = the
 * last id already seen (exclusive), ARGV[3] = page size. Replies `{id, pairs, id, pairs, …}` in id
 * order, read atomically (a page never mixes before and after a concurrent write).
 */
const page: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, idText in ipairs(ids) do
  out[#out + 1] = idText
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. idText)
end
return out
`,
}

/**
 * pageJson: the same page as {@link page}, encoded by the server as ONE JSON text. A page of 500
 * records is otherwise ~15,000 bulk strings for the client to parse one by one, which made a
 * 100k-client listing several times slower than the server's work; `JSON.parse` is native.
 * Each record comes as its values in CLIENT_FIELDS order (`false` for an absent field), like
 * {@link byKey}: without the field names the text is a third shorter, and encoding it was most of
 * the script's time. A hash holding fields the record does not know comes whole as
 * `['all', [field, value, …]]`; a missing hash as `{}`.
 *
 * ARGV[4] (`skip`) lets a client ask for the page after next before it knows where the next one
 * ends: the page then starts after the skip-th id after ARGV[2]. The reply leads with that
 * boundary (ARGV[2] itself when skip is 0, `false` when fewer ids follow), so the client can check
 * that the page continues exactly where the previous one ended.
 * So: `[boundary, id, values, id, values, …]`.
 * Uses the `cjson` library every Redis since 2.6 embeds; servers without it get {@link page}.
 */
const pageJson: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local after = ARGV[2]
local skip = tonumber(ARGV[4] or '0')
if skip > 0 then
  local skipped = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'LIMIT', skip - 1, 1)
  if #skipped == 0 then return '[false]' end
  after = skipped[1]
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then return '[' .. cjson.encode(after) .. ']' end
local out = {}
for _, idText in ipairs(ids) do
  local key = ARGV[1] .. idText
  local values = redis.call('HMGET', key, ${CLIENT_FIELDS.map((field) => `'${field}'`).join(', ')})
  local present = 0
  for i = 1, #values do
    if values[i] then present = present + 1 end
  end
  out[#out + 1] = idText
  if present == 0 then
    out[#out + 1] = {}
  elseif redis.call('HLEN', key) ~= present then
    out[#out + 1] = {'all', redis.call('HGETALL', key)}
  else
    out[#out + 1] = values
  end
end
return '[' .. cjson.encode(after) .. ',' .. string.sub(cjson.encode(out), 2)
`,
}

/** Every script, by the name it is defined under on the ioredis client. */
/** reserve: ARGV[3] = an id; raises last_id to it (never lowers it). Reply `{'ok'}`. */
const reserve: ScriptDefinition = {
  numberOfKeys: 6,
  lua: `${CHECK_KEYS}${CHECK_HIVE}
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if last < tonumber(ARGV[3]) then redis.call('SET', KEYS[4], ARGV[3]) end
${FINISH_WRITE}
return {'ok'}
`,
}

export const SCRIPTS = {
  hivemindAdd: add,
  hivemindPut: put,
  hivemindUpdate: update,
  hivemindRevoke: revoke,
  hivemindClear: clear,
  hivemindReserve: reserve,
  hivemindByKey: byKey,
  hivemindPage: page,
  hivemindPageJson: pageJson,
} as const

export type ScriptName = keyof typeof SCRIPTS
