import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'skill_blacklist',
  operation: 'remove',
  summary: 'Allow a client to use a skill (remove it from the skill blacklist).',
  argName: 'SKILL_ID',
  argDescription: 'skill id, e.g. skill-weather.openvoiceos',
  example: 'skill-weather.openvoiceos',
  done: 'may now use skill',
  already: 'may already use skill',
})
