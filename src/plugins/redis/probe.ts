/**
 * Looks at a Redis location without writing (for the agreement guard and read-only commands):
 * a fail-fast connection with a short, bounded deadline. Unreachable, refused or unauthorised →
 * undefined ("cannot tell"), never a hang.
 */
import type {StoreProbe} from '../../core/store.js'
import {RedisConnection, runningTimeDeadline} from './connection.js'
import {redisKeys} from './keys.js'
import {describeTarget, type RedisOptions, resolveTarget} from './options.js'

/** The whole probe (connect + one pipeline) takes at most this long, in ms. */
export const PROBE_BUDGET_MS = 1000

export async function probeRedis(options: RedisOptions, budgetMs = PROBE_BUDGET_MS): Promise<StoreProbe | undefined> {
  let connection: RedisConnection | undefined
  try {
    const resolved = resolveTarget(options)
    const target = {...resolved, connectTimeoutMs: Math.min(resolved.connectTimeoutMs, budgetMs), reconnect: false}
    const started = performance.now()
    connection = new RedisConnection(target, {reconnect: false, commandTimeoutMs: budgetMs})
    await connection.connect(budgetMs)
    const keys = redisKeys(target.keyPrefix)
    const remaining = Math.max(1, budgetMs - (performance.now() - started))
    const deadline = runningTimeDeadline(remaining, 'probe took too long')
    const results = await Promise.race([
      connection.client.multi().zcard(keys.ids).zcard(keys.live).exists(keys.lastId, keys.meta).get(keys.lastId).exec(),
      deadline.expired,
    ]).finally(() => deadline.cancel())
    if (!results || results.some(([error]) => error)) return undefined
    const [all, live, markers, counter] = results.map(([, value]) => Number(value))
    const lastId = Number.isSafeInteger(counter) && counter! > 0 ? {lastId: counter} : {}
    return {exists: (all ?? 0) > 0 || (markers ?? 0) > 0, clients: live ?? 0, ...lastId, location: describeTarget(target)}
  } catch {
    return undefined
  } finally {
    // No QUIT and no wait for its reply: the probe wrote nothing, and a read-only command opens
    // its store right after this (one round trip less on its start).
    connection?.client.disconnect()
  }
}
