import {Args, Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {readInputFile} from '../cli/input-file.js'
import {oneLine} from '../cli/printable.js'
import {type ClientRecord, canonicalJson, isRevoked} from '../core/client.js'
import {validateAddRequest} from '../core/database.js'
import {HivemindError, InvalidInputError} from '../core/errors.js'
import {lookupEach} from '../core/lookups.js'
import {type ImportedRecord, parseClientsFile} from '../core/interchange.js'
import type {ClientStore} from '../core/store.js'
import {checkText} from '../core/validate.js'

/** What `import-clients --json` prints. */
export interface ImportResult {
  file: string
  added: number
  replaced: number
  identical: number
  conflicts: Array<{client_id: number; reason: string}>
  dryRun: boolean
}

export default class ImportClients extends StoreCommand {
  static override summary = 'Import clients from an export-clients file or an upstream clients.json.'
  static override description = `Reads the JSON that export-clients --format json writes (the upstream clients.json shape, which also means a clients.json of the Python hivemind-core), a JSON list of records, or the CSV of export-clients. Ids are preserved.
Every record is checked before any database is opened, with the rules of add-client: an access key, and a password or crypto key when set, without spaces or control characters, a crypto key of exactly 16 ASCII characters, a printable name, no access key twice. A tombstone (api_key "revoked") carries no credentials to check; an empty password or crypto key means none. Records already stored in a database are not judged by these rules (every command reads them as they are): to copy a whole database unchanged, use migrate-db.
A client whose id is free is added; one identical to the stored record is skipped; a different one is a conflict: nothing is written and the conflicts are listed, unless --force replaces them. An access key used by another live client is always a conflict. An empty password or crypto key cell of a CSV matches a stored "" as well as none (export-clients writes both as an empty cell), so re-importing your own CSV export changes nothing. --dry-run runs every check and exits as the import would (1 on a bad record or a conflict), writing nothing.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> hive.json',
    '<%= config.bin %> <%= command.id %> ~/.local/share/hivemind-core/clients.json --dry-run',
    '<%= config.bin %> <%= command.id %> hivemind_clients.csv --force',
  ]

  static override args = {
    file: Args.string({name: 'FILE', description: 'file to import', required: true}),
  }

  static override flags = {
    force: Flags.boolean({description: 'replace stored clients that differ from the file', default: false}),
    'dry-run': Flags.boolean({description: 'report what would happen, write nothing', default: false}),
  }

  async run(): Promise<ImportResult> {
    const {args, flags} = await this.parse(ImportClients)
    const {file, text} = readInputFile(args.file)
    const incoming = parseClientsFile(text, file)
    // Everything the file alone can tell is checked before any store is opened: a rejected file
    // must not create a database, and --dry-run must fail exactly where the import would.
    checkImportable(incoming, file)
    // A dry run writes nothing at all: not even the schema upgrade of an upstream clients.db.
    const dryRun = flags['dry-run']
    return this.withDatabase(flags, dryRun ? 'read' : 'write', async (db) => {
      const plan = await planImport(db.store, incoming, flags.force)
      const result: ImportResult = {
        file,
        added: plan.add.length,
        replaced: plan.replace.length,
        identical: plan.identical,
        conflicts: plan.conflicts,
        dryRun,
      }
      for (const conflict of plan.conflicts) this.logToStderr(`  conflict: client ${conflict.client_id}: ${conflict.reason}`)
      // A dry run fails where the import would (same exit code), so a script can test a file with it.
      if (plan.conflicts.length > 0) {
        throw new HivemindError('INVALID_INPUT', `${plan.conflicts.length} conflicting client(s); nothing ${dryRun ? 'would be' : 'was'} imported`, {
          suggestion: plan.conflicts.some((conflict) => conflict.reason.startsWith('access key'))
            ? 'revoke or re-key the clients holding those access keys first'
            : plan.revived.length > 0
              ? 'pass --force to replace the stored clients with the file\'s, revoked ones included (they can connect again), or remove those records from the file'
              : 'pass --force to replace the stored clients with the file\'s',
        })
      }
      const writes = [...plan.add, ...plan.replace]
      if (!dryRun && writes.length > 0) {
        if (db.store.putMany) await db.store.putMany(writes)
        else for (const record of writes) await db.store.put(record)
      }
      if (plan.revived.length > 0) {
        this.notice(`Warning: ${dryRun ? 'would give' : 'gave'} ${plan.revived.length} revoked client(s) their access key back (--force): ${plan.revived.join(', ')}`)
      }
      const verb = dryRun ? 'Would import' : 'Imported'
      this.log(`${verb} ${plan.add.length} new client(s), ${dryRun ? 'would replace' : 'replaced'} ${plan.replace.length}, ${plan.identical} already identical, ${plan.conflicts.length} conflict(s).`)
      return result
    }, dryRun ? {leaveUntouched: true} : {})
  }
}

/**
 * The rules add-client applies to what it is given, applied to every record of the file (an import
 * adds credentials just as add-client does): printable bounded name and description; for a live
 * client an access key without spaces or control characters, and a password and crypto key (when
 * set) of the same form, the crypto key exactly 16 characters; no access key twice. A tombstone
 * (api_key "revoked") carries no credentials to check. An empty password or crypto key means none,
 * as in the CSV, which writes null as an empty cell. Stores stay lenient when they READ: these
 * rules apply to new input only.
 */
export function checkImportable(incoming: readonly ImportedRecord[], file: string): void {
  const holderOfKey = new Map<string, number>()
  for (const {record} of incoming) {
    const where = `${file}: client ${record.client_id}`
    try {
      if (isRevoked(record)) {
        checkText(record.name, 'the name')
        checkText(record.description, 'the description')
      } else {
        validateAddRequest({
          name: record.name,
          description: record.description,
          accessKey: record.api_key,
          password: record.password || undefined,
          cryptoKey: record.crypto_key || undefined,
        }, {blankNameAllowed: true})
      }
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error
      throw new InvalidInputError(`${where}: ${error.message}`, {
        suggestion: 'correct that record in the file (add-client accepts the same values); to copy an existing database exactly as it is, use hivemind-core migrate-db',
      })
    }
    if (isRevoked(record)) continue
    const twin = holderOfKey.get(record.api_key)
    if (twin !== undefined) {
      throw new InvalidInputError(`${where}: its access key is also the access key of client ${twin} in the same file`, {
        suggestion: 'give every live client its own access key, or revoke one of them (api_key "revoked")',
      })
    }
    holderOfKey.set(record.api_key, record.client_id)
  }
}

export interface ImportPlan {
  add: ClientRecord[]
  replace: ClientRecord[]
  /**
   * Ids whose stored client is revoked while the file's is not: importing gives them their access
   * key back. Among `replace` with --force, among `conflicts` without.
   */
  revived: number[]
  identical: number
  conflicts: Array<{client_id: number; reason: string}>
}

/** Decides, without writing, what importing `incoming` into `store` does (reads only; exported for tests). */
export async function planImport(store: ClientStore, incoming: ImportedRecord[], force: boolean): Promise<ImportPlan> {
  const plan: ImportPlan = {add: [], replace: [], revived: [], identical: 0, conflicts: []}
  const incomingById = new Map(incoming.map((item) => [item.record.client_id, item.record]))
  const keysInFile = new Map<string, number>()
  // Every read first, many at once (the decisions below depend on the file's order, the reads do not).
  const storedById = await lookupEach(incoming, ({record}) => store.get(record.client_id))
  const holderByKey = await lookupEach(incoming, async ({record}) => (isRevoked(record) ? undefined : store.getByApiKey(record.api_key)))
  for (const [index, {record, fields, emptyOrNull}] of incoming.entries()) {
    const stored = storedById[index]
    if (!isRevoked(record)) {
      const twin = keysInFile.get(record.api_key)
      if (twin !== undefined) {
        plan.conflicts.push({client_id: record.client_id, reason: `access key also used by client ${twin} in the same file`})
        continue
      }
      keysInFile.set(record.api_key, record.client_id)
      const holder = holderByKey[index]
      // The key may only move to this id when the import also gives its current holder another key.
      const holderInFile = holder ? incomingById.get(holder.client_id) : undefined
      if (holder && holder.client_id !== record.client_id && (!holderInFile || holderInFile.api_key === holder.api_key)) {
        plan.conflicts.push({client_id: record.client_id, reason: `access key already used by client ${holder.client_id}`})
        continue
      }
    }
    if (!stored) {
      plan.add.push(record)
      continue
    }
    // Compare only what the file holds (a CSV row has no permissions).
    const merged: ClientRecord = {...stored}
    const target = merged as unknown as Record<string, unknown>
    for (const field of fields) {
      // An empty CSV cell reads as null, but may be the export of a stored "": keep the stored value.
      if (record[field] === null && stored[field] === '' && emptyOrNull?.has(field)) continue
      target[field] = record[field]
    }
    // A revoked client brought back by a backup taken before the revocation: said as such.
    const revives = isRevoked(stored) && !isRevoked(merged)
    if (canonicalJson(merged) === canonicalJson(stored)) {
      plan.identical++
      continue
    }
    if (revives) plan.revived.push(record.client_id)
    if (force) {
      plan.replace.push(merged)
    } else {
      const name = stored.name ? ` "${oneLine(stored.name)}"` : ''
      plan.conflicts.push({client_id: record.client_id, reason: revives ? `the stored client${name} is revoked; importing would give it its access key back` : `differs from the stored client${name}`})
    }
  }
  return plan
}
