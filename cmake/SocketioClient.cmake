# socket.io-client's browser bundle, which chatd serves at
# /socket.io/socket.io.js (http.c) as node's socket.io server does: the
# dist/ folder of the npm package pinned, with its integrity hash, in
# third_party/socket.io-client/package-lock.json. The build runs `npm ci`
# into the build tree; the repository never holds the package itself.
#
# Sets CHAT_SIO_CLIENT_VERSION, CHAT_SIO_CLIENT_BUILD_DIR (the dist/ folder
# in the build tree; "" when npm is missing) and
# CHAT_SIO_CLIENT_INSTALL_DIR (under the prefix); adds the target
# socketio_client (part of ALL) and the install rules.
#
# Without npm the build still succeeds, with a warning, and chatd serves
# 404 there; test_socketio_client then fails, so CI cannot miss it.

set(sio_src ${PROJECT_SOURCE_DIR}/third_party/socket.io-client)
set(sio_npm_dir ${PROJECT_BINARY_DIR}/socket.io-client)
set(sio_pkg_dir ${sio_npm_dir}/node_modules/socket.io-client)

file(READ ${sio_src}/package.json sio_package_json)
string(REGEX MATCH "\"socket\\.io-client\": *\"([0-9][0-9.]*)\""
	sio_match "${sio_package_json}")
if(NOT CMAKE_MATCH_1)
	message(FATAL_ERROR
		"${sio_src}/package.json: socket.io-client is not pinned to one version")
endif()
set(CHAT_SIO_CLIENT_VERSION ${CMAKE_MATCH_1})
set(CHAT_SIO_CLIENT_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/chatd/socket.io-client)

find_program(NPM npm)
if(NOT NPM)
	message(WARNING "npm not found: chatd is built without socket.io-client's "
		"bundle (/socket.io/socket.io.js will be 404) and "
		"test_socketio_client fails; run scripts/install-deps.sh")
	set(CHAT_SIO_CLIENT_BUILD_DIR "")
	add_custom_target(socketio_client)
	return()
endif()

set(CHAT_SIO_CLIENT_BUILD_DIR ${sio_pkg_dir}/dist)
# A stamp of our own: npm ci empties node_modules first, and a failed run
# must leave nothing that looks finished.
set(sio_stamp ${sio_npm_dir}/npm-ci.stamp)
file(MAKE_DIRECTORY ${sio_npm_dir})
add_custom_command(OUTPUT ${sio_stamp}
	COMMAND ${CMAKE_COMMAND} -E remove -f ${sio_stamp}
	COMMAND ${CMAKE_COMMAND} -E copy ${sio_src}/package.json
		${sio_src}/package-lock.json ${sio_npm_dir}
	# No install scripts run; the lock's integrity hashes are checked.
	COMMAND ${NPM} ci --ignore-scripts --no-audit --no-fund
	COMMAND ${CMAKE_COMMAND} -E touch ${sio_stamp}
	WORKING_DIRECTORY ${sio_npm_dir}
	DEPENDS ${sio_src}/package.json ${sio_src}/package-lock.json
	COMMENT "npm ci: socket.io-client ${CHAT_SIO_CLIENT_VERSION} into ${sio_npm_dir}"
	VERBATIM)
add_custom_target(socketio_client ALL DEPENDS ${sio_stamp})

# Beside www/ (paths.c looks there from the binary's folder), with the
# package's licence, which its MIT terms ask copies to carry.
install(DIRECTORY ${CHAT_SIO_CLIENT_BUILD_DIR}/
	DESTINATION ${CHAT_SIO_CLIENT_INSTALL_DIR})
install(FILES ${sio_pkg_dir}/LICENSE DESTINATION ${CHAT_SIO_CLIENT_INSTALL_DIR})
