/**
 * Where the audit trail goes, from the same layers as every other setting: env > config file
 * (`audit` section) > defaults.
 *
 * | setting | env | default |
 * |---|---|---|
 * | `audit.file` | HIVEMIND_AUDIT_FILE | `$XDG_STATE_HOME/hivemind-core/audit.log` |
 * | `audit.redisStream` | HIVEMIND_AUDIT_REDIS_STREAM | false (only meaningful with the redis backend) |
 * | `audit.streamMaxLen` | HIVEMIND_AUDIT_STREAM_MAX_LEN | 1000000 (approximate trimming, XADD MAXLEN ~) |
 */
import {statSync} from 'node:fs'
import path from 'node:path'

import {expandPath} from '../config/paths.js'
import {describeSource, optionValues, type ResolvedSettings, type SettingSource, type Sourced} from '../config/settings.js'
import {ConfigError} from '../core/errors.js'
import {type AuditSink, AuditTrail, FileAuditSink} from './trail.js'

/** Default cap of the Redis stream (entries; trimmed approximately). */
export const DEFAULT_STREAM_MAX_LEN = 1_000_000

/** The resolved audit settings. */
export interface AuditSettings {
  /** The JSON-lines file every host writes locally. */
  file: string
  /** Also write to a Redis stream on the hive's own server (redis backend only). */
  redisStream: boolean
  streamMaxLen: number
}

/** The `audit` section of a config file, as validated by the schema. */
export interface AuditFileSection {
  file?: string
  redisStream?: boolean
  streamMaxLen?: number
}

/** Resolves the audit settings of an invocation. */
export function resolveAuditSettings(settings: ResolvedSettings, env: NodeJS.ProcessEnv = process.env): AuditSettings {
  const sourced = resolveSourcedAuditSettings(settings, env)
  return {file: sourced.file.value, redisStream: sourced.redisStream.value, streamMaxLen: sourced.streamMaxLen.value}
}

/** The audit settings, each with where it came from (what print-config shows). */
export function resolveSourcedAuditSettings(settings: ResolvedSettings, env: NodeJS.ProcessEnv = process.env): {[K in keyof AuditSettings]: Sourced<AuditSettings[K]>} {
  const section = (settings.file as {audit?: AuditFileSection}).audit ?? {}
  const fromFile = (key: keyof AuditFileSection): SettingSource => ({kind: 'file', path: settings.configFile?.path ?? '', key: `audit.${key}`})
  const fromEnv = (name: string): SettingSource => ({kind: 'env', name})
  const envFile = nonEmpty(env.HIVEMIND_AUDIT_FILE)
  const file: Sourced<string> = envFile !== undefined
    ? {value: expandPath(envFile, settings.cwd, env), source: fromEnv('HIVEMIND_AUDIT_FILE')}
    : section.file !== undefined
      ? {value: expandPath(section.file, settings.fileDir, env), source: fromFile('file')}
      : {value: path.join(settings.paths.stateDir, 'audit.log'), source: {kind: 'default'}}
  const envStream = nonEmpty(env.HIVEMIND_AUDIT_REDIS_STREAM)
  let redisStream: Sourced<boolean> = section.redisStream === undefined ? {value: false, source: {kind: 'default'}} : {value: section.redisStream, source: fromFile('redisStream')}
  if (envStream !== undefined) {
    const lowered = envStream.toLowerCase()
    if (!['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(lowered)) throw new ConfigError('HIVEMIND_AUDIT_REDIS_STREAM must be true or false')
    redisStream = {value: ['1', 'true', 'yes', 'on'].includes(lowered), source: fromEnv('HIVEMIND_AUDIT_REDIS_STREAM')}
  }
  const envMax = nonEmpty(env.HIVEMIND_AUDIT_STREAM_MAX_LEN)
  if (envMax !== undefined && !/^\d+$/.test(envMax)) throw new ConfigError('HIVEMIND_AUDIT_STREAM_MAX_LEN must be a positive integer')
  const streamMaxLen: Sourced<number> = envMax !== undefined
    ? {value: Number(envMax), source: fromEnv('HIVEMIND_AUDIT_STREAM_MAX_LEN')}
    : section.streamMaxLen === undefined
      ? {value: DEFAULT_STREAM_MAX_LEN, source: {kind: 'default'}}
      : {value: section.streamMaxLen, source: fromFile('streamMaxLen')}
  return {file, redisStream, streamMaxLen}
}

/**
 * Refuses an audit file that is the selected database's file, or one of SQLite's companion files:
 * audit lines appended to a clients.json or clients.db would break the database (QA). Commands
 * that change clients call it before the change, listen before it serves.
 */
export function assertAuditFileApart(settings: ResolvedSettings, env: NodeJS.ProcessEnv = process.env): void {
  const databaseFile = settings.backendOptions.path?.value
  if (typeof databaseFile !== 'string') return
  const {file} = resolveSourcedAuditSettings(settings, env)
  if (![databaseFile, `${databaseFile}-wal`, `${databaseFile}-shm`, `${databaseFile}-journal`].some((candidate) => sameFile(file.value, candidate))) return
  throw new ConfigError(`the audit file (${describeSource(file.source, settings.cwd)}) is the database file ${databaseFile}: audit lines appended to it would break the database; nothing was changed`, {
    suggestion: 'point audit.file or HIVEMIND_AUDIT_FILE at another file, or leave both unset for $XDG_STATE_HOME/hivemind-core/audit.log',
  })
}

/** The same path, or two names of one file (a symlink, a hard link). */
function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true
  try {
    const first = statSync(a)
    const second = statSync(b)
    return first.dev === second.dev && first.ino === second.ino
  } catch {
    return false // One of them does not exist yet: different names are different files.
  }
}

/**
 * The audit trail of an invocation: the file, plus the Redis stream when enabled and the selected
 * backend is redis. `warn` receives a notice when the stream is enabled with another backend.
 */
export async function openAuditTrail(settings: ResolvedSettings, command: string, warn: (message: string) => void): Promise<AuditTrail> {
  assertAuditFileApart(settings)
  const audit = resolveAuditSettings(settings)
  const sinks: AuditSink[] = [new FileAuditSink(audit.file)]
  if (audit.redisStream) {
    if (settings.registered.descriptor.name === 'redis') {
      const {RedisStreamAuditSink} = await import('../plugins/redis/audit-stream.js')
      sinks.push(new RedisStreamAuditSink(optionValues(settings.backendOptions) as never, audit.streamMaxLen))
    } else {
      warn(`audit.redisStream is ignored: the selected backend is ${settings.registered.descriptor.name}, not redis`)
    }
  }
  return new AuditTrail(sinks, command)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
