import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {presentRecord, relativeTime} from '../cli/output.js'
import {renderTable} from '../cli/table.js'
import {oneLine} from '../cli/printable.js'
import {type ClientRecord, isRevoked} from '../core/client.js'

export default class ListClients extends StoreCommand {
  static override summary = 'List the clients (satellites) of the hive.'
  static override description = 'Secrets are masked unless --show-secrets. Revoked clients (tombstones) are hidden unless --all. --json prints the records with their upstream field names.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --all',
    '<%= config.bin %> <%= command.id %> --json --quiet',
  ]

  static override flags = {
    all: Flags.boolean({description: 'include revoked clients', default: false}),
    'show-secrets': Flags.boolean({description: 'show access keys, passwords and crypto keys in full', default: false}),
  }

  async run(): Promise<ClientRecord[]> {
    const {flags} = await this.parse(ListClients)
    const records = await this.withDatabase(flags, 'read', (db) => db.all(flags.all))
    const shown = records.map((record) => presentRecord(record, flags['show-secrets']))
    // --json prints what run() returns; the table would only be drawn to be thrown away.
    if (this.jsonEnabled()) return shown
    if (shown.length === 0) {
      this.log(flags.all ? 'No clients.' : 'No clients. Enrol one with: hivemind-core add-client --name <name>')
    } else {
      const head = ['id', 'name', 'access key', 'admin', 'allowed types', 'last seen', 'revoked']
      if (flags['show-secrets']) head.push('password', 'crypto key')
      this.log(renderTable(head, shown.map((record) => {
        const row: Array<string | number> = [
          record.client_id,
          oneLine(record.name),
          oneLine(record.api_key),
          record.is_admin ? 'yes' : 'no',
          record.allowed_types.length,
          relativeTime(record.last_seen),
          isRevoked(record) ? 'yes' : 'no',
        ]
        if (flags['show-secrets']) row.push(oneLine(record.password ?? ''), oneLine(record.crypto_key ?? ''))
        return row
      })))
    }
    return shown
  }
}
