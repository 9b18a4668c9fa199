import {Flags} from '@oclif/core'

import {clientLabel, NodeCommand, nodeIdArg} from '../cli/node-command.js'
import {presentRecord, relativeTime} from '../cli/output.js'
import {oneLine} from '../cli/printable.js'
import {type ClientRecord, isRevoked} from '../core/client.js'

export default class ShowClient extends NodeCommand {
  static override summary = 'Show one client with all its permissions.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3', '<%= config.bin %> <%= command.id %> 3 --json']
  static override args = {node_id: nodeIdArg}
  static override flags = {
    'show-secrets': Flags.boolean({description: 'show the access key, password and crypto key in full', default: false}),
  }

  async run(): Promise<ClientRecord> {
    const {args, flags} = await this.parse(ShowClient)
    const record = await this.withDatabase(flags, 'read', async (db) => presentRecord(await this.selectNode(db, args.node_id), flags['show-secrets']))
    const list = (items: string[]) => (items.length === 0 ? '(none)' : items.map((item) => oneLine(item)).join(', '))
    this.log(`${clientLabel(record)}${isRevoked(record) ? ' — REVOKED' : ''}`)
    this.log(`  description:        ${oneLine(record.description) || '(none)'}`)
    this.log(`  access key:         ${oneLine(record.api_key)}`)
    this.log(`  password:           ${record.password === null ? '(none)' : oneLine(record.password)}`)
    this.log(`  crypto key:         ${record.crypto_key === null ? '(none)' : oneLine(record.crypto_key)}`)
    this.log(`  admin:              ${record.is_admin ? 'yes' : 'no'}`)
    this.log(`  last seen:          ${relativeTime(record.last_seen)}`)
    this.log(`  may send:           ${list(record.allowed_types)}`)
    this.log(`  never sent to it:   ${list(record.message_blacklist)}`)
    this.log(`  blacklisted skills: ${list(record.skill_blacklist)}`)
    this.log(`  blacklisted intents:${' '}${list(record.intent_blacklist)}`)
    this.log(`  broadcast / escalate / propagate: ${[record.can_broadcast, record.can_escalate, record.can_propagate].map((flag) => (flag ? 'yes' : 'no')).join(' / ')}`)
    if (Object.keys(record.metadata).length > 0) this.log(`  metadata:           ${JSON.stringify(record.metadata)}`)
    return record
  }
}
