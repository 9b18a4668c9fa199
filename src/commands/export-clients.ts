import {fchmodSync, fstatSync} from 'node:fs'

import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {outputFileAt, refuseDatabaseFile, refuseExistingFile, writeOutputFile} from '../cli/output-file.js'
import {toCsv, toUpstreamJson} from '../core/interchange.js'
import {InvalidInputError, UsageError} from '../core/errors.js'
import {octalMode} from '../core/file-access.js'

/** What `export-clients --json` prints. */
export interface ExportResult {
  format: 'csv' | 'json'
  path: string | null
  count: number
}

export default class ExportClients extends StoreCommand {
  static override summary = 'Export the clients with their credentials (CSV as upstream, or JSON for import-clients).'
  static override description = `csv (default): the upstream columns client_id,name,is_admin,access_key,password,crypto_key, live clients only.
json: every record with every permission, tombstones included, in the upstream clients.json shape; import-clients reads both.
The export holds secrets: files are written atomically with mode 0600. A directory --path gets hivemind_clients.csv (or clients.json) inside it; no --path writes to stdout. An existing file is replaced only with --force, and never when it is the database itself.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --path ~/backup/',
    '<%= config.bin %> <%= command.id %> --format json --path hive.json',
    '<%= config.bin %> <%= command.id %> > clients.csv',
  ]

  static override flags = {
    path: Flags.string({description: 'file or directory to write (default: stdout)'}),
    format: Flags.string({description: 'csv (upstream) or json (full records)', options: ['csv', 'json'], default: 'csv'}),
    force: Flags.boolean({description: 'replace the --path file when it exists', default: false}),
  }

  async run(): Promise<ExportResult> {
    const {flags} = await this.parse(ExportClients)
    const format = flags.format as 'csv' | 'json'
    // --json replaces what goes to stdout with a summary: the export itself would go nowhere.
    if (this.jsonEnabled() && flags.path === undefined) {
      throw new UsageError('--json prints a summary of the export instead of the export, so it needs --path to write the export to', {
        suggestion: 'add --path FILE, or leave out --json to print the export itself (--format json for JSON)',
      })
    }
    const target = flags.path === undefined ? undefined : outputFileAt(flags.path, format === 'json' ? 'clients.json' : 'hivemind_clients.csv')
    const records = await this.withDatabase(flags, 'read', async (db, opened) => {
      // Checked before reading: a refused export does no work.
      if (target !== undefined) {
        refuseDatabaseFile(target, opened.store.location, '--path')
        refuseExistingFile(target, flags.force, '--path')
      }
      return db.all(format === 'json')
    })
    const text = format === 'json' ? toUpstreamJson(records) : toCsv(records)
    const count = format === 'json' ? records.length : records.filter((record) => record.api_key !== 'revoked').length
    if (target === undefined) {
      if (!this.jsonEnabled()) {
        this.restrictRedirectedStdout()
        process.stdout.write(text)
      }
      return {format, path: null, count}
    }
    await writeOutputFile(target, text, '--path')
    this.log(`Exported ${count} client(s) to ${target} (${format}, mode 0600). It holds secrets: keep it safe.`)
    return {format, path: target, count}
  }

  /**
   * `export-clients > clients.csv`: the shell created that file with the umask (0644, usually),
   * and every access key and password is about to go into it. A regular file on stdout is made
   * 0600 first, as --path writes it; a pipe or a terminal is left alone.
   */
  private restrictRedirectedStdout(): void {
    let mode: number
    try {
      const stats = fstatSync(1)
      if (!stats.isFile()) return
      mode = stats.mode & 0o777
    } catch {
      return
    }
    if ((mode & 0o077) === 0) return
    try {
      fchmodSync(1, 0o600)
      this.notice(`Note: stdout is a file other users could read (mode ${octalMode(mode)}); it was made 0600, since the export holds secrets`)
    } catch (error) {
      // Not written at all: the secrets would go where others can read them (QA).
      throw new InvalidInputError(`stdout is a file other users can read (mode ${octalMode(mode)}) and it could not be made 0600 (${(error as NodeJS.ErrnoException).code ?? 'error'}); nothing was written, since the export holds secrets`, {
        suggestion: 'use --path FILE, which writes the export 0600, or redirect into a file of your own',
      })
    }
  }
}
