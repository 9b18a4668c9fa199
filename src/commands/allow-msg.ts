import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'allowed_types',
  operation: 'add',
  summary: 'Allow a client to send a bus message type.',
  description: 'Adds MSG_TYPE to the client\'s allowed_types (the message types it may SEND).',
  argName: 'MSG_TYPE',
  argDescription: 'bus message type, e.g. speak',
  example: 'speak',
  done: 'may now send',
  already: 'may already send',
})
