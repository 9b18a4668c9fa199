/**
 * oclif's `command_not_found` hook. With spaces between topic and command, oclif takes the words
 * after a command that has no arguments for more of its name: `list-clients extra` was reported
 * as "command list-clients:extra not found", and a typo as "command add-clint not found". Here
 * the first is an unexpected argument of list-clients, and the second names the closest command.
 * Loaded only when a command is not found: it costs nothing to the commands that are.
 */
import {type Hook, type Interfaces, ux} from '@oclif/core'

import {closestName} from '../core/closest.js'
import {errorText} from './error-text.js'

const hook: Hook<'command_not_found'> = async function ({argv, config, id}) {
  const words = id.split(':')
  const json = argv?.includes('--json') ?? false
  for (let length = words.length - 1; length >= 1; length--) {
    const command = words.slice(0, length).join(':')
    if (!config.findCommand(command)) continue
    // Only the words oclif took for the name: a later word may be the value of a flag.
    const extra = words.slice(length)
    report(`Unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`, `see ${config.bin} ${command.replaceAll(':', ' ')} --help`, json)
    return this.exit(2)
  }
  // oclif took every word for the name: the start of it closest to a command is what was
  // mistyped ("delete-clients 5": delete-clients, and 5 its argument).
  let best: {typed: string; closest: {name: string; distance: number}} | undefined
  for (let length = words.length; length >= 1; length--) {
    const typed = words.slice(0, length).join(' ')
    const closest = closestCommand(config, typed)
    if (closest && (!best || closest.distance < best.closest.distance)) best = {typed, closest}
  }
  if (best) report(`unknown command: ${best.typed}`, `did you mean ${config.bin} ${best.closest.name}? see ${config.bin} --help for the list of commands`, json)
  else report(`unknown command: ${words.join(' ')}`, `see ${config.bin} --help for the list of commands`, json)
  return this.exit(2)
}

export default hook

/** The command whose name is closest to `typed`, when it is close enough to be what was meant. */
function closestCommand(config: Interfaces.Config, typed: string): {name: string; distance: number} | undefined {
  return closestName(typed, config.commandIDs.map((id) => id.replaceAll(':', ' ')))
}

/** Reported as every command reports its errors (src/base-command.ts, whose logJson this mirrors). */
function report(message: string, hint: string, json: boolean): void {
  if (json) ux.stdout(ux.colorizeJson({error: {code: 'USAGE', message, suggestion: hint}}, {pretty: true}))
  else process.stderr.write(errorText(message, hint))
}
