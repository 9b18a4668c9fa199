import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'skill_blacklist',
  operation: 'add',
  summary: 'Forbid a client to use a skill (add it to the skill blacklist).',
  argName: 'SKILL_ID',
  argDescription: 'skill id, e.g. skill-weather.openvoiceos',
  example: 'skill-weather.openvoiceos',
  done: 'may no longer use skill',
  already: 'already may not use skill',
})
