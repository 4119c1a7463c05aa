#!/usr/bin/python3
"""What docker/test.sh asks a running chatd through its published port, as
a client would: a chat message round trip, the history replayed on join,
the page, a message across the cluster's instances. Prints one line; exits
1 with the reason when the answer is wrong.

  probe.py echo HOST:PORT TEXT     send TEXT to lobby, expect it back
  probe.py history HOST:PORT TEXT  TEXT is in the lobby history on join
  probe.py page HOST:PORT          GET / is 200 text/html with a <title>
  probe.py close HOST:PORT         stays connected until the server closes
                                   the session, which must be with 1001
  probe.py status HOST:PORT PATH CODE  GET PATH answers CODE (and names
                                   the instance behind the balancer)
  probe.py relay HOST:PORT A B TEXT  through the cluster's balancer
                                   (docker/haproxy.cfg): a client pinned
                                   to instance A sends TEXT, one pinned to
                                   B gets it, both with the same id
"""
import asyncio
import json
import sys
import urllib.error
import urllib.request

import websockets
from websockets.exceptions import ConnectionClosed, WebSocketException

TIMEOUT = 10  # seconds for a whole probe
CLOSE_TIMEOUT = 30  # close: for the caller to stop the server


class Wrong(Exception):
    """The server answered, but not what it should have."""


def fail(why):
    print(f"probe: {why}", file=sys.stderr)
    sys.exit(1)


async def frames(ws):
    """JSON frames as they come, bounded by the caller's timeout."""
    while True:
        yield json.loads(await ws.recv())


def connect(addr, query=""):
    return websockets.connect(f"ws://{addr}/chat{query}",
                              subprotocols=["chat"], open_timeout=TIMEOUT)


def check_subprotocol(ws):
    if ws.subprotocol != "chat":
        raise Wrong(f"subprotocol {ws.subprotocol!r}, not 'chat'")


async def join(ws):
    """The welcome frame, once the lobby join it starts is complete."""
    first = None
    async for f in frames(ws):
        if first is None:
            first = f
        # The server joins every new session to the lobby itself; its
        # history frame ends that join (docs/protocol.md).
        if f.get("type") == "history" and f.get("room") == "lobby":
            break
    if first.get("type") != "welcome":
        raise Wrong(f"first frame {first.get('type')!r}, not welcome")
    return first


async def send_own(ws, text, cid):
    """Sends TEXT to the lobby; returns the message as it comes back."""
    await ws.send(json.dumps({"type": "message", "room": "lobby",
                              "text": text, "cid": cid}))
    async for f in frames(ws):
        if f.get("type") == "error":
            raise Wrong(f"error frame: {f}")
        if f.get("type") == "message" and f.get("cid") == cid:
            if f.get("text") != text or f.get("room") != "lobby":
                raise Wrong(f"message came back changed: {f}")
            return f


async def echo(addr, text):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        await join(ws)
        f = await send_own(ws, text, "probe-1")
        return f"echo: message id {f['id']} back from {addr}"


def pinned(addr, instance):
    """A client on one instance: the balancer's ?instance= route."""
    return connect(addr, f"?instance={instance}")


def check_instance(ws, instance):
    """The balancer names the instance that answered the upgrade."""
    got = ws.response_headers.get("X-Chatd-Instance")
    if got != instance:
        raise Wrong(f"pinned to {instance!r}, answered by {got!r}")


async def relay(addr, src, dst, text):
    async with pinned(addr, src) as tx, pinned(addr, dst) as rx:
        for ws, instance in ((tx, src), (rx, dst)):
            check_subprotocol(ws)
            check_instance(ws, instance)
        # Both joined before the send: from then on every lobby
        # message, from any instance, reaches both (docs/protocol.md).
        who = await join(tx)
        await join(rx)
        sent = await send_own(tx, text, "probe-relay")
        async for f in frames(rx):
            if f.get("type") == "error":
                raise Wrong(f"error frame on {dst}: {f}")
            if f.get("type") == "message" and f.get("text") == text:
                if f.get("id") != sent["id"]:
                    raise Wrong(f"id {sent['id']} on {src}, {f.get('id')}"
                                f" on {dst}")
                # The same message: one frame, whichever instance.
                if f != sent or f.get("nick") != who.get("nick"):
                    raise Wrong(f"{src} sent {sent}, {dst} got {f}")
                return (f"relay: message id {sent['id']} sent on {src},"
                        f" received on {dst} with the same id")


async def history(addr, text):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        async for f in frames(ws):
            if f.get("type") == "history" and f.get("room") == "lobby":
                texts = [m.get("text") for m in f.get("messages", [])]
                if text not in texts:
                    raise Wrong(f"{text!r} not in lobby history {texts}")
                return f"history: {text!r} replayed on join"


async def close(addr):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        print("close: connected", flush=True)
        try:
            async for _ in frames(ws):
                pass
        except ConnectionClosed:
            pass
        if ws.close_code != 1001:
            raise Wrong(f"closed with {ws.close_code} {ws.close_reason!r},"
                        " not 1001")
        return f"close: the client got 1001 {ws.close_reason!r}"


def page(addr):
    with urllib.request.urlopen(f"http://{addr}/", timeout=TIMEOUT) as r:
        body = r.read().decode("utf-8", "replace")
        ctype = r.headers.get("Content-Type", "")
        if r.status != 200 or not ctype.startswith("text/html"):
            raise Wrong(f"GET / answered {r.status} {ctype}")
        if "<title>" not in body:
            raise Wrong("GET / has no <title>")
        return f"page: GET / 200 {ctype}, {len(body)} bytes"


def status(addr, path, code):
    try:
        r = urllib.request.urlopen(f"http://{addr}{path}", timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        r = e  # an answer all the same: its code and headers
    with r:
        r.read()
        if r.status != int(code):
            raise Wrong(f"GET {path} answered {r.status}, not {code}")
        instance = r.headers.get("X-Chatd-Instance") or "none"
        return f"status: GET {path} {r.status} (instance {instance})"


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    mode, addr, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    coro = {"echo": echo, "history": history, "close": close,
            "relay": relay}.get(mode)
    if coro is None and mode not in ("page", "status"):
        fail(__doc__)
    try:
        if mode == "page":
            print(page(addr))
            return
        if mode == "status":
            print(status(addr, *args))
            return
        limit = CLOSE_TIMEOUT if mode == "close" else TIMEOUT
        print(asyncio.run(asyncio.wait_for(coro(addr, *args), limit)))
    except Wrong as e:
        fail(f"{mode}: {e}")
    except asyncio.TimeoutError:
        fail(f"{mode}: no answer within {limit} s")
    except (OSError, WebSocketException) as e:
        fail(f"{mode}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
