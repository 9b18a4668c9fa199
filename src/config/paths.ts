/**
 * Standard directories (XDG base directories) and path expansion for settings values.
 */
import os from 'node:os'
import path from 'node:path'

import type {HivemindPaths} from '../core/store.js'

/** The folder name under each XDG directory. */
export const APP_DIR_NAME = 'hivemind-core'

/** Resolves the standard directories from an environment (process.env by default). */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): HivemindPaths {
  const home = env.HOME && env.HOME.length > 0 ? env.HOME : os.homedir()
  const xdg = xdgBaseDirs(env, home)
  return {
    home,
    dataDir: path.join(xdg.XDG_DATA_HOME, APP_DIR_NAME),
    configDir: path.join(xdg.XDG_CONFIG_HOME, APP_DIR_NAME),
    stateDir: path.join(xdg.XDG_STATE_HOME, APP_DIR_NAME),
  }
}

/** The XDG base directories this project uses. */
export interface XdgDirs {
  XDG_DATA_HOME: string
  XDG_CONFIG_HOME: string
  XDG_STATE_HOME: string
  XDG_CACHE_HOME: string
}

/** The XDG base directories, each falling back to its spec default when unset or relative. */
export function xdgBaseDirs(env: NodeJS.ProcessEnv, home: string): XdgDirs {
  // The XDG spec says relative values are invalid and must be ignored.
  const pick = (name: string, fallback: string) => {
    const value = env[name]
    return value && path.isAbsolute(value) ? value : path.join(home, fallback)
  }
  return {
    XDG_DATA_HOME: pick('XDG_DATA_HOME', '.local/share'),
    XDG_CONFIG_HOME: pick('XDG_CONFIG_HOME', '.config'),
    XDG_STATE_HOME: pick('XDG_STATE_HOME', '.local/state'),
    XDG_CACHE_HOME: pick('XDG_CACHE_HOME', '.cache'),
  }
}

/**
 * Expands `~`, `~/…`, `$VAR` and `${VAR}` in a path, then makes it absolute against `baseDir`
 * (the config file's directory for values from a file, the working directory otherwise).
 * XDG variables expand to their spec defaults when unset, so `$XDG_DATA_HOME/x` always works.
 * An unset other variable is an error: silently expanding it to "" would point at the wrong file.
 */
export function expandPath(value: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = resolvePaths(env).home
  const xdg = xdgBaseDirs(env, home)
  let expanded = value
  if (expanded === '~') expanded = home
  else if (expanded.startsWith('~/')) expanded = path.join(home, expanded.slice(2))
  expanded = expanded.replaceAll(/\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))/g, (_match, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as string
    const fromEnv = env[name]
    if (fromEnv !== undefined && fromEnv !== '' && !(name in xdg && !path.isAbsolute(fromEnv))) return fromEnv
    if (name in xdg) return xdg[name as keyof XdgDirs]
    if (name === 'HOME') return home
    throw new UnsetVariableError(name)
  })
  return path.resolve(baseDir, expanded)
}

/** Thrown by {@link expandPath} for `$NAME` when NAME is not set. */
export class UnsetVariableError extends Error {
  constructor(readonly variable: string) {
    super(`environment variable ${variable} is not set`)
  }
}

/** Shortens a path for display: the home directory becomes `~`. */
export function displayPath(file: string, home: string = resolvePaths().home): string {
  return file === home || file.startsWith(home + path.sep) ? '~' + file.slice(home.length) : file
}
