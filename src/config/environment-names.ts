/**
 * Mistyped HIVEMIND_* variables. A variable hivemind-core does not read is ignored, so a typo in a
 * service's unit file (HIVEMIND_DBPATH) silently leaves `listen` on another database than the one
 * meant: the classic support question this project exists to end. A name one or two letters away
 * from one we read is said, with the one meant; other names are left alone (plugins and other
 * programs may have their own).
 */
import {closestName} from '../core/closest.js'
import type {BackendRegistry} from '../core/registry.js'
import {envName} from './settings.js'

/** The variables read outside the backends' options (docs/configuration.md and the command docs). */
const FIXED_NAMES = [
  'HIVEMIND_CONFIG',
  'HIVEMIND_DB_BACKEND',
  'HIVEMIND_DB_PATH',
  'HIVEMIND_DEBUG',
  'HIVEMIND_LISTEN_HOST',
  'HIVEMIND_LISTEN_PORT',
  'HIVEMIND_AGENT_URL',
  'HIVEMIND_AUDIT_FILE',
  'HIVEMIND_AUDIT_REDIS_STREAM',
  'HIVEMIND_AUDIT_STREAM_MAX_LEN',
  'HIVEMIND_BACKUP_PASSPHRASE',
  'HIVEMIND_PLUGIN_HOOK_TIMEOUT_MS',
]

/** Edits at most between a typo and the name it stands for. */
const TYPO_DISTANCE = 2

/** One notice per HIVEMIND_* variable that looks like a mistyped name of one hivemind-core reads. */
export function mistypedVariables(env: NodeJS.ProcessEnv, registry: BackendRegistry): string[] {
  const known = new Set(FIXED_NAMES)
  for (const {descriptor} of registry.list()) {
    for (const key of Object.keys(descriptor.optionsSchema)) known.add(`HIVEMIND_${envName(descriptor.name)}_${envName(key)}`)
  }
  const notices: string[] = []
  for (const name of Object.keys(env).sort()) {
    // HIVEMIND_CORE_* belongs to oclif (the CLI's own settings, e.g. HIVEMIND_CORE_NPM_REGISTRY).
    if (!name.startsWith('HIVEMIND_') || name.startsWith('HIVEMIND_CORE_') || known.has(name)) continue
    const meant = closestName(name, known)
    if (meant && meant.distance <= TYPO_DISTANCE) notices.push(`${name} is not a hivemind-core setting and is ignored; did you mean ${meant.name}?`)
  }
  return notices
}
