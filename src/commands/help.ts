import {Args, Flags, loadHelpClass} from '@oclif/core'

import {BaseCommand} from '../base-command.js'

/**
 * `help [COMMAND]`, ours instead of @oclif/plugin-help's: a mistake in it is reported as every
 * command reports one (one line, exit 2). With the plugin's command, oclif's error handler
 * answered `help add-clint --json` with two stack traces. (One core plugin less to load made no
 * measurable difference to start times: two interleaved A/Bs of 31 and 41 runs.)
 */
export default class Help extends BaseCommand {
  static override summary = 'Show help for hivemind-core, a topic or a command.'
  static override description = 'The same text as `<command> --help`. A command with spaces in its name is given as its words: `help plugins install`.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> add-client', '<%= config.bin %> <%= command.id %> plugins install']
  // Help is text for people: nothing to print as JSON.
  static override enableJsonFlag = false
  // Several words name one command (topics are separated by spaces).
  static override strict = false
  static override args = {
    command: Args.string({description: 'the command or topic to show help for', required: false}),
  }

  static override flags = {
    'nested-commands': Flags.boolean({char: 'n', description: 'list the commands of every topic as well (plugins install, …)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Help)
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config, {all: flags['nested-commands']}).showHelp(argv as string[])
  }
}
