/**
 * `hivemind-core doctor` checks of a Redis hive: is a password required, does traffic cross the
 * network in clear, does the server persist anything, do the hive's keys agree (consistency.ts).
 * Read-only (PING, CONFIG GET, reads of the hive's keys), bounded by the connection deadlines; a
 * CONFIG that is disabled or renamed is reported as "cannot tell".
 */
import {isIP} from 'node:net'

import type {Finding} from '../../core/store.js'
import {RedisConnection} from './connection.js'
import {checkConsistency} from './consistency.js'
import {enablePersistence, redisCli, redisCliAuthNote, redisKeys} from './keys.js'
import {hostPort, type RedisOptions, type RedisTarget, resolveTarget} from './options.js'

/** Loopback host names and addresses. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (bare === 'localhost' || bare === '::1' || bare.endsWith('.localhost')) return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (bare.startsWith('::ffff:')) return bare.slice(7).startsWith('127.')
  return false
}

export async function diagnoseRedis(options: RedisOptions): Promise<Finding[]> {
  const findings: Finding[] = []
  const target = {...resolveTarget(options), reconnect: false}
  const where = hostPort(target)

  if (!isLoopback(target.host) && !target.tls) {
    findings.push({
      id: 'redis-no-tls',
      severity: 'problem',
      message: `Redis at ${where} is reached over the network without TLS: the password and every access key cross the wire in clear`,
      fix: 'enable TLS on the server (tls-port) and connect with rediss:// or database.redis.tls = true (docs/redis.md)',
    })
  }

  const connection = new RedisConnection(target, {reconnect: false, commandTimeoutMs: 2000})
  try {
    await connection.connect()
  } catch (error) {
    findings.push({id: 'redis-unreachable', severity: 'problem', message: (error as Error).message, fix: (error as {suggestion?: string}).suggestion})
    return findings
  }
  try {
    if (await acceptsWithoutPassword(target)) {
      findings.push({
        id: 'redis-no-password',
        severity: 'problem',
        message: `Redis at ${where} accepts commands without a password: anyone who can reach it can read and change every client`,
        fix: 'set requirepass (or an ACL user) in redis.conf, then give hivemind-core the password with HIVEMIND_REDIS_PASSWORD or database.redis.password in a 0600 config file',
      })
    }
    try {
      findings.push(...(await checkConsistency(connection.client, redisKeys(target.keyPrefix), target)))
    } catch (error) {
      // A user not allowed SCAN, a key of the wrong type…: the other checks still count.
      findings.push({id: 'redis-consistency-unchecked', severity: 'warning', message: `Redis at ${where}: the hive's keys could not be checked: ${connection.translate(error, 'read').message}`})
    }
    const config = await configGet(connection, ['bind', 'tls-port', 'save', 'appendonly', 'protected-mode', 'maxmemory', 'maxmemory-policy'])
    if (!config) {
      findings.push({id: 'redis-config-unreadable', severity: 'info', message: `Redis at ${where}: CONFIG GET is not allowed, so binding and persistence could not be checked`})
      return findings
    }
    const tlsPort = Number(config['tls-port'] ?? '0')
    const binds = (config.bind ?? '').split(/\s+/).filter(Boolean).map((address) => address.replace(/^-/, ''))
    const exposed = binds.length === 0 || binds.some((address) => address === '*' || address === '0.0.0.0' || address === '::' || !isLoopback(address))
    if (exposed && tlsPort === 0 && target.tls === undefined) {
      findings.push({
        id: 'redis-exposed-without-tls',
        severity: 'problem',
        message: `Redis at ${where} listens beyond loopback (bind ${binds.join(' ') || '(all interfaces)'}) without TLS`,
        fix: 'bind it to 127.0.0.1 -::1 in redis.conf, or enable TLS (tls-port, tls-cert-file…) and connect with rediss://',
      })
    }
    if ((config.save ?? '').trim() === '' && config.appendonly !== 'yes') {
      findings.push({
        id: 'redis-no-persistence',
        severity: 'problem',
        message: `Redis at ${where} persists nothing (no AOF, no RDB save points): a restart loses every client`,
        fix: enablePersistence(target),
      })
    }
    // Our keys carry no expiry, so only the allkeys-* policies can evict them: a full server would
    // then drop client records (or the index) without a word.
    const policy = config['maxmemory-policy'] ?? ''
    if (Number(config.maxmemory ?? '0') > 0 && policy.startsWith('allkeys-')) {
      findings.push({
        id: 'redis-evicts-keys',
        severity: 'problem',
        message: `Redis at ${where} evicts keys when it reaches maxmemory (maxmemory-policy ${policy}): client records and the access-key index can disappear`,
        fix: `${redisCli(target)} CONFIG SET maxmemory-policy noeviction${redisCliAuthNote(target)}, and set it in redis.conf (writes then fail when the memory is full, instead of losing clients)`,
      })
    }
  } finally {
    await connection.close()
  }
  return findings
}

/** True when a connection WITHOUT credentials may run commands. */
async function acceptsWithoutPassword(target: RedisTarget): Promise<boolean> {
  const {password: _password, username: _username, ...anonymous} = target
  const probe = new RedisConnection(anonymous, {reconnect: false, commandTimeoutMs: 2000})
  try {
    await probe.connect()
    await probe.client.ping()
    return true
  } catch {
    return false
  } finally {
    await probe.close().catch(() => {})
  }
}

async function configGet(connection: RedisConnection, keys: string[]): Promise<Record<string, string> | undefined> {
  // One key per call: CONFIG GET with several parameters needs Redis 7.
  const out: Record<string, string> = {}
  try {
    for (const key of keys) {
      const reply = (await connection.client.call('CONFIG', 'GET', key)) as string[]
      for (let index = 0; index + 1 < reply.length; index += 2) out[reply[index]!] = reply[index + 1]!
    }
    return out
  } catch {
    return undefined
  }
}
