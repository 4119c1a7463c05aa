/*
 * The scripts' text. The prelude's helpers are shared by the scripts
 * that need them: release and claim of a nick, an event, the purge of an
 * instance (its sessions leave their rooms, their nicks are freed).
 */
#include "cluster_lua.h"

#define PRELUDE                                                             \
	"local P, CH = ARGV[1], ARGV[2]\n"                                  \
	"local function ev(t) redis.call('PUBLISH', CH, cjson.encode(t)) end\n" \
	"local function release(fold, owner, token)\n"                      \
	"  if token == '1' then\n"                                          \
	"    if redis.call('HINCRBY', P..'nickrefs', fold, -1) > 0 then\n"  \
	"      return\n"                                                    \
	"    end\n"                                                         \
	"    redis.call('HDEL', P..'nickrefs', fold)\n"                     \
	"  end\n"                                                           \
	"  if redis.call('HGET', P..'nicks', fold) == owner then\n"         \
	"    redis.call('HDEL', P..'nicks', fold)\n"                        \
	"  end\n"                                                           \
	"end\n"                                                             \
	"local function claim(fold, owner, token)\n"                        \
	"  local cur = redis.call('HGET', P..'nicks', fold)\n"              \
	"  if cur and cur ~= owner then return false end\n"                 \
	"  if not cur then redis.call('HSET', P..'nicks', fold, owner) end\n" \
	"  if token == '1' then\n"                                          \
	"    redis.call('HINCRBY', P..'nickrefs', fold, 1)\n"               \
	"  end\n"                                                           \
	"  return true\n"                                                   \
	"end\n"                                                             \
	"local function purge(inst)\n"                                      \
	"  local rk = P..'inst:{'..inst..'}:rooms'\n"                       \
	"  local f = redis.call('HGETALL', rk)\n"                           \
	"  for i = 1, #f, 2 do\n"                                           \
	"    local sid, room = string.match(f[i], '^([^\\31]*)\\31(.*)$')\n" \
	"    redis.call('HDEL', P..'{'..room..'}:members', inst..'\\31'..sid)\n" \
	"    ev({x='leave', inst=inst, sid=sid, room=room, nick=f[i+1]})\n" \
	"  end\n"                                                           \
	"  local sk = P..'inst:{'..inst..'}:sess'\n"                        \
	"  local s = redis.call('HGETALL', sk)\n"                           \
	"  for i = 1, #s, 2 do\n"                                           \
	"    local fold, owner, token =\n"                                  \
	"      string.match(s[i+1], '^([^\\31]*)\\31([^\\31]*)\\31(.*)$')\n" \
	"    release(fold, owner, token)\n"                                 \
	"  end\n"                                                           \
	"  redis.call('DEL', rk, sk)\n"                                     \
	"  redis.call('ZREM', P..'alive', inst)\n"                          \
	"  ev({x='gone', inst=inst})\n"                                     \
	"end\n"

const char cluster_lua_publish[] =
	"local id = redis.call('INCR', KEYS[1])\n"
	"local floor = tonumber(ARGV[2])\n"
	"local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)\n"
	"if #top > 0 then\n"
	"  local t = tonumber(string.match(top[1][1], '^(%d+)'))\n"
	"  if t > floor then floor = t end\n"
	"end\n"
	"if id <= floor then\n"
	"  id = floor + 1\n"
	"  redis.call('SET', KEYS[1], id)\n"
	"end\n"
	"local frame = ARGV[3] .. string.format('%d', id) .. ARGV[4]\n"
	"redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5],\n"
	"           string.format('%d-1', id), 'f', frame)\n"
	"redis.call('SADD', KEYS[3], ARGV[1])\n"
	"redis.call('PUBLISH', ARGV[6], frame)\n"
	"return id\n";

const char cluster_lua_seed[] =
	"local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"if cur < tonumber(ARGV[2]) then\n"
	"  redis.call('SET', KEYS[1], ARGV[2])\n"
	"end\n"
	"redis.call('SADD', KEYS[2], ARGV[1])\n"
	"return cur\n";

const char cluster_lua_epoch[] =
	"redis.call('SET', KEYS[1], ARGV[1], 'NX')\n"
	"return redis.call('GET', KEYS[1])\n";

const char cluster_lua_register[] =
	PRELUDE
	"local inst, sid, fold, owner, token = ARGV[3], ARGV[4], ARGV[5],\n"
	"  ARGV[6], ARGV[7]\n"
	"if not claim(fold, owner, token) then return 0 end\n"
	"redis.call('HSET', P..'inst:{'..inst..'}:sess', sid,\n"
	"  fold..'\\31'..owner..'\\31'..token)\n"
	"return 1\n";

const char cluster_lua_rename[] =
	PRELUDE
	"local inst, sid, fold, owner, token = ARGV[3], ARGV[4], ARGV[5],\n"
	"  ARGV[6], ARGV[7]\n"
	"local old_fold, nick, old = ARGV[8], ARGV[9], ARGV[10]\n"
	"if fold ~= old_fold then\n"
	"  if not claim(fold, owner, token) then return 0 end\n"
	"  release(old_fold, owner, token)\n"
	"end\n"
	"redis.call('HSET', P..'inst:{'..inst..'}:sess', sid,\n"
	"  fold..'\\31'..owner..'\\31'..token)\n"
	"local rooms = {}\n"
	"for i = 11, #ARGV do\n"
	"  rooms[#rooms + 1] = ARGV[i]\n"
	"  redis.call('HSET', P..'{'..ARGV[i]..'}:members', inst..'\\31'..sid,\n"
	"    nick..'\\31'..token)\n"
	"  redis.call('HSET', P..'inst:{'..inst..'}:rooms',\n"
	"    sid..'\\31'..ARGV[i], nick)\n"
	"end\n"
	"ev({x='nick', inst=inst, sid=sid, nick=nick, old=old, rooms=rooms})\n"
	"return 1\n";

const char cluster_lua_join[] =
	PRELUDE
	"local inst, sid, room, nick, tok = ARGV[3], ARGV[4], ARGV[5],\n"
	"  ARGV[6], ARGV[7]\n"
	"redis.call('SADD', P..'rooms', room)\n"
	"redis.call('HSET', P..'{'..room..'}:members', inst..'\\31'..sid,\n"
	"  nick..'\\31'..tok)\n"
	"redis.call('HSET', P..'inst:{'..inst..'}:rooms', sid..'\\31'..room,\n"
	"  nick)\n"
	"ev({x='join', inst=inst, sid=sid, room=room, nick=nick, tok=tok})\n"
	"return 1\n";

const char cluster_lua_leave[] =
	PRELUDE
	"local inst, sid, room, nick = ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
	"redis.call('HDEL', P..'{'..room..'}:members', inst..'\\31'..sid)\n"
	"redis.call('HDEL', P..'inst:{'..inst..'}:rooms', sid..'\\31'..room)\n"
	"ev({x='leave', inst=inst, sid=sid, room=room, nick=nick})\n"
	"return 1\n";

/* What Redis holds for the session is released, not what the caller
 * thinks it holds: a refused registration or a rename still in flight
 * must not free (or count down) a nick the session never got. */
const char cluster_lua_bye[] =
	PRELUDE
	"local inst, sid = ARGV[3], ARGV[4]\n"
	"local sk = P..'inst:{'..inst..'}:sess'\n"
	"local e = redis.call('HGET', sk, sid)\n"
	"if e then\n"
	"  local fold, owner, token =\n"
	"    string.match(e, '^([^\\31]*)\\31([^\\31]*)\\31(.*)$')\n"
	"  release(fold, owner, token)\n"
	"  redis.call('HDEL', sk, sid)\n"
	"end\n"
	"return 1\n";

/* A heartbeat that finds the last look for the dead older than the pause
 * bound was itself held up (Redis, or every instance, stalled): the
 * others' heartbeats were held up too, so nobody is judged until each
 * has had the dead time to beat again. Every heartbeat also publishes a
 * "beat", by which each instance knows its subscription still works. */
const char cluster_lua_heartbeat[] =
	PRELUDE
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local inst, dead, pause = ARGV[3], tonumber(ARGV[4]),\n"
	"  tonumber(ARGV[5])\n"
	"redis.call('ZADD', P..'alive', now, inst)\n"
	"ev({x='beat', inst=inst})\n"
	"local last = tonumber(redis.call('GET', P..'reaped-at') or '0')\n"
	"redis.call('SET', P..'reaped-at', now)\n"
	"if now - last > pause then\n"
	"  redis.call('SET', P..'judge-after', now + dead)\n"
	"  return 0\n"
	"end\n"
	"if now < tonumber(redis.call('GET', P..'judge-after') or '0') then\n"
	"  return 0\n"
	"end\n"
	"local gone = redis.call('ZRANGEBYSCORE', P..'alive', '-inf',\n"
	"  now - dead)\n"
	"for _, d in ipairs(gone) do purge(d) end\n"
	"return #gone\n";

const char cluster_lua_purge[] =
	PRELUDE
	"purge(ARGV[3])\n"
	"return 1\n";

const char cluster_lua_reset[] =
	PRELUDE
	"local inst = ARGV[3]\n"
	"local rk = P..'inst:{'..inst..'}:rooms'\n"
	"local f = redis.call('HGETALL', rk)\n"
	"for i = 1, #f, 2 do\n"
	"  local sid, room = string.match(f[i], '^([^\\31]*)\\31(.*)$')\n"
	"  redis.call('HDEL', P..'{'..room..'}:members', inst..'\\31'..sid)\n"
	"end\n"
	"local sk = P..'inst:{'..inst..'}:sess'\n"
	"local s = redis.call('HGETALL', sk)\n"
	"for i = 1, #s, 2 do\n"
	"  local fold, owner, token =\n"
	"    string.match(s[i+1], '^([^\\31]*)\\31([^\\31]*)\\31(.*)$')\n"
	"  release(fold, owner, token)\n"
	"end\n"
	"redis.call('DEL', rk, sk)\n"
	"ev({x='reset', inst=inst})\n"
	"return 1\n";
