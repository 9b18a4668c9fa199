/**
 * The permission commands are one of two shapes: set a boolean permission (make-admin,
 * allow-broadcast, …) or add/remove an entry of a permission list (allow-msg, blacklist-skill,
 * …). Each command file is one call to a factory here, so their behaviour cannot drift apart.
 */
import {Args} from '@oclif/core'

import type {ClientRecord} from '../core/client.js'
import type {FlagField, ListField} from '../core/database.js'
import {clientLabel, NodeCommand, nodeIdArg} from './node-command.js'

/** What every permission command prints with --json. */
export interface PermissionChangeResult {
  client_id: number
  name: string
  changed: boolean
  field: string
  value: boolean | string[]
}

interface FlagCommandSpec {
  field: FlagField
  value: boolean
  summary: string
  /** e.g. "is now an admin" / "is already an admin". */
  done: string
  already: string
}

/** A command that sets one boolean permission of a client. */
export function flagCommand(spec: FlagCommandSpec): typeof NodeCommand {
  class FlagCommand extends NodeCommand {
    static override summary = spec.summary
    static override args = {node_id: nodeIdArg}
    static override examples = ['<%= config.bin %> <%= command.id %> 3', '<%= config.bin %> <%= command.id %> 3 --json']

    async run(): Promise<PermissionChangeResult> {
      const {args, flags} = await this.parse(FlagCommand)
      return this.withDatabase(flags, 'write', async (db) => {
        const target = await this.selectNode(db, args.node_id)
        const {changed, record} = await db.setFlag(target, spec.field, spec.value)
        this.log(`${capitalised(clientLabel(record))} ${changed ? spec.done : spec.already}.`)
        return result(record, changed, spec.field, record[spec.field])
      })
    }
  }
  return FlagCommand
}

interface ListCommandSpec {
  field: ListField
  operation: 'add' | 'remove'
  summary: string
  description?: string
  /** Name and description of the value argument, e.g. MSG_TYPE. */
  argName: string
  argDescription: string
  example: string
  /** e.g. "may now send" / "may already send". The value is appended after. */
  done: string
  already: string
}

/** A command that adds a value to, or removes it from, one permission list of a client. */
export function listCommand(spec: ListCommandSpec): typeof NodeCommand {
  // oclif shows an argument by its key: msg_type → MSG_TYPE in the usage line.
  const valueKey = spec.argName.toLowerCase()
  const valueArg = Args.string({description: spec.argDescription, required: true})
  class ListCommand extends NodeCommand {
    static override summary = spec.summary
    static override description = spec.description
    static override args: Record<string, typeof nodeIdArg> = {[valueKey]: valueArg as typeof nodeIdArg, node_id: nodeIdArg}
    static override examples = [`<%= config.bin %> <%= command.id %> ${spec.example} 3`, `<%= config.bin %> <%= command.id %> ${spec.example} 3 --json`]

    async run(): Promise<PermissionChangeResult> {
      const {args, flags} = await this.parse(ListCommand)
      const value = args[valueKey] as string
      const nodeId = args.node_id
      return this.withDatabase(flags, 'write', async (db) => {
        const target = await this.selectNode(db, nodeId)
        const what = spec.argName
        const {changed, record} =
          spec.operation === 'add'
            ? await db.addToList(target, spec.field, value, what)
            : await db.removeFromList(target, spec.field, value, what)
        this.log(`${capitalised(clientLabel(record))} ${changed ? spec.done : spec.already} ${value}.`)
        return result(record, changed, spec.field, record[spec.field])
      })
    }
  }
  return ListCommand
}

function result(record: ClientRecord, changed: boolean, field: string, value: boolean | string[]): PermissionChangeResult {
  return {client_id: record.client_id, name: record.name, changed, field, value}
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
