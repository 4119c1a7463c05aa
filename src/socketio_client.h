/*
 * socketio_client: the files of socket.io-client's browser bundle that
 * chatd serves under /socket.io/, as node's socket.io server does (its
 * serveClient option): the plain, minified, ESM and msgpack builds and
 * their source maps, from the npm package's dist/ folder (paths.h finds
 * it; the build fetches it, cmake/SocketioClient.cmake). Pure: no I/O.
 */
#ifndef CHAT_SOCKETIO_CLIENT_H
#define CHAT_SOCKETIO_CLIENT_H

struct socketio_client_file {
	const char *name; /* in dist/, and after /socket.io/ in the URL */
	const char *type; /* Content-Type, as node's server sends it */
};

/*
 * The bundle file a request path (without its query) names, or NULL for
 * any other path, /socket.io/ itself and unknown names under it included.
 * The result is static.
 */
const struct socketio_client_file *socketio_client_find(const char *path);

#endif
