import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_propagate', value: false, summary: 'Forbid a client to propagate bus messages.', done: 'may no longer propagate', already: 'already may not propagate'})
