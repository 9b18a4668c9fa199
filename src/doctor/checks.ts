/**
 * The checks of `hivemind-core doctor` that do not belong to one backend: file and directory
 * permissions, a config file holding a Redis password, the agreement guard, and an upstream
 * server.json that selects another backend. Backend-specific checks come from the descriptor's
 * `diagnose` (src/plugins/redis/diagnose.ts).
 */
import {existsSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'

import {resolveAuditSettings} from '../audit/settings.js'
import {defaultBackupDir} from '../backup/files.js'
import type {ResolvedSettings} from '../config/settings.js'
import {octalMode} from '../core/file-access.js'
import {hasUrlPassword} from '../core/redact.js'
import type {BackendRegistry} from '../core/registry.js'
import type {Finding} from '../core/store.js'
import {shellQuoted} from '../core/shell-word.js'

/**
 * What secret the config file holds, if any: a backend option its backend marks secret (Redis's
 * `password`, a plugin's token…), or a password inside any URL of any backend's section
 * (`database.postgres.url: postgres://u:pw@…` as much as a Redis URL).
 */
export function configSecret(settings: ResolvedSettings, registry: BackendRegistry): string | undefined {
  const sections = settings.file.database ?? {}
  for (const [name, section] of Object.entries(sections)) {
    if (name === 'backend' || typeof section !== 'object' || section === null) continue
    // Every installed backend's schema says which of its options are secret; a section of a
    // backend not installed (any more) can still hold a URL with a password.
    const schema = registry.has(name) ? registry.get(name).descriptor.optionsSchema : {}
    for (const [key, value] of Object.entries(section as Record<string, unknown>)) {
      if (typeof value !== 'string' || value === '') continue
      if (schema[key]?.secret === true) return `the ${name} ${key}`
      if (hasUrlPassword(value)) return `a password in database.${name}.${key}`
    }
  }
  return undefined
}

/** Files the CLI's plugin manager (oclif) keeps in the data directory: no secrets in them. */
const PLUGIN_MANAGER_FILES = new Set(['package.json', 'package-lock.json', 'yarn.lock'])

/** Files and directories hivemind-core keeps secrets in, and whether others can read them. */
export function checkPermissions(settings: ResolvedSettings, registry: BackendRegistry): Finding[] {
  const findings: Finding[] = []
  const files = new Set<string>()
  const dirs = new Set<string>()
  const addFile = (file: string) => {
    if (existsSync(file) && statSync(file).isFile()) files.add(path.resolve(file))
  }
  const addDirContents = (dir: string) => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return
    dirs.add(dir)
    for (const name of readdirSync(dir)) {
      // `plugins install` writes these beside clients.db (both live in $XDG_DATA_HOME/hivemind-core).
      if (dir === settings.paths.dataDir && PLUGIN_MANAGER_FILES.has(name)) continue
      addFile(path.join(dir, name))
    }
  }
  const storePath = settings.backendOptions.path?.value
  if (typeof storePath === 'string') {
    for (const suffix of ['', '-wal', '-shm', '-journal']) addFile(`${storePath}${suffix}`)
    if (existsSync(path.dirname(storePath))) dirs.add(path.dirname(storePath))
  }
  addDirContents(settings.paths.dataDir)
  addDirContents(defaultBackupDir(settings.paths))
  addDirContents(settings.paths.stateDir)
  let auditFile: string | undefined
  try {
    auditFile = resolveAuditSettings(settings).file
    addFile(auditFile)
  } catch (error) {
    // Commands that change clients refuse it: a timer running doctor should hear of it first.
    findings.push({id: 'audit-settings-invalid', severity: 'problem', message: `the audit trail cannot be written: ${(error as Error).message}`, fix: (error as {suggestion?: string}).suggestion})
  }
  const upstream = path.join(settings.paths.configDir, 'server.json')
  addFile(upstream)

  const configFile = settings.configFile?.path
  const secretInConfig = configSecret(settings, registry)
  if (configFile && existsSync(configFile)) {
    const mode = statSync(configFile).mode & 0o777
    if (secretInConfig && (mode & 0o077) !== 0) {
      findings.push({
        id: 'config-password-readable',
        severity: 'problem',
        message: `${configFile} holds ${secretInConfig} and is readable by others (mode ${octalMode(mode)})`,
        fix: `chmod 600 ${shellQuoted(configFile)}`,
      })
    } else if ((mode & 0o022) !== 0) {
      // A config file others can WRITE can point every command at a database of their choosing.
      findings.push({id: 'config-writable', severity: 'problem', message: `${configFile} can be changed by others (mode ${octalMode(mode)})`, fix: `chmod 600 ${shellQuoted(configFile)}`})
    }
  }

  for (const file of [...files].sort()) {
    const mode = statSync(file).mode & 0o777
    if ((mode & 0o077) === 0) continue
    const what = file === auditFile ? 'the audit trail' : file.startsWith(defaultBackupDir(settings.paths)) ? 'a backup' : file === upstream ? 'the upstream server.json' : 'a data file'
    findings.push({id: 'file-mode', severity: 'problem', message: `${file} (${what}) is accessible to other users (mode ${octalMode(mode)})`, fix: `chmod 600 ${shellQuoted(file)}`})
  }
  for (const dir of [...dirs].sort()) {
    const fullMode = statSync(dir).mode & 0o7777
    const mode = fullMode & 0o777
    if ((mode & 0o077) === 0) continue
    if ((fullMode & 0o1000) !== 0 && (mode & 0o002) !== 0) {
      // /tmp and the like (mode 1777): shared on purpose, and chmod 700 on it, pasted as root,
      // would break every other user of the machine (QA). The sticky bit keeps others from
      // removing or renaming our files; the advice is to keep them elsewhere.
      findings.push({
        id: 'dir-shared',
        severity: 'warning',
        message: `${dir} is a directory every user shares (mode ${octalMode(fullMode)}): others can see which files it holds, and create one under a name hivemind-core would use before it does`,
        fix: `keep the database, backups and audit trail in a private directory instead (the default, ${settings.paths.dataDir}, is one); do not chmod ${dir}`,
      })
      continue
    }
    const what = (mode & 0o022) !== 0 ? 'they can create, rename and delete files in it, so they could replace the database or config file' : 'they can list it and see which files it holds'
    findings.push({id: 'dir-mode', severity: 'problem', message: `${dir} is open to other users (mode ${octalMode(mode)}): ${what}`, fix: `chmod 700 ${shellQuoted(dir)}`})
  }
  return findings
}

/** An upstream server.json whose `database.module` selects another backend than ours. */
export function checkUpstreamConfig(settings: ResolvedSettings): Finding[] {
  // Read once, by the settings (src/config/upstream.ts): the backend it selects is the one every command would take from it.
  const upstream = settings.upstream
  if (!upstream) return []
  const {file} = upstream
  if (upstream.unreadable) return [{id: 'upstream-config-unreadable', severity: 'warning', message: `${file} (the Python hivemind-core's config) ${upstream.unreadable}; its database choice could not be compared`}]
  const theirs = upstream.backend?.value
  const ours = settings.registered.descriptor
  if (!theirs || theirs === ours.name) return []
  const ourModule = ours.upstream?.modules[0]
  return [{
    id: 'upstream-backend-differs',
    severity: 'problem',
    message: `${file} selects ${upstream.databaseModule} (${theirs}) but hivemind-core uses ${ours.name}: the Python hivemind-core and this one see different clients`,
    fix: `use one database: hivemind-core migrate-db --to ${theirs} --switch${ourModule ? `, or set "database": {"module": "${ourModule}"} in ${file}` : ''}`,
  }]
}

