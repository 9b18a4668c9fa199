/**
 * Where a backup passphrase comes from: HIVEMIND_BACKUP_PASSPHRASE, else a hidden prompt on a
 * terminal. Never a flag: a command line is visible to every local user (ps).
 */
import {InvalidInputError, UsageError} from '../core/errors.js'
import {checkPassphrase} from './format.js'

/** The environment variable scripts use to pass the passphrase. */
export const PASSPHRASE_ENV = 'HIVEMIND_BACKUP_PASSPHRASE'

/**
 * The passphrase: from the environment, or asked (twice when `confirm`, i.e. when encrypting).
 * Throws a usage error when neither is possible.
 */
export async function obtainPassphrase(options: {confirm: boolean; interactive: boolean; env?: NodeJS.ProcessEnv}): Promise<string> {
  const fromEnv = (options.env ?? process.env)[PASSPHRASE_ENV]
  if (fromEnv !== undefined && fromEnv !== '') {
    if (options.confirm) checkPassphrase(fromEnv)
    return fromEnv
  }
  if (!options.interactive) {
    // Set but empty: usually a variable the script meant to fill ("$PASS" unset), not an absent one.
    if (fromEnv === '') throw new UsageError(`${PASSPHRASE_ENV} is set but empty, and there is no terminal to ask for the passphrase`, {suggestion: `give ${PASSPHRASE_ENV} the passphrase`})
    throw new UsageError('a backup passphrase is needed and there is no terminal to ask for it', {suggestion: `set ${PASSPHRASE_ENV} in the environment`})
  }
  const {password} = await import('@inquirer/prompts')
  const first = await password({message: 'Backup passphrase:', mask: false})
  if (!options.confirm) return first
  checkPassphrase(first)
  const second = await password({message: 'Repeat the passphrase:', mask: false})
  if (first !== second) throw new InvalidInputError('the two passphrases differ; nothing was written')
  return first
}
