/**
 * One line of the audit trail, and how a change to a client is described in it — by field name
 * and non-secret values only. Secrets (access key, password, crypto key) appear as "set",
 * "changed", "cleared" or "revoked", never as values; metadata (free-form, may hold anything) as
 * the names of the keys that changed.
 */
import os from 'node:os'

import {CLIENT_FIELDS, type ClientRecord, REVOKED_API_KEY, SECRET_FIELDS} from '../core/client.js'

/** Version of the line format (field `v`). */
export const AUDIT_LINE_VERSION = 1

/** Events the CLI writes. */
export const CLI_EVENTS = ['add', 'import', 'rename', 'admin', 'permission', 'update', 'revoke', 'clear', 'backup', 'restore', 'migrate'] as const
/** Events the listener writes (see src/server/audit.ts). */
export const LISTENER_EVENTS = ['auth_failure', 'policy_violation', 'disconnect', 'rate_limited', 'rate_limit_summary', 'handshake_refused', 'audit_dropped'] as const
export type AuditEventName = (typeof CLI_EVENTS)[number] | (typeof LISTENER_EVENTS)[number]

/** How one field changed. Secrets never carry values. */
export type FieldChange =
  | {from?: unknown; to: unknown}
  | {secret: 'set' | 'changed' | 'cleared' | 'revoked'}
  | {keys: string[]}
  | {added: string[]; removed: string[]}

/** One audit line (one JSON object per line in the file / one stream entry). */
export interface AuditEntry {
  /** Line format version ({@link AUDIT_LINE_VERSION}). */
  v: number
  /** ISO 8601 time, UTC, millisecond precision. */
  time: string
  event: AuditEventName
  /** The OS user running the command (and `sudo_user` when run through sudo). */
  user: string
  sudo_user?: string
  /** Host name of the machine. */
  host: string
  pid: number
  /** The command that made the change ("add-client", "listen", …). */
  command: string
  /** "sqlite /home/u/.local/share/hivemind-core/clients.db": the store changed (never a secret). */
  store?: string
  client_id?: number
  name?: string
  /** Changed fields (client events). */
  changes?: Record<string, FieldChange>
  /** Event-specific facts: remote address and reason (listener), counts and files (backup, restore, migrate). */
  details?: Record<string, unknown>
}

/** What a caller provides; the rest (time, user, host, pid, v) is filled in. */
export type AuditInput = Omit<AuditEntry, 'v' | 'time' | 'user' | 'sudo_user' | 'host' | 'pid' | 'command'> & {command?: string; time?: Date}

let identity: {user: string; sudo_user?: string; host: string} | undefined

/** Who and where, computed once per process. */
export function processIdentity(): {user: string; sudo_user?: string; host: string} {
  if (identity) return identity
  let user: string
  try {
    user = os.userInfo().username
  } catch {
    // A uid without a passwd entry (containers): the number still identifies it.
    user = process.env.USER ?? `uid ${process.getuid?.() ?? '?'}`
  }
  identity = {user, host: os.hostname(), ...(process.env.SUDO_USER ? {sudo_user: process.env.SUDO_USER} : {})}
  return identity
}

/** A complete entry from what the caller knows. */
export function completeEntry(input: AuditInput, command: string): AuditEntry {
  const {time, command: ownCommand, event, ...rest} = input
  const who = processIdentity()
  // Who/when first, so a line reads left to right; then what.
  return {
    v: AUDIT_LINE_VERSION,
    time: (time ?? new Date()).toISOString(),
    event,
    user: who.user,
    ...(who.sudo_user ? {sudo_user: who.sudo_user} : {}),
    host: who.host,
    pid: process.pid,
    command: ownCommand ?? command,
    ...rest,
  }
}

const SECRETS: ReadonlySet<string> = new Set(SECRET_FIELDS)
const NAME_FIELDS = new Set(['name', 'description'])
const PERMISSION_FIELDS = new Set(['intent_blacklist', 'skill_blacklist', 'message_blacklist', 'allowed_types', 'can_broadcast', 'can_escalate', 'can_propagate'])

/** The changed fields between two states of a client (`before` undefined: a new client). */
export function describeChanges(before: ClientRecord | undefined, after: ClientRecord): Record<string, FieldChange> {
  const changes: Record<string, FieldChange> = {}
  for (const field of CLIENT_FIELDS) {
    if (field === 'client_id') continue
    const old = before?.[field]
    const now = after[field]
    if (before && same(old, now)) continue
    if (SECRETS.has(field)) {
      if (!before) {
        // A tombstone written as it is (import-clients, restore-db) has the reserved key, no secret.
        if (field === 'api_key' && now === REVOKED_API_KEY) changes[field] = {secret: 'revoked'}
        else if (now !== null && now !== '') changes[field] = {secret: 'set'}
      } else if (field === 'api_key' && now === REVOKED_API_KEY) changes[field] = {secret: 'revoked'}
      else if (now === null || now === '') changes[field] = {secret: 'cleared'}
      else if (old === null || old === '') changes[field] = {secret: 'set'}
      else changes[field] = {secret: 'changed'}
      continue
    }
    if (field === 'metadata') {
      const keys = new Set([...Object.keys(before?.metadata ?? {}), ...Object.keys(after.metadata)])
      const changed = [...keys].filter((key) => !same(before?.metadata[key], after.metadata[key])).sort()
      if (changed.length > 0) changes.metadata = {keys: changed}
      continue
    }
    if (before && Array.isArray(old) && Array.isArray(now)) {
      // A permission list: what was added and removed reads better than two long lists.
      changes[field] = {added: now.filter((item) => !old.includes(item)), removed: old.filter((item) => !now.includes(item))}
      continue
    }
    changes[field] = before ? {from: old, to: now} : {to: now}
  }
  return changes
}

/** The event name of an update, from the fields it changed. */
export function classifyUpdate(changes: Record<string, FieldChange>): AuditEventName {
  const fields = Object.keys(changes)
  if (fields.length === 0) return 'update'
  if (fields.includes('api_key') && (changes.api_key as {secret?: string}).secret === 'revoked') return 'revoke'
  if (fields.every((field) => NAME_FIELDS.has(field))) return 'rename'
  if (fields.every((field) => field === 'is_admin')) return 'admin'
  if (fields.every((field) => PERMISSION_FIELDS.has(field))) return 'permission'
  return 'update'
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
