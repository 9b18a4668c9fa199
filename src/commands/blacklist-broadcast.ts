import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_broadcast', value: false, summary: 'Forbid a client to broadcast bus messages.', done: 'may no longer broadcast', already: 'already may not broadcast'})
