/**
 * `migrate-db --switch`: points the config file at a new backend, so every command then uses it.
 * The file is rewritten atomically with its mode kept, after a backup copy; YAML comments survive.
 * Without a config file, the per-user one ($XDG_CONFIG_HOME/hivemind/config.json) is created.
 */
import {copyFileSync, existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import writeFileAtomic from 'write-file-atomic'
import {parseDocument} from 'yaml'

import {ConfigError} from '../core/errors.js'
import {ensurePrivateDir} from '../core/private-dir.js'
import type {OptionsSchema} from '../core/store.js'
import {CONFIG_MODULE_NAME} from './load.js'
import {envName} from './settings.js'

/** What --switch did. */
export interface SwitchResult {
  file: string
  /** Backup of the previous file; undefined when the file was created or left as it was. */
  backup?: string
  created: boolean
  /** The file already said exactly this: it was not written (and no backup was taken). Default false. */
  unchanged?: boolean
}

/**
 * Refuses, before anything is copied, a config file --switch could not rewrite afterwards (a
 * JavaScript one): the migration would run, then fail at the switch.
 */
export function assertSwitchable(file: string | undefined, backend: string, options: Record<string, unknown>): void {
  if (file !== undefined && /\.(c|m)?js$/.test(path.basename(file))) throw javaScriptConfig(file, backend, options)
}

function javaScriptConfig(file: string, backend: string, options: Record<string, unknown>): ConfigError {
  return new ConfigError(`${file} is a JavaScript config file; --switch cannot rewrite it`, {
    suggestion: `run without --switch, then set ${describeSwitch(backend, options)} in it by hand`,
  })
}

/** The per-user config file cosmiconfig finds last ($XDG_CONFIG_HOME/hivemind/config.json). */
export function userConfigFile(env: NodeJS.ProcessEnv, home: string): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config')
  return path.join(base, CONFIG_MODULE_NAME, 'config.json')
}

/**
 * Where the operator should put a secret that was not written: the backend's secret option, as an
 * environment variable and as a config key ("HIVEMIND_REDIS_PASSWORD, or database.redis.password
 * in <file>"). A backend without a secret option gets a generic sentence.
 */
export function whereSecretsGo(backend: string, schema: OptionsSchema, file: string): string {
  const keys = Object.entries(schema).filter(([, spec]) => spec.secret).map(([key]) => key)
  if (keys.length === 0) return `add it to ${file} yourself (it is left out of everything we print and write)`
  const env = keys.map((key) => `HIVEMIND_${envName(backend)}_${envName(key)}`).join(' / ')
  const config = keys.map((key) => `database.${backend}.${key}`).join(' / ')
  return `set ${env} in the environment, or ${config} in ${file}`
}

/** The lines an operator would change by hand (printed when --switch is not given). */
export function describeSwitch(backend: string, options: Record<string, unknown>, file?: string): string {
  const database = {database: {backend, ...(Object.keys(options).length > 0 ? {[backend]: options} : {})}}
  // In a package.json the settings live under "hivemind" (cosmiconfig's package property).
  return JSON.stringify(file !== undefined && path.basename(file) === 'package.json' ? {hivemind: database} : database)
}

/**
 * Sets `database.backend` (and `database.<backend>.<key>` for the given options) in `file`,
 * or creates `fallback` when there is no file.
 */
export async function switchBackend(file: string | undefined, fallback: string, backend: string, options: Record<string, unknown>): Promise<SwitchResult> {
  if (file === undefined || !existsSync(file)) {
    const target = file ?? fallback
    // docs/security.md: files we create are 0600 in 0700 directories. Only the directory we create
    // gets 0700 (its parents, e.g. ~/.config, are the user's); an existing one keeps its mode.
    ensurePrivateDir(path.dirname(target))
    await writeFileAtomic(target, `${JSON.stringify(setBackend({}, backend, options), null, 2)}\n`, {mode: 0o600})
    return {file: target, created: true}
  }
  const text = readFileSync(file, 'utf8')
  const updated = rewrite(file, text, backend, options)
  // A re-run (a CI deploy step) finds the file switched already: no rewrite, no pile of identical backups.
  if (updated === text) return {file, created: false, unchanged: true}
  const backup = `${file}.${new Date().toISOString().replaceAll(/[:.]/g, '-')}.bak`
  copyFileSync(file, backup)
  await writeFileAtomic(file, updated, {mode: statSync(file).mode & 0o777})
  return {file, backup, created: false}
}

function rewrite(file: string, text: string, backend: string, options: Record<string, unknown>): string {
  const base = path.basename(file)
  if (base === 'package.json') {
    const pkg = JSON.parse(text) as Record<string, unknown>
    pkg[CONFIG_MODULE_NAME] = setBackend((pkg[CONFIG_MODULE_NAME] ?? {}) as Record<string, unknown>, backend, options)
    return `${JSON.stringify(pkg, null, detectIndent(text))}\n`
  }
  if (/\.(c|m)?js$/.test(base)) throw javaScriptConfig(file, backend, options)
  const trimmed = text.trim()
  if (/\.json$/.test(base) || trimmed.startsWith('{')) {
    const content = trimmed.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>)
    return `${JSON.stringify(setBackend(content, backend, options), null, detectIndent(text))}\n`
  }
  // YAML (.hivemindrc, .yaml, .yml): edit the document so comments and layout survive.
  const document = parseDocument(text)
  document.setIn(['database', 'backend'], backend)
  for (const [key, value] of Object.entries(options)) document.setIn(['database', backend, key], value)
  return document.toString()
}

function setBackend(content: Record<string, unknown>, backend: string, options: Record<string, unknown>): Record<string, unknown> {
  const database: Record<string, unknown> = {...((content.database ?? {}) as Record<string, unknown>), backend}
  if (Object.keys(options).length > 0) database[backend] = {...((database[backend] ?? {}) as Record<string, unknown>), ...options}
  return {...content, database}
}

function detectIndent(text: string): number {
  const match = /\n( +)"/.exec(text)
  return match ? match[1]!.length : 2
}

/**
 * Path options under the config file's own directory, written relative to it (`./data/clients.db`),
 * as the settings read them back: a project whose config says `path: ./clients.json` stays
 * movable after --switch. Paths elsewhere, and every path of a config file created now, stay absolute.
 */
export function relativeToConfig(options: Record<string, unknown>, schema: OptionsSchema, configFile: string | undefined): Record<string, unknown> {
  if (configFile === undefined || !existsSync(configFile)) return options
  const base = path.dirname(configFile)
  const out: Record<string, unknown> = {...options}
  for (const [key, value] of Object.entries(options)) {
    if (schema[key]?.type !== 'path' || typeof value !== 'string' || !path.isAbsolute(value)) continue
    const relative = path.relative(base, value)
    if (relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)) out[key] = `./${relative.split(path.sep).join('/')}`
  }
  return out
}
