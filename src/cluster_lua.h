/*
 * The Lua scripts cluster mode runs in Redis: each changes the shared
 * state and publishes what changed in one atomic step, so the channel's
 * order is the order of the changes. Every script but publish takes
 * ARGV[1] the key prefix and ARGV[2] the channel (CLUSTER_LUA_ARGS).
 *
 * Shared state (prefix "chatd:"):
 *   nicks            hash  folded nick -> owner ("inst:sid", or
 *                          "\x1esub" for a token's sub, shared by its tabs)
 *   nickrefs         hash  folded token nick -> sessions holding it
 *   {room}:members   hash  "inst\x1fsid" -> "nick\x1ftoken(0|1)"
 *   inst:{I}:sess    hash  sid -> "fold\x1fowner\x1ftoken(0|1)"
 * where sid is "boot.id": the instance process's random tag and the
 * session's id (an instance restarted under its name starts ids anew).
 *   inst:{I}:rooms   hash  "sid\x1froom" -> nick
 *   alive            zset  instance -> last heartbeat (Redis clock, ms)
 *   reaped-at        string  when a heartbeat last looked for the dead
 *   judge-after      string  no verdicts before this (after a pause)
 * Events on the channel are JSON objects with "x": join, leave, nick,
 * typing, reset and synced (the last three published by chatd itself),
 * gone, beat.
 *
 * Keys are named inside the scripts: fine for one Redis server (what
 * cluster mode supports), not for Redis Cluster's slot checks.
 */
#ifndef CHAT_CLUSTER_LUA_H
#define CHAT_CLUSTER_LUA_H

/* KEYS: id counter, stream, rooms set. ARGV: room, floor, frame head,
 * frame tail, stream length, channel. Returns the message's id. */
extern const char cluster_lua_publish[];
/* KEYS: id counter, rooms set. ARGV: room, last id delivered here. */
extern const char cluster_lua_seed[];
/* KEYS: epoch key. ARGV: a fresh epoch. Returns the epoch in force. */
extern const char cluster_lua_epoch[];

/* ARGV: prefix, channel, inst, sid, fold, owner, token. 1, or 0 when
 * another owner holds the nick. */
extern const char cluster_lua_register[];
/* ARGV: prefix, channel, inst, sid, new fold, owner, token, old fold,
 * new nick, old nick, rooms... 1, or 0 when the new nick is taken. */
extern const char cluster_lua_rename[];
/* ARGV: prefix, channel, inst, sid, room, nick, token (0|1; the leave
 * script does not need it). */
extern const char cluster_lua_join[];
extern const char cluster_lua_leave[];
/* ARGV: prefix, channel, inst, sid. Frees the nick Redis records for the
 * session; its rooms are left first (cluster_lua_leave). */
extern const char cluster_lua_bye[];
/* ARGV: prefix, channel, inst, dead after ms, pause ms. Records this
 * instance alive and purges those silent for longer; returns how many. */
extern const char cluster_lua_heartbeat[];
/* ARGV: prefix, channel, inst. Purges inst now (a clean stop). */
extern const char cluster_lua_purge[];
/* ARGV: prefix, channel, inst. Forgets what Redis holds of inst without
 * an event per member (its nicks freed, its members gone), and publishes
 * "reset": inst is about to announce its members afresh, then "synced". */
extern const char cluster_lua_reset[];

#endif
