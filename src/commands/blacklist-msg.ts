import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'allowed_types',
  operation: 'remove',
  summary: 'Forbid a client to send a bus message type.',
  description: 'Removes MSG_TYPE from the client\'s allowed_types (as upstream does). The list is stored exactly as set: nothing is re-added behind your back.',
  argName: 'MSG_TYPE',
  argDescription: 'bus message type, e.g. speak',
  example: 'speak',
  done: 'may no longer send',
  already: 'already may not send',
})
