/**
 * The key layout of one hive on a Redis server (docs/redis.md has the full picture).
 *
 * Every key is `<keyPrefix>{hive}<name>`. The `{hive}` hash tag makes Redis Cluster put all keys
 * of a hive in ONE slot, which multi-key Lua scripts require (a script may only touch keys of one
 * slot; the record keys are computed inside the scripts, so they must share the tag). Because the
 * prefix comes first and is the same for every key, the hash tag stays one and the same even when
 * a prefix itself contains braces.
 */

import {shellQuoted} from '../../core/shell-word.js'
import type {RedisTarget} from './options.js'

/** The hash tag shared by every key. */
export const HASH_TAG = '{hive}'

/** Version of this layout, kept in the meta hash (field `layout`). */
export const LAYOUT_VERSION = 1

/** The keys of one hive. */
export interface RedisKeys {
  /** `<prefix>{hive}`: what every key starts with. */
  readonly base: string
  /** `<prefix>{hive}client:` — append an id for a record hash. */
  readonly clientPrefix: string
  /** HASH access key → client id, live clients only (the key "revoked" never appears). */
  readonly index: string
  /** ZSET of every client id (score = id), tombstones included: ordered listing and counting. */
  readonly ids: string
  /** ZSET of the live client ids (score = id). */
  readonly live: string
  /** STRING: the highest id ever assigned (INCR); never decremented. */
  readonly lastId: string
  /** STRING: incremented by every write; `revision()` returns it. */
  readonly revision: string
  /** HASH of layout facts: `layout` = {@link LAYOUT_VERSION}. */
  readonly meta: string
  /** The record hash of one client. */
  client(id: number): string
}

/** The keys of the hive with this prefix. */
export function redisKeys(keyPrefix: string): RedisKeys {
  const base = `${keyPrefix}${HASH_TAG}`
  const clientPrefix = `${base}client:`
  return {
    base,
    clientPrefix,
    index: `${base}index`,
    ids: `${base}ids`,
    live: `${base}live`,
    lastId: `${base}last_id`,
    revision: `${base}revision`,
    meta: `${base}meta`,
    client: (id: number) => `${clientPrefix}${id}`,
  }
}

/** A SCAN/KEYS pattern matching every key that starts with `prefix` (its * ? [ ] \ taken literally: a prefix may hold them). */
export function keysStartingWith(prefix: string): string {
  return `${prefix.replaceAll(/[*?[\]\\]/g, '\\$&')}*`
}

/** What a printed redis-cli command needs to reach the hive's server: RedisTarget's connection part. */
export type RedisCliTarget = Pick<RedisTarget, 'host' | 'port' | 'db' | 'username' | 'password' | 'tls'>

/**
 * `redis-cli -h HOST -p PORT -n DB` (with `--user`, `--tls` and the certificate files as
 * configured) for the hints that print repair commands: a bare `redis-cli` would go to the local
 * server on 6379, which may be another hive. The password is never printed: see {@link redisCliAuthNote}.
 */
export function redisCli(target: RedisCliTarget): string {
  const word = (text: string) => (/^[\w.:/@%+=-]+$/.test(text) ? text : shellQuoted(text))
  let command = `redis-cli -h ${word(target.host)} -p ${target.port} -n ${target.db}`
  if (target.username) command += ` --user ${word(target.username)}`
  if (target.tls) {
    command += ' --tls'
    if (target.tls.ca) command += ` --cacert ${word(target.tls.ca)}`
    if (target.tls.cert) command += ` --cert ${word(target.tls.cert)}`
    if (target.tls.key) command += ` --key ${word(target.tls.key)}`
  }
  return command
}

/** " (with the password in the environment variable REDISCLI_AUTH)" when the server needs one, else "". */
export function redisCliAuthNote(target: RedisCliTarget): string {
  return target.password ? ' (with the password in the environment variable REDISCLI_AUTH, which redis-cli reads)' : ''
}

/** The commands that make the server persist its data (said by the warning every command gives, and by doctor). */
export function enablePersistence(target: RedisCliTarget): string {
  return `${redisCli(target)} CONFIG SET appendonly yes${redisCliAuthNote(target)}, and set appendonly yes in redis.conf`
}
