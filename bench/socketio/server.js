// The classic socket.io chat (socket.io's "get started" demo), the peer
// chatd's benchmark compares against: every 'chat message' goes to everyone.
// Listens on 127.0.0.1:$PORT (0 picks a free port) and prints the same
// ready line as chatd so the runner can start it the same way.
'use strict';
const express = require('express');
const { createServer } = require('node:http');
const { Server } = require('socket.io');

const app = express();
const server = createServer(app);
const io = new Server(server);

app.get('/', (req, res) => {
	res.send('<!doctype html><title>chat</title><ul id="m"></ul>' +
		'<script src="/socket.io/socket.io.js"></script>');
});

io.on('connection', (socket) => {
	socket.on('chat message', (msg) => {
		io.emit('chat message', msg);
	});
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
	const a = server.address();
	process.stderr.write(`listening on http://${a.address}:${a.port}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
