import {type Config, Help, type Interfaces} from '@oclif/core'

/**
 * oclif's help with one change: text is passed through ejs only when it holds a template tag.
 * oclif compiles every summary it prints as an ejs template, which was a twentieth of a root
 * `--help` run (45 commands); ours hold no tags, a plugin's may, and those are still rendered.
 */
export default class HivemindHelp extends Help {
  constructor(config: Config, options?: Partial<Interfaces.HelpOptions>) {
    super(config, options)
    const renderTemplate = this.render
    this.render = (text: string) => (text.includes('<%') ? renderTemplate(text) : text)
  }

  /**
   * `help add-clinet` got oclif's bare "Command add-clinet not found."; it now gets what
   * `add-clinet` itself gets from the command_not_found hook: the closest command, exit 2.
   */
  override async showHelp(argv: string[]): Promise<void> {
    try {
      await super.showHelp(argv)
    } catch (error) {
      const unknown = /^Command (\S+) not found\.$/.exec((error as Error).message)
      if (!unknown) throw error
      // The hook reports and exits 2 (it throws oclif's exit error, which runHook passes on).
      await this.config.runHook('command_not_found', {id: unknown[1]!, argv})
      throw error
    }
  }
}
