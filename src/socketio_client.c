/*
 * The bundle's file names and types (see socketio_client.h). A fixed list,
 * not a folder: dist/ may gain files, and only these are the client.
 */
#include "socketio_client.h"

#include <string.h>

#define PREFIX "/socket.io/"
/* lws would call a .map application/octet-stream: a download, not JSON. */
#define JS "application/javascript; charset=utf-8"
#define MAP "application/json; charset=utf-8"

/* What node's socket.io serves: its serveClient pattern is
 * socket.io(.msgpack|.esm)?(.min)?.js(.map)?, and socket.io-client 4.x
 * ships these four builds of it, each with its source map. */
static const struct socketio_client_file files[] = {
	{ "socket.io.js", JS },
	{ "socket.io.js.map", MAP },
	{ "socket.io.min.js", JS },
	{ "socket.io.min.js.map", MAP },
	{ "socket.io.esm.min.js", JS },
	{ "socket.io.esm.min.js.map", MAP },
	{ "socket.io.msgpack.min.js", JS },
	{ "socket.io.msgpack.min.js.map", MAP },
};

const struct socketio_client_file *
socketio_client_find(const char *path)
{
	const char *name;

	if (strncmp(path, PREFIX, sizeof(PREFIX) - 1))
		return NULL;
	name = path + sizeof(PREFIX) - 1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(name, files[i].name))
			return &files[i];
	return NULL;
}
