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
import path from 'node:path'

import {refuseDatabaseFile} from '../cli/output-file.js'
import {expandPath, UnsetVariableError} from '../config/paths.js'
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
  return values(resolveSourcedAuditSettings(settings, env))
}

function values(sourced: ReturnType<typeof resolveSourcedAuditSettings>): AuditSettings {
  return {file: sourced.file.value, redisStream: sourced.redisStream.value, streamMaxLen: sourced.streamMaxLen.value}
}

/** The audit settings, each with where it came from (what print-config shows). */
export function resolveSourcedAuditSettings(settings: ResolvedSettings, env: NodeJS.ProcessEnv = process.env): {[K in keyof AuditSettings]: Sourced<AuditSettings[K]>} {
  const section = (settings.file as {audit?: AuditFileSection}).audit ?? {}
  const fromFile = (key: keyof AuditFileSection): SettingSource => ({kind: 'file', path: settings.configFile?.path ?? '', key: `audit.${key}`})
  const fromEnv = (name: string): SettingSource => ({kind: 'env', name})
  const envFile = nonEmpty(env.HIVEMIND_AUDIT_FILE)
  const file: Sourced<string> = envFile !== undefined
    ? expandSourced(envFile, settings.cwd, fromEnv('HIVEMIND_AUDIT_FILE'), settings.cwd, env)
    : section.file !== undefined
      ? expandSourced(section.file, settings.fileDir, fromFile('file'), settings.cwd, env)
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

/** `value` expanded; an unset variable in it is a ConfigError naming where the value was set. */
function expandSourced(value: string, baseDir: string, source: SettingSource, cwd: string, env: NodeJS.ProcessEnv): Sourced<string> {
  try {
    return {value: expandPath(value, baseDir, env), source}
  } catch (error) {
    if (error instanceof UnsetVariableError) {
      throw new ConfigError(`${describeSource(source, cwd)}: environment variable ${error.variable} is not set`, {suggestion: 'set it, or write the path without it'})
    }
    throw error
  }
}

/**
 * Refuses invalid audit settings, and an audit file that is the selected database's file or one
 * of the files kept beside it: audit lines appended to a clients.json or clients.db would break
 * the database (QA). Commands that change clients call it before the change (the trail is written
 * after it), listen before it serves. Returns the audit settings it checked.
 */
export function assertAuditFileApart(settings: ResolvedSettings, env: NodeJS.ProcessEnv = process.env): AuditSettings {
  // Resolved first, whatever the backend: an invalid audit setting is also refused before the change.
  const sourced = resolveSourcedAuditSettings(settings, env)
  const {file} = sourced
  const databaseFile = settings.backendOptions.path?.value
  // The selected database, and the default files beside it, which the Python hub may use (QA:
  // the audit lines went into its clients.json while sqlite was selected).
  const databases = [path.join(settings.paths.dataDir, 'clients.json'), path.join(settings.paths.dataDir, 'clients.db')]
  if (typeof databaseFile === 'string') databases.unshift(databaseFile)
  for (const database of databases) refuseDatabaseFile(file.value, database, `audit file (this one is ${describeSource(file.source, settings.cwd)}); nothing was changed`)
  return values(sourced)
}

/**
 * The audit trail of an invocation: the file, plus the Redis stream when enabled and the selected
 * backend is redis. `warn` receives a notice when the stream is enabled with another backend.
 */
export async function openAuditTrail(settings: ResolvedSettings, command: string, warn: (message: string) => void): Promise<AuditTrail> {
  const audit = assertAuditFileApart(settings)
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
