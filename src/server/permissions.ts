/**
 * The permission model (protocol.md §5) as pure functions of a client's record. The session keeps
 * the record current (the revision poller replaces it), so every decision uses the latest rights.
 */
import type {ClientRecord} from '../core/client.js'
import {type BusMessage, isObject} from './messages.js'

/** The permission fields of a record (what the listener keeps per connection). */
export type Permissions = Pick<
  ClientRecord,
  'client_id' | 'name' | 'is_admin' | 'allowed_types' | 'skill_blacklist' | 'intent_blacklist' | 'message_blacklist' | 'can_broadcast' | 'can_propagate' | 'can_escalate'
>

/** Operator switches of the permission model. */
export interface PermissionPolicy {
  /** Let non-admin clients with `can_broadcast` broadcast (default false: admins only). */
  clientBroadcast: boolean
}

/** Whether the client may send this bus message type to the agent. */
export function mayInject(permissions: Permissions, type: string): boolean {
  return permissions.allowed_types.includes(type)
}

/** Whether the client may send a wrapper message of this type. */
export function mayWrap(permissions: Permissions, msgType: 'broadcast' | 'propagate' | 'escalate', policy: PermissionPolicy): boolean {
  switch (msgType) {
    case 'broadcast': {
      return permissions.is_admin || (policy.clientBroadcast && permissions.can_broadcast)
    }
    case 'propagate': {
      return permissions.can_propagate
    }
    case 'escalate': {
      return permissions.can_escalate
    }
  }
}

/** Whether a message of this type may be sent TO the client. */
export function mayReceive(permissions: Permissions, type: string): boolean {
  return !permissions.message_blacklist.includes(type)
}

/**
 * The message as forwarded to the agent bus: context.source = peer, destination skills (audio for
 * `speak`), the session given the connection's id when missing (or `default` from a non-admin),
 * and the client's skill/intent blacklists merged into the session.
 */
export function forwardedMessage(message: BusMessage, permissions: Permissions, peer: string, sessionId: string): BusMessage {
  const context: Record<string, unknown> = {...message.context}
  const session: Record<string, unknown> = isObject(context.session) ? {...context.session} : {}
  if (typeof session.session_id !== 'string' || session.session_id === '' || (session.session_id === 'default' && !permissions.is_admin)) {
    session.session_id = sessionId
  }
  session.blacklisted_skills = union(session.blacklisted_skills, permissions.skill_blacklist)
  session.blacklisted_intents = union(session.blacklisted_intents, permissions.intent_blacklist)
  context.session = session
  context.source = peer
  context.destination = message.type === 'speak' ? ['audio'] : 'skills'
  return {type: message.type, data: message.data, context}
}

function union(existing: unknown, extra: readonly string[]): string[] {
  const out = Array.isArray(existing) ? existing.filter((item): item is string => typeof item === 'string') : []
  for (const item of extra) if (!out.includes(item)) out.push(item)
  return out
}

/** The peers a reply from the agent is addressed to (context.destination, a string or a list). */
export function destinations(message: BusMessage): string[] {
  const destination = message.context.destination
  if (typeof destination === 'string') return [destination]
  if (Array.isArray(destination)) return destination.filter((item): item is string => typeof item === 'string')
  return []
}
