"""Keep-alive connections of the service's HTTP server: a connection whose next request has
reached the server's socket is not idle, even when the event loop has not read it yet (a busy
loop, reading paused). Closing it then would discard the request, and a socket closed with
unread data is reset: the client sees a failed request it sent in time."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from kwq8.service.server import ConnectionGuard, ServerLimits

REQUEST = b"GET /ping HTTP/1.1\r\nHost: kwq8.test\r\n\r\n"
# Both idle deadlines fire while the second request waits unread.
SHORT = 0.2
# What the event loop reported as failed callbacks (a deadline handler that raised, say).
LOOP_ERRORS: list[str] = []


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def read_response(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n\r\nok"):
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=5)
        if not chunk:
            break
        data += chunk
    return data


async def second_request_arrives_unread(limits: ServerLimits) -> bytes:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: LOOP_ERRORS.append(str(context.get("message"))))
    guard = ConnectionGuard(limits)
    protocol_class = guard.protocol()
    config = uvicorn.Config(
        ok_app, http=protocol_class, lifespan="off", log_config=None, timeout_keep_alive=limits.keep_alive_s
    )
    config.load()
    server_sock, client = socket.socketpair()
    client.setblocking(False)
    guard.admit("unknown")  # as the listening socket's accept() does
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, server_sock)
    try:
        await loop.sock_sendall(client, REQUEST)
        first = await read_response(loop, client)
        assert first.startswith(b"HTTP/1.1 200"), first
        transport.pause_reading()  # the loop is late: what arrives now waits in the kernel
        await loop.sock_sendall(client, REQUEST)
        await asyncio.sleep(SHORT * 3)
        transport.resume_reading()
        try:
            return await read_response(loop, client)
        except ConnectionResetError:
            return b"reset"
    finally:
        transport.close()
        client.close()


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(ServerLimits(header_timeout_s=SHORT, keep_alive_s=60), id="head deadline"),
        pytest.param(ServerLimits(header_timeout_s=60, keep_alive_s=SHORT), id="uvicorn keep-alive timeout"),
    ],
)
def test_a_request_waiting_unread_is_served_not_reset(limits: ServerLimits) -> None:
    LOOP_ERRORS.clear()
    second = asyncio.run(second_request_arrives_unread(limits))
    assert not LOOP_ERRORS
    assert second.startswith(b"HTTP/1.1 200") and second.endswith(b"ok"), second


async def idle_connection_closed(limits: ServerLimits) -> bytes:
    loop = asyncio.get_running_loop()
    guard = ConnectionGuard(limits)
    protocol_class = guard.protocol()
    config = uvicorn.Config(
        ok_app, http=protocol_class, lifespan="off", log_config=None, timeout_keep_alive=limits.keep_alive_s
    )
    config.load()
    server_sock, client = socket.socketpair()
    client.setblocking(False)
    guard.admit("unknown")
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, server_sock)
    try:
        await loop.sock_sendall(client, REQUEST)
        await read_response(loop, client)
        # Nothing more is sent: the connection is idle and closes (an orderly end of stream).
        return await asyncio.wait_for(loop.sock_recv(client, 4096), timeout=5)
    finally:
        transport.close()
        client.close()


def test_an_idle_connection_still_closes() -> None:
    assert asyncio.run(idle_connection_closed(ServerLimits(header_timeout_s=SHORT, keep_alive_s=SHORT))) == b""
