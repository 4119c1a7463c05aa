/*
 * Where chatd finds its web client (and socket.io-client's bundle) and
 * keeps its history when no flag says: places that do not depend on the
 * directory it was started from.
 */
#ifndef CHAT_PATHS_H
#define CHAT_PATHS_H

#include <stddef.h>

/*
 * The web client: <prefix>/share/chatd/www beside an installed binary
 * (found from /proc/self/exe, so any --prefix works), else the source
 * tree's www/ for a binary run from its build folder. Writes the
 * directory's real path to out, or returns -1 with err saying where it
 * looked.
 */
int paths_default_www(char *out, size_t outlen, char *err, size_t errlen);

/*
 * socket.io-client's browser bundle (its dist/ files): the folder
 * <prefix>/share/chatd/socket.io-client beside an installed binary, else
 * the one the build tree's npm ci filled, beside a binary run from its
 * build folder. Writes its real path to out (PATH_MAX bytes at least), or
 * returns -1 with err saying where it looked.
 */
int paths_socketio_client(char *out, size_t outlen, char *err, size_t errlen);

/*
 * The history file: chat.db in $STATE_DIRECTORY (systemd's
 * StateDirectory=), else in $XDG_STATE_HOME/chatd, else in
 * ~/.local/state/chatd, the last two made (0700) when missing. Returns -1
 * with err when none of them can be used.
 */
int paths_default_db(char *out, size_t outlen, char *err, size_t errlen);

#endif
