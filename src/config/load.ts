/**
 * Finds and reads the config file with cosmiconfig (module name `hivemind`).
 */
import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {cosmiconfig, defaultLoaders, type Loader} from 'cosmiconfig'

import {ConfigError, HivemindError} from '../core/errors.js'
import {JSON_SYNTAX_HINT, JsonSyntaxError, parseJson} from '../core/json-text.js'

/** The cosmiconfig module name: `.hivemindrc*`, `hivemind.config.*`, `package.json#hivemind`. */
export const CONFIG_MODULE_NAME = 'hivemind'

/** A config file as read from disk, before validation. */
export interface LoadedConfigFile {
  /** Absolute path of the file. */
  filepath: string
  /** Parsed content (validated later by the schema). */
  content: unknown
  /** How it was found: named by `--config` / HIVEMIND_CONFIG, or found by searching. */
  how: 'explicit' | 'search'
}

/**
 * Reads the named file, or searches from `cwd` upwards to the home directory and then the per-user
 * config directory (`$XDG_CONFIG_HOME/hivemind/config.*`). Returns undefined when nothing is found.
 * A file that exists but cannot be parsed is a ConfigError naming it: never a silent default.
 */
export async function loadConfigFile(explicitPath: string | undefined, cwd: string, home: string): Promise<LoadedConfigFile | undefined> {
  // 'global': cwd upwards to the home directory, then $XDG_CONFIG_HOME/hivemind/config.*.
  // An empty file found by the search is the config file (all defaults), as it is when named with
  // --config: skipping it would quietly apply a file further up, or the per-user one, instead.
  // Constructing it already reads package.json of the working directory (cosmiconfig's own
  // settings may live there), with cosmiconfig's JSON parser: guarded as every read is.
  const explorer = await guard(cwd, async () => cosmiconfig(CONFIG_MODULE_NAME, {
    searchStrategy: 'global',
    stopDir: home,
    cache: false,
    ignoreEmptySearchPlaces: false,
    loaders: {'.json': jsonWithoutQuotes, '.yaml': yamlOrEmpty, '.yml': yamlOrEmpty, noExt: yamlOrEmpty, '.ts': typeScriptRefused, '.mts': typeScriptRefused, '.cts': typeScriptRefused},
  }))
  if (explicitPath !== undefined) {
    const filepath = path.resolve(cwd, explicitPath)
    if (!existsSync(filepath)) {
      throw new HivemindError('CONFIG_NOT_FOUND', `config file ${filepath} does not exist`, {
        suggestion: 'check --config / HIVEMIND_CONFIG, or copy .hivemindrc.example',
      })
    }
    if (statSync(filepath).isDirectory()) {
      throw new ConfigError(`config file ${filepath} is a directory`, {suggestion: 'name the file itself with --config / HIVEMIND_CONFIG (e.g. DIR/.hivemindrc.yaml), or leave it out to search from the current directory'})
    }
    const result = await guard(filepath, () => explorer.load(filepath))
    return {filepath, content: result?.config ?? {}, how: 'explicit'}
  }
  const result = await guard(cwd, () => explorer.search(cwd))
  if (!result) return undefined
  return {filepath: result.filepath, content: result.isEmpty ? {} : result.config, how: 'search'}
}

/**
 * cosmiconfig runs `.ts` config files through the TypeScript compiler when one is installed, and
 * fails with a missing-module error when not (an installed hivemind-core has none): the same file
 * must not work on one machine and break on the next. Refused everywhere, naming what works.
 */
const typeScriptRefused: Loader = (filepath) => {
  throw new ConfigError(`cannot read config file ${filepath}: TypeScript config files are not supported`, {
    suggestion: 'use .hivemindrc.json or .hivemindrc.yaml, or plain JavaScript (.hivemindrc.js, .mjs, .cjs)',
  })
}

/**
 * JSON config files (package.json too) through our parser: its errors give line and column and
 * quote nothing of the file, which may hold a Redis password (cosmiconfig's JSON parser quotes
 * the text around the error). A byte order mark, as Windows Notepad writes, is skipped.
 */
const jsonWithoutQuotes: Loader = (filepath, content) => {
  if (content.replace(/^\uFEFF/, '').trim().length === 0) return undefined
  try {
    return parseJson(content)
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
    throw new ConfigError(`cannot read config file ${filepath}: invalid JSON at line ${error.line}, column ${error.column}: ${error.reason}`, {suggestion: JSON_SYNTAX_HINT})
  }
}

/** YAML holding only comments loads as null, which cosmiconfig takes for "no file here": it is an empty file. */
const yamlOrEmpty: Loader = async (filepath, content) => (await defaultLoaders['.yaml'](filepath, content)) ?? undefined

async function guard<T>(where: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (error) {
    if (error instanceof HivemindError) throw error
    // cosmiconfig names the file it was reading (a search only knows where it started).
    const file = (error as {filepath?: unknown}).filepath
    const source = typeof file === 'string' ? file : where
    // JSON that cosmiconfig parsed itself (package.json, read for its own settings): said by our
    // parser, which quotes nothing of the file.
    const jsonFile = /^JSON Error in (.+?):(\n|$)/m.exec(error instanceof Error ? error.message : '')?.[1]
    if (jsonFile) {
      try {
        jsonWithoutQuotes(jsonFile, readFileSync(jsonFile, 'utf8'))
      } catch (parseError) {
        if (parseError instanceof HivemindError) throw parseError
        // Unreadable now: said below, as any other error.
      }
    }
    const raw = error instanceof Error ? error.message : String(error)
    // cosmiconfig spreads a parse error over several lines (path, then what and where): keep
    // them all, on one line, without the code frame it may append.
    const message = withoutFileContent(
      raw
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0 && !/^\d+\s*\|/.test(line) && !line.startsWith('>') && !/^[|\s-]*\^$/.test(line))
        .join(' '),
    )
    const named = message.includes(source) ? message : `${source}: ${message}`
    const runsCode = /\.(c|m)?(j|t)s$/.test(source)
    const unknownKind = /No loader specified for extension/.test(message)
    throw new ConfigError(`cannot read config file: ${named}${lineAndColumn(message, source)}`, {
      cause: error,
      suggestion: unknownKind
        ? 'give it a name ending in .json, .yaml, .yml, .js, .cjs or .mjs (no extension: YAML or JSON)'
        : runsCode
          ? 'fix the error in this file (it is run to read the settings)'
          : 'fix the syntax (see .hivemindrc.example)',
    })
  }
}

/**
 * A parse error without the text it quotes: the JSON parser repeats the start of the file
 * ("while parsing '{"database":{"redis":{"password":"…'") and the text around the error
 * ('"…" is not valid JSON'), and a config file may hold a Redis password.
 */
function withoutFileContent(message: string): string {
  return message.replace(/ while parsing '.*$/s, '').replace(/, (\.\.\.)?".*" is not valid JSON/s, ' (not valid JSON)')
}

/** " (line 3, column 7)" for a message that gives a JSON character position, else "". */
function lineAndColumn(message: string, file: string): string {
  const position = /at position (\d+)/.exec(message)
  if (!position) return ''
  try {
    const before = readFileSync(file, 'utf8').slice(0, Number(position[1]))
    const lines = before.split('\n')
    return ` (line ${lines.length}, column ${lines.at(-1)!.length + 1})`
  } catch {
    return ''
  }
}
