/**
 * The backend options given on a command line, fit to repeat elsewhere: what migrate-db --switch
 * writes into the config file and what a printed hint shows. Kept apart from switch.ts, which
 * loads the YAML and atomic-write libraries, because every command's hint needs it.
 */
import {hasUrlPassword, maskUrlPassword, stripUrlPassword} from '../core/redact.js'
import type {OptionsSchema} from '../core/store.js'
import type {Sourced} from './settings.js'

/** The options a command was given on its command line: what --switch records, and what a hint may show. */
export interface CommandLineOptions {
  /** What --switch writes into the config file: no secret in it. */
  stored: Record<string, unknown>
  /** What a printed hint shows: the stored options, with a URL's password masked rather than dropped (so the hint shows one was given). */
  shown: Record<string, unknown>
  /** True when a secret given on the command line was left out (a secret option, or a URL's password). */
  withheld: boolean
}

/**
 * The options given on the command line (the rest already comes from the environment, the config
 * file or defaults), minus secrets: docs/migration.md promises that a password given on the command
 * line never reaches the config file. Generic over backends: an option its schema marks `secret`
 * is left out, and any URL-shaped value loses its password part.
 */
export function commandLineOptions(schema: OptionsSchema, options: Record<string, Sourced<unknown>>): CommandLineOptions {
  const result: CommandLineOptions = {stored: {}, shown: {}, withheld: false}
  for (const [key, {value, source}] of Object.entries(options)) {
    if (source.kind !== 'flag') continue
    if (schema[key]?.secret) {
      result.withheld = true
      continue
    }
    if (typeof value === 'string' && hasUrlPassword(value)) {
      result.withheld = true
      result.stored[key] = stripUrlPassword(value)
      result.shown[key] = maskUrlPassword(value)
      continue
    }
    result.stored[key] = value
    result.shown[key] = value
  }
  return result
}
