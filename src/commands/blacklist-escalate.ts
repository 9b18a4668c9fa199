import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_escalate', value: false, summary: 'Forbid a client to escalate bus messages.', done: 'may no longer escalate', already: 'already may not escalate'})
